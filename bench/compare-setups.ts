import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { request } from 'undici';
import { CHAT_BODY } from './bench-inputs.js';
import { freePort, startServer, type ServerProcess } from './server-process.js';
import { createBudgetedKey } from './vkeys.js';

/**
 * The Smartflow configurations of `npm run bench:compare`, each set up through the admin API of
 * a freshly started gateway (default config: info logging, access log, spend log, metrics) and
 * each adding to the one before: the master key; a virtual key with a monthly budget; policies
 * attached to scopes the request does not match; one PII guardrail that matches a 1 KB prompt.
 * Each `check` proves, before any timing, that the request really takes that path.
 */

/** About 1 KB of user prompt with one email address in it: what the PII guardrail finds and masks. */
const PII_PROMPT = [
  'I am planning a four-day trip to Paris in early October with my partner and two children, aged 9 and 13.',
  'We land at Charles de Gaulle on a Thursday at 10:40 and leave from Gare de Lyon on the Monday evening for Lyon.',
  'Our budget for the stay is about 2,400 euros, not counting the flights, and we would like a hotel near a metro line.',
  'The children like science and history more than art, so please suggest one or two museums that suit them,',
  'and say which ones need tickets booked in advance. We do not want to spend more than an hour a day in queues.',
  'One evening we would like a dinner cruise on the Seine if it is not too expensive; otherwise a picnic by the river.',
  'Please also list what we should pack for the weather at that time of year and a simple plan for each day.',
  'Send the final itinerary to jane.doe@corp.io so that my partner can print it before we leave. Thank you!',
].join(' ');

export const PII_BODY = { ...CHAT_BODY, messages: [CHAT_BODY.messages[0]!, { role: 'user', content: PII_PROMPT }] };

export type BodyKind = 'short' | 'pii-1k';

export function bodyOf(kind: BodyKind, stream: boolean): string {
  const body = kind === 'short' ? CHAT_BODY : PII_BODY;
  return JSON.stringify(stream ? { ...body, stream: true } : body);
}

/**
 * `smartflow serve --config <file>` as `npm start` runs it (bin/smartflow.js, the compiled
 * dist/), pinned to `cpu`, in `dataDir` (its SQLite file and config). The config sets only what
 * the bench needs: the master key, the address, the store path and the fake upstream as the
 * OpenAI provider; everything else is the default (log level info, access log on, spend log,
 * metrics), and the logs go to /dev/null. One worker (`--workers 1`): the comparison is per core,
 * every proxy alone on one; `npm run bench -- --workers` measures the cluster.
 */
export async function startSmartflowServe(repoRoot: string, dataDir: string, upstreamUrl: string, masterKey: string, cpu: number | null, name: string): Promise<ServerProcess> {
  const port = await freePort();
  const config = {
    master_key: masterKey,
    server: { host: '127.0.0.1', port },
    store: { type: 'sqlite', path: join(dataDir, 'smartflow.db') },
    providers: { openai: { type: 'openai', base_url: `${upstreamUrl}/v1`, api_key: 'sk-bench-upstream' } },
    models: [{ name: 'gpt-4o-mini', provider: 'openai', model: 'gpt-4o-mini' }],
  };
  const file = join(dataDir, 'smartflow.yaml');
  // JSON is YAML.
  writeFileSync(file, `${JSON.stringify(config, null, 2)}\n`);
  return startServer({
    name,
    nodeArgs: [join(repoRoot, 'bin', 'smartflow.js'), 'serve', '--config', file, '--workers', '1'],
    cwd: dataDir,
    port,
    cpu,
    readyPath: '/health/liveness',
    ready: (status) => status === 200,
  });
}

export interface SmartflowSetup {
  name: string;
  description: string;
  body: BodyKind;
  /** Set up the gateway; returns the bearer token requests use. */
  prepare(gatewayUrl: string, masterKey: string): Promise<string>;
  /** Checks one answered request took this configuration's path (response headers, spend log). */
  check(gatewayUrl: string, masterKey: string, headers: Record<string, string | string[] | undefined>): Promise<void>;
}

async function admin(gatewayUrl: string, masterKey: string, path: string, body: unknown): Promise<void> {
  const res = await request(`${gatewayUrl}${path}`, { method: 'POST', headers: { authorization: `Bearer ${masterKey}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const text = await res.body.text();
  if (res.statusCode !== 201 && res.statusCode !== 200) throw new Error(`POST ${path} answered ${res.statusCode}: ${text.slice(0, 300)}`);
}

/** Guardrails and policies attached to a team, tags, models and key aliases the bench request does not have. */
async function attachNonMatchingPolicies(url: string, key: string): Promise<void> {
  await admin(url, key, '/api/guardrails', { name: 'other-pii', type: 'pii', mode: 'mask', stage: 'both' });
  await admin(url, key, '/api/guardrails', { name: 'other-injection', type: 'prompt_injection', mode: 'block' });
  await admin(url, key, '/api/guardrails', { name: 'other-hipaa', type: 'compliance', mode: 'block', stage: 'both', config: { rule_sets: ['hipaa'] } });
  await admin(url, key, '/api/policies', { name: 'research', add: ['other-pii', 'other-injection'] });
  await admin(url, key, '/api/policies', { name: 'hipaa', parent: 'research', add: ['other-hipaa'] });
  await admin(url, key, '/api/policies/attachments', { policy: 'research', scope: 'team', pattern: 'research-*' });
  await admin(url, key, '/api/policies/attachments', { policy: 'hipaa', scope: 'tag', pattern: 'hipaa-*' });
  await admin(url, key, '/api/policies/attachments', { policy: 'research', scope: 'model', pattern: 'claude-*' });
  await admin(url, key, '/api/policies/attachments', { policy: 'hipaa', scope: 'key_alias', pattern: 'clinic-*' });
}

function header(headers: Record<string, string | string[] | undefined>, name: string): string {
  const v = headers[name];
  return Array.isArray(v) ? v.join(',') : (v ?? '');
}

function expectBudgetHeader(headers: Record<string, string | string[] | undefined>): void {
  if (!/^\d+\.\d{6}$/.test(header(headers, 'x-smartflow-budget-remaining'))) throw new Error('the virtual key was answered without X-Smartflow-Budget-Remaining: the budget stage did not run');
}

function expectPolicies(headers: Record<string, string | string[] | undefined>, policies: string, guardrails: string): void {
  const p = header(headers, 'x-smartflow-applied-policies');
  const g = header(headers, 'x-smartflow-applied-guardrails');
  if (p !== policies || g !== guardrails) throw new Error(`expected applied policies "${policies}" and guardrails "${guardrails}", got "${p}" and "${g}"`);
}

export const SMARTFLOW_SETUPS: SmartflowSetup[] = [
  {
    name: 'smartflow-default',
    description: 'Smartflow, default config, master key',
    body: 'short',
    prepare: async (_url, masterKey) => masterKey,
    check: async (_url, _key, headers) => {
      if (header(headers, 'x-smartflow-budget-remaining')) throw new Error('the master key was answered with a budget header');
    },
  },
  {
    name: 'smartflow-vkey',
    description: 'Smartflow, + virtual key with a monthly budget',
    body: 'short',
    prepare: async (url, masterKey) => (await createBudgetedKey(url, masterKey)).key,
    check: async (_url, _key, headers) => expectBudgetHeader(headers),
  },
  {
    name: 'smartflow-policies',
    description: 'Smartflow, + policies attached, not matching',
    body: 'short',
    prepare: async (url, masterKey) => {
      await attachNonMatchingPolicies(url, masterKey);
      return (await createBudgetedKey(url, masterKey)).key;
    },
    check: async (_url, _key, headers) => {
      expectBudgetHeader(headers);
      expectPolicies(headers, '', '');
    },
  },
  {
    name: 'smartflow-pii',
    description: 'Smartflow, + one PII guardrail matching a 1 KB prompt',
    body: 'pii-1k',
    prepare: async (url, masterKey) => {
      await attachNonMatchingPolicies(url, masterKey);
      await admin(url, masterKey, '/api/guardrails', { name: 'bench-pii', type: 'pii', mode: 'mask' });
      await admin(url, masterKey, '/api/policies', { name: 'bench', add: ['bench-pii'] });
      // createBudgetedKey names its key "bench".
      await admin(url, masterKey, '/api/policies/attachments', { policy: 'bench', scope: 'key_alias', pattern: 'bench' });
      return (await createBudgetedKey(url, masterKey)).key;
    },
    check: async (url, masterKey, headers) => {
      expectBudgetHeader(headers);
      expectPolicies(headers, 'bench', 'bench-pii');
      // The spend log row says the guardrail masked the email (the route flushes the log first).
      const res = await request(`${url}/api/spend/logs?limit=1`, { headers: { authorization: `Bearer ${masterKey}` } });
      const text = await res.body.text();
      if (res.statusCode !== 200 || !/"guardrail":"bench-pii"[^}]*"action":"mask"/.test(text)) throw new Error(`the spend log shows no mask by bench-pii: ${text.slice(0, 400)}`);
    },
  },
];
