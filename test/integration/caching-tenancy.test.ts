import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { authHeaders, fakeProviders, startTestGateway, type TestGateway } from '../helpers/build-app.js';
import { startFakeOpenAI, wordsVector } from '../helpers/fake-openai.js';
import type { FakeUpstream } from '../helpers/fake-upstream.js';
import { call, type Res } from '../helpers/http.js';
import { createKey, createTeam } from '../helpers/vkeys.js';

/**
 * Every cache entry belongs to an owner the server decides (docs/caching.md#who-shares-an-entry):
 * the team by default, the key, or everyone; an admin may pin a key's or team's namespace; a
 * client's namespace only narrows inside its owner.
 */

const MODELS = [
  { name: 'm', provider: 'openai', model: 'gpt-4o-mini', input_cost_per_mtok: 10, output_cost_per_mtok: 20 },
  { name: 'embedder', provider: 'openai', model: 'words-embed', mode: 'embedding', input_cost_per_mtok: 1 },
];
const THRESHOLD = 0.8;

let seq = 0;
/** A prompt no other test uses. */
const fresh = (label: string): string => `${label} number ${++seq}`;

function ask(gw: TestGateway, prompt: string, key?: string, namespace?: string): Promise<Res> {
  return call(`${gw.url}/v1/chat/completions`, {
    headers: { ...authHeaders(key), ...(namespace ? { 'x-smartflow-cache-namespace': namespace } : {}) },
    body: { model: 'm', messages: [{ role: 'user', content: prompt }] },
  });
}

function status(res: Res): string | undefined {
  assert.equal(res.status, 200, res.text);
  return res.headers['x-smartflow-cache'] as string | undefined;
}

async function startGateway(fake: FakeUpstream, cache: Record<string, unknown>): Promise<TestGateway> {
  return startTestGateway({
    providers: fakeProviders({ openai: fake.url }),
    models: MODELS,
    cache: { enabled: true, semantic: { embedding_model: 'embedder', threshold: THRESHOLD, models: ['m'] }, ...cache },
    logging: { level: 'warn' },
  });
}

describe('cache tenancy: the team owns its entries by default', () => {
  let fake: FakeUpstream;
  let gw: TestGateway;
  const keys: Record<string, string> = {};

  before(async () => {
    fake = await startFakeOpenAI();
    gw = await startGateway(fake, {});
    for (const team of ['team-a', 'team-b']) await createTeam(gw.url, { id: team, name: team });
    // Default model lists everywhere: the policy fingerprints of these keys are all equal.
    keys.a1 = (await createKey(gw.url, { team_id: 'team-a' })).key;
    keys.a2 = (await createKey(gw.url, { team_id: 'team-a' })).key;
    keys.b1 = (await createKey(gw.url, { team_id: 'team-b' })).key;
    keys.solo1 = (await createKey(gw.url)).key;
    keys.solo2 = (await createKey(gw.url)).key;
  });
  after(async () => {
    await gw.close();
    await fake.close();
  });

  test('semantic: team B asking about Bob Jones does not get team A\'s answer about Alice Smith', async () => {
    const alice = 'What is the postal address on file for our customer Alice Smith?';
    const bob = 'What is the postal address on file for our customer Bob Jones?';
    const similarity = wordsVector(`user: ${alice}`, 256).reduce((s, x, i) => s + x * wordsVector(`user: ${bob}`, 256)[i]!, 0);
    assert.ok(similarity >= THRESHOLD, `the prompts are similar enough to be a semantic hit (${similarity})`);

    const stored = await ask(gw, alice, keys.a1);
    assert.equal(status(stored), 'STORED');
    const other = await ask(gw, bob, keys.b1);
    assert.equal(status(other), 'STORED', 'another team: a miss, whatever the similarity');
    assert.equal(other.json.choices[0].message.content, `Echo: ${bob}`);
    const sameTeam = await ask(gw, bob, keys.a2);
    assert.equal(status(sameTeam), 'HIT', 'the same team shares its semantic entries');
    assert.equal(sameTeam.headers['x-smartflow-cache-key'], stored.headers['x-smartflow-cache-key']);
  });

  test('exact: shared inside a team, never across teams; a key without a team, and the master key, are their own owners', async () => {
    const prompt = fresh('Exact tenancy');
    assert.equal(status(await ask(gw, prompt, keys.a1)), 'STORED');
    assert.equal(status(await ask(gw, prompt, keys.a2)), 'HIT');
    assert.equal(status(await ask(gw, prompt, keys.b1)), 'STORED');
    assert.equal(status(await ask(gw, prompt, keys.solo1)), 'STORED');
    assert.equal(status(await ask(gw, prompt, keys.solo2)), 'STORED');
    assert.equal(status(await ask(gw, prompt, keys.solo1)), 'HIT');
    assert.equal(status(await ask(gw, prompt)), 'STORED', 'the master key');
    assert.equal(status(await ask(gw, prompt)), 'HIT');
  });

  test('a client namespace narrows inside the owner and never reaches another owner\'s namespace of the same name', async () => {
    const prompt = fresh('Narrowed');
    assert.equal(status(await ask(gw, prompt, keys.a1, 'faq')), 'STORED');
    assert.equal(status(await ask(gw, prompt, keys.b1, 'faq')), 'STORED', 'team B\'s faq is not team A\'s');
    assert.equal(status(await ask(gw, prompt, keys.a2, 'faq')), 'HIT');
    assert.equal(status(await ask(gw, prompt, keys.a2)), 'STORED', 'the team\'s own namespace is not its faq');
    assert.equal(status(await ask(gw, prompt, undefined, 'faq')), 'STORED', 'the master key\'s faq is its own');
  });

  test('statistics and DELETE /api/cache name the owner: deleting a team\'s namespace takes the namespaces narrowed inside it', async () => {
    const prompt = fresh('Owned stats');
    await ask(gw, prompt, keys.b1);
    await ask(gw, prompt, keys.b1, 'docs');
    const stats = await call(`${gw.url}/api/cache/stats`, { headers: authHeaders() });
    const names = stats.json.namespaces.map((n: { namespace: string }) => n.namespace);
    for (const name of ['team/team-a', 'team/team-a/faq', 'team/team-b', 'team/team-b/docs', 'master', 'master/faq']) assert.ok(names.includes(name), `${name} in ${names}`);

    const del = await call(`${gw.url}/api/cache?namespace=team/team-b`, { method: 'DELETE', headers: authHeaders() });
    assert.equal(del.status, 200, del.text);
    assert.equal(del.json.namespace, 'team/team-b');
    assert.ok(del.json.deleted >= 2);
    assert.equal(status(await ask(gw, prompt, keys.b1, 'docs')), 'STORED');
    const bad = await call(`${gw.url}/api/cache?namespace=team/`, { method: 'DELETE', headers: authHeaders() });
    assert.equal(bad.status, 400);
    assert.equal(bad.json.error.param, 'namespace');
  });

  test('an admin pins a key\'s or a team\'s namespace (POST and PATCH); a key\'s pin wins over its team\'s', async () => {
    const prompt = fresh('Pinned');
    await createTeam(gw.url, { id: 'team-c', name: 'C', cache_namespace: 'support' });
    const d = await createTeam(gw.url, { id: 'team-d', name: 'D' });
    assert.equal(d.cache_namespace, null);
    const patched = await call(`${gw.url}/api/teams/team-d`, { method: 'PATCH', headers: authHeaders(), body: { cache_namespace: 'support' } });
    assert.equal(patched.status, 200, patched.text);
    assert.equal(patched.json.cache_namespace, 'support');
    const c1 = (await createKey(gw.url, { team_id: 'team-c' })).key;
    const d1 = (await createKey(gw.url, { team_id: 'team-d' })).key;
    assert.equal(status(await ask(gw, prompt, c1)), 'STORED');
    assert.equal(status(await ask(gw, prompt, d1)), 'HIT', 'two teams pinned to one namespace share it');

    const loner = await createKey(gw.url, { team_id: 'team-a', cache_namespace: 'alone' });
    assert.equal(loner.json.cache_namespace, 'alone');
    const inA = fresh('Team A only');
    assert.equal(status(await ask(gw, inA, keys.a1)), 'STORED');
    assert.equal(status(await ask(gw, inA, loner.key)), 'STORED', 'a key pinned elsewhere does not see its team\'s entries');
    const unpinned = await call(`${gw.url}/api/enterprise/vkeys/${loner.id}`, { method: 'PATCH', headers: authHeaders(), body: { cache_namespace: null } });
    assert.equal(unpinned.json.cache_namespace, null);
    assert.equal(status(await ask(gw, inA, loner.key)), 'HIT', 'unpinned: back in its team');

    const stats = await call(`${gw.url}/api/cache/stats`, { headers: authHeaders() });
    assert.ok(stats.json.namespaces.some((n: { namespace: string }) => n.namespace === 'pin/support'));
    for (const [path, body] of [['/api/enterprise/vkeys', { cache_namespace: 'a b' }], ['/api/teams', { name: 'E', cache_namespace: 'x/y' }]] as const) {
      const res = await call(`${gw.url}${path}`, { headers: authHeaders(), body });
      assert.equal(res.status, 400, res.text);
      assert.equal(res.json.error.param, 'cache_namespace');
    }
  });
});

describe('cache tenancy: cache.scope', () => {
  let fake: FakeUpstream;
  before(async () => {
    fake = await startFakeOpenAI();
  });
  after(async () => {
    await fake.close();
  });

  test('key: every key is its own owner, even inside a team; a team\'s pin still applies', async (t) => {
    const gw = await startGateway(fake, { scope: 'key' });
    t.after(() => gw.close());
    await createTeam(gw.url, { id: 't', name: 'T' });
    await createTeam(gw.url, { id: 'pinned', name: 'P', cache_namespace: 'shared' });
    const [k1, k2, p1, p2] = await Promise.all([
      createKey(gw.url, { team_id: 't' }),
      createKey(gw.url, { team_id: 't' }),
      createKey(gw.url, { team_id: 'pinned' }),
      createKey(gw.url, { team_id: 'pinned' }),
    ]);
    const prompt = fresh('Key scope');
    assert.equal(status(await ask(gw, prompt, k1.key)), 'STORED');
    assert.equal(status(await ask(gw, prompt, k2.key)), 'STORED');
    assert.equal(status(await ask(gw, prompt, k1.key)), 'HIT');
    assert.equal(status(await ask(gw, prompt, p1.key)), 'STORED');
    assert.equal(status(await ask(gw, prompt, p2.key)), 'HIT');
  });

  test('global: every caller shares, across teams and with the master key', async (t) => {
    const gw = await startGateway(fake, { scope: 'global' });
    t.after(() => gw.close());
    await createTeam(gw.url, { id: 'x', name: 'X' });
    await createTeam(gw.url, { id: 'y', name: 'Y' });
    const kx = (await createKey(gw.url, { team_id: 'x' })).key;
    const ky = (await createKey(gw.url, { team_id: 'y' })).key;
    const prompt = fresh('Global scope');
    assert.equal(status(await ask(gw, prompt, kx)), 'STORED');
    assert.equal(status(await ask(gw, prompt, ky)), 'HIT');
    assert.equal(status(await ask(gw, prompt)), 'HIT');
  });

  test('a scope the gateway does not know stops the start', async () => {
    await assert.rejects(startGateway(fake, { scope: 'tenant' }), /cache\.scope/);
  });
});
