import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { compileGuardrail } from '../../../src/guardrails/compile.js';
import { guardrailSchema, type GuardrailDefinition } from '../../../src/guardrails/guardrail-schema.js';
import { effectiveSets } from '../../../src/policies/effective-set.js';
import { policySchema, type Attachment, type PolicyDefinition } from '../../../src/policies/policy-schema.js';
import { PolicySnapshot } from '../../../src/policies/policy-snapshot.js';
import { compileScopePattern } from '../../../src/policies/scope-pattern.js';

const policy = (raw: Record<string, unknown>): PolicyDefinition => policySchema.parse(raw);
const GUARDRAILS = ['pii', 'tox', 'inject', 'hipaa-rules', 'secrets'];

describe('effective sets', () => {
  test('parent + add - remove over three levels', () => {
    const policies = new Map(
      [
        policy({ name: 'org', add: ['pii', 'tox', 'inject'] }),
        policy({ name: 'team', parent: 'org', add: ['secrets'], remove: ['tox'] }),
        policy({ name: 'squad', parent: 'team', add: ['hipaa-rules', 'tox'], remove: ['pii'] }),
      ].map((p) => [p.name, p]),
    );
    const sets = effectiveSets(policies, (g) => GUARDRAILS.includes(g));
    assert.ok(sets instanceof Map);
    assert.deepEqual(sets.get('org'), ['pii', 'tox', 'inject']);
    assert.deepEqual(sets.get('team'), ['pii', 'inject', 'secrets']);
    assert.deepEqual(sets.get('squad'), ['inject', 'secrets', 'hipaa-rules', 'tox']);
  });

  test('cycles are reported with their path', () => {
    const policies = new Map([policy({ name: 'a', parent: 'c' }), policy({ name: 'b', parent: 'a' }), policy({ name: 'c', parent: 'b' })].map((p) => [p.name, p]));
    const problem = effectiveSets(policies, () => true);
    assert.ok(!(problem instanceof Map));
    assert.equal(problem.param, 'parent');
    assert.match(problem.message, /cycle: a -> c -> b -> a/);
    const self = effectiveSets(new Map([['s', policy({ name: 's', parent: 's' })]]), () => true);
    assert.ok(!(self instanceof Map) && /cycle/.test(self.message));
  });

  test('unknown guardrails and parents are reported', () => {
    const unknownGuardrail = effectiveSets(new Map([['a', policy({ name: 'a', add: ['nope'] })]]), (g) => GUARDRAILS.includes(g));
    assert.ok(!(unknownGuardrail instanceof Map) && unknownGuardrail.param === 'add');
    const unknownParent = effectiveSets(new Map([['a', policy({ name: 'a', parent: 'ghost' })]]), () => true);
    assert.ok(!(unknownParent instanceof Map) && unknownParent.param === 'parent');
  });

  test('reserved names are refused', () => {
    assert.equal(policySchema.safeParse({ name: 'attachments' }).success, false);
    assert.equal(policySchema.safeParse({ name: 'resolve' }).success, false);
  });
});

describe('scope patterns', () => {
  test('`*` matches any run of characters, the rest literally', () => {
    assert.equal(compileScopePattern('health-*')('health-eu'), true);
    assert.equal(compileScopePattern('health-*')('wealth-eu'), false);
    assert.equal(compileScopePattern('gpt-*-mini')('gpt-4o-mini'), true);
    assert.equal(compileScopePattern('gpt-4o')('gpt-4o-mini'), false);
    assert.equal(compileScopePattern('a.b')('axb'), false);
    assert.equal(compileScopePattern('*')('anything'), true);
  });
});

describe('resolution', () => {
  const defs: GuardrailDefinition[] = [
    guardrailSchema.parse({ name: 'pii', type: 'pii', mode: 'mask', stage: 'both' }),
    guardrailSchema.parse({ name: 'inject', type: 'prompt_injection', mode: 'block' }),
    guardrailSchema.parse({ name: 'hipaa-rules', type: 'compliance', mode: 'block', stage: 'post', config: { rule_sets: ['hipaa'] } }),
  ];
  const guardrails = new Map(defs.map((d) => [d.name, { definition: d, compiled: compileGuardrail(d), source: 'api' as const }]));
  const policies = new Map(
    [
      { name: 'baseline', effective: ['pii'] },
      { name: 'strict', effective: ['pii', 'inject'] },
      { name: 'hipaa', effective: ['hipaa-rules'] },
    ].map(({ name, effective }) => [name, { definition: policy({ name }), effective, source: 'api' as const }]),
  );
  const attach = (policyName: string, scope: Attachment['scope'], pattern: string): Attachment => ({ id: `${policyName}@${scope}:${pattern}`, policy: policyName, scope, pattern, created_at: 0 });
  const snapshot = new PolicySnapshot(guardrails, policies, [attach('baseline', 'team', 'team-*'), attach('strict', 'key_alias', 'ci-*'), attach('strict', 'model', 'gpt-*'), attach('hipaa', 'tag', 'health-*')]);
  const none = { team: null, key_alias: null, model: null, tags: [] as string[] };

  test('every scope matches with wildcards, and names its source', () => {
    assert.equal(snapshot.resolve({ ...none, team: 'team-eu' }).headers.sources, 'baseline=team:team-*');
    assert.equal(snapshot.resolve({ ...none, key_alias: 'ci-runner' }).headers.sources, 'strict=key_alias:ci-*');
    assert.equal(snapshot.resolve({ ...none, model: 'gpt-4o' }).headers.sources, 'strict=model:gpt-*');
    assert.equal(snapshot.resolve({ ...none, tags: ['x', 'health-eu'] }).headers.sources, 'hipaa=tag:health-*');
    assert.equal(snapshot.resolve({ team: 'other', key_alias: 'prod', model: 'claude', tags: ['wealth'] }).policies.length, 0);
  });

  test('matched policies merge: each guardrail once, with the policies that brought it, split by stage', () => {
    const r = snapshot.resolve({ team: 'team-eu', key_alias: 'ci-1', model: 'gpt-4o', tags: ['health-us'] });
    assert.equal(r.headers.policies, 'baseline,strict,hipaa');
    assert.equal(r.headers.guardrails, 'pii,inject,hipaa-rules');
    assert.deepEqual(r.guardrails.find((g) => g.name === 'pii')?.policies, ['baseline', 'strict']);
    assert.deepEqual(r.pre.map((g) => g.name), ['pii', 'inject']);
    assert.deepEqual(r.post.map((g) => g.name), ['pii', 'hipaa-rules']);
  });

  test('the same context resolves to the same frozen object', () => {
    const a = snapshot.resolve({ ...none, team: 'team-x' });
    assert.equal(snapshot.resolve({ ...none, team: 'team-x' }), a);
    assert.ok(Object.isFrozen(a));
  });

  test('without attachments nothing is resolved', () => {
    const empty = new PolicySnapshot(guardrails, policies, []);
    assert.equal(empty.hasAttachments, false);
    assert.equal(empty.resolve({ ...none, team: 'team-eu' }).guardrails.length, 0);
  });
});
