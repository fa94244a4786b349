import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { authHeaders, fakeProviders, MASTER_KEY, startTestGateway, type TestGateway } from '../helpers/build-app.js';
import { startFakeAnthropic } from '../helpers/fake-anthropic.js';
import { startFakeOpenAI } from '../helpers/fake-openai.js';
import type { FakeUpstream } from '../helpers/fake-upstream.js';
import { call } from '../helpers/http.js';
import { createKey } from '../helpers/vkeys.js';

/** Account details OpenAI, Anthropic and Azure write into their error messages. */
const ORG = 'org-Q1w2E3r4T5y6U7i8O9p0AsDf';
const PROJECT = 'proj_Zx9Cv8Bn7Ma6Sd5Fg4Hj3Kl2';
const USER = 'user-Abc123Def456Ghi789Jkl0';
const KEY_FRAGMENT = 'sk-proj-****************************************Xy7Z';
const SUBSCRIPTION = '0b1f6471-1bf0-4dda-aec3-cb9272f09590';
const UPSTREAM_MESSAGE = `Rate limit reached for gpt-4o-mini in organization ${ORG} (project ${PROJECT}, ${USER}) on requests per min. Key ${KEY_FRAGMENT}. Resource /subscriptions/${SUBSCRIPTION}/resourceGroups/acme-prod-rg/providers/Microsoft.CognitiveServices/accounts/acme-openai at https://acme-openai.openai.azure.com.`;
const SECRETS = [ORG, PROJECT, USER, KEY_FRAGMENT, SUBSCRIPTION, 'acme-prod-rg', 'acme-openai'];

describe('upstream error text reaches clients without account identifiers', () => {
  let openai: FakeUpstream;
  let anthropic: FakeUpstream;
  let gw: TestGateway;
  before(async () => {
    [openai, anthropic] = await Promise.all([startFakeOpenAI(), startFakeAnthropic()]);
    gw = await startTestGateway({ providers: fakeProviders({ openai: openai.url, anthropic: anthropic.url }), logging: { level: 'warn' } });
  });
  after(async () => {
    await gw.close();
    await Promise.all([openai.close(), anthropic.close()]);
  });

  test('an OpenAI 429 on /v1 keeps its meaning, not the operator\'s org, project, user, key or Azure ids', async () => {
    openai.queue.push({ status: 429, errorMessage: UPSTREAM_MESSAGE });
    const res = await call(`${gw.url}/v1/chat/completions`, { headers: authHeaders(), body: { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] } });
    assert.equal(res.status, 429);
    assert.match(res.json.error.message, /^Rate limit reached for gpt-4o-mini in organization org-\[REDACTED\]/);
    for (const secret of SECRETS) assert.ok(!res.text.includes(secret), `${secret} leaked: ${res.text}`);
  });

  test('an Anthropic error on /anthropic is scrubbed the same way', async () => {
    anthropic.queue.push({ status: 529, errorMessage: `Overloaded for ${ORG}; key ${KEY_FRAGMENT}` });
    const res = await call(`${gw.url}/anthropic/v1/messages`, { headers: authHeaders(), body: { model: 'claude-haiku-4-5', max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] } });
    assert.equal(res.status, 529, res.text);
    assert.equal(res.json.error.type, 'overloaded_error');
    for (const secret of [ORG, KEY_FRAGMENT]) assert.ok(!res.text.includes(secret), `${secret} leaked: ${res.text}`);
  });
});

/** Anthropic names the organization (and sometimes workspace) by UUID in its rate-limit errors, in two shapes. */
const ANTHROPIC_ORG = 'c26fc127-ba09-49d3-a086-a2f26380d5e7';
const ANTHROPIC_WORKSPACE = 'wrkspc_01AbCdEfGhJkMnPqRsTvWxYz';
const ANTHROPIC_MESSAGES = [
  `This request would exceed the rate limit for your organization (${ANTHROPIC_ORG}) of 30,000 input tokens per minute. For details, refer to: https://docs.claude.com/en/api/rate-limits.`,
  `This request would exceed your organization's rate limit of 30,000 input tokens per minute (org: ${ANTHROPIC_ORG}, model: claude-sonnet-4-5). For details, refer to: https://docs.claude.com/en/api/rate-limits.`,
  `Workspace ${ANTHROPIC_WORKSPACE} of organization ${ANTHROPIC_ORG} has reached its spend limit.`,
];

describe('Anthropic organization and workspace ids never reach a virtual key', () => {
  let anthropic: FakeUpstream;
  let gw: TestGateway;
  before(async () => {
    anthropic = await startFakeAnthropic();
    gw = await startTestGateway({ providers: fakeProviders({ anthropic: anthropic.url }), routing: { cooldown: { cooldown_ms: 0 } }, logging: { level: 'warn' } });
  });
  after(async () => {
    await gw.close();
    await anthropic.close();
  });

  const ask = {
    '/v1/chat/completions': (key: string) => call(`${gw.url}/v1/chat/completions`, { headers: authHeaders(key), body: { model: 'claude-haiku-4-5', max_tokens: 5, messages: [{ role: 'user', content: 'hi' }] } }),
    '/anthropic/v1/messages': (key: string) =>
      call(`${gw.url}/anthropic/v1/messages`, { headers: { 'x-api-key': key, 'content-type': 'application/json', 'anthropic-version': '2023-06-01' }, body: { model: 'claude-haiku-4-5', max_tokens: 5, messages: [{ role: 'user', content: 'hi' }] } }),
    '/v1/responses': (key: string) => call(`${gw.url}/v1/responses`, { headers: authHeaders(key), body: { model: 'claude-haiku-4-5', max_output_tokens: 5, input: 'hi' } }),
    // A raw forward: the answer passes through untouched, but for account ids in an error.
    '/anthropic/v1/messages/count_tokens': (key: string) =>
      call(`${gw.url}/anthropic/v1/messages/count_tokens`, { headers: { 'x-api-key': key, 'content-type': 'application/json', 'anthropic-version': '2023-06-01' }, body: { model: 'claude-haiku-4-5', messages: [{ role: 'user', content: 'hi' }] } }),
  };

  for (const [surface, send] of Object.entries(ask)) {
    test(`an Anthropic 429 on ${surface} keeps its meaning without the organization or workspace id`, async () => {
      const { key } = await createKey(gw.url, {});
      for (const message of ANTHROPIC_MESSAGES) {
        anthropic.queue.push({ status: 429, errorMessage: message });
        const res = await send(key);
        assert.equal(res.status, 429, res.text);
        assert.match(res.text, /rate limit|spend limit/);
        for (const secret of [ANTHROPIC_ORG, ANTHROPIC_WORKSPACE]) assert.ok(!res.text.includes(secret), `${surface}: ${secret} leaked: ${res.text}`);
      }
    });
  }
});

describe('who may read /metrics', () => {
  const TOKEN = 'metrics-token-0123456789abcdef';
  let openai: FakeUpstream;
  before(async () => {
    openai = await startFakeOpenAI();
  });
  after(() => openai.close());

  async function keyFor(gw: TestGateway): Promise<string> {
    const created = await call(`${gw.url}/api/enterprise/vkeys`, { headers: authHeaders(), body: {} });
    assert.equal(created.status, 201, created.text);
    return created.json.key;
  }
  const scrape = (gw: TestGateway, key?: string) => call(`${gw.url}/metrics`, key === undefined ? {} : { headers: { authorization: `Bearer ${key}` } });

  test('by default only admins: no key is 401, a virtual key 403, the master key 200', async (t) => {
    const gw = await startTestGateway({ providers: fakeProviders({ openai: openai.url }), logging: { level: 'warn' } });
    t.after(() => gw.close());
    const none = await scrape(gw);
    assert.equal(none.status, 401, none.text);
    assert.equal(none.json.error.code, 'missing_api_key');
    assert.doesNotMatch(none.text, /smartflow_/);
    const vkey = await scrape(gw, await keyFor(gw));
    assert.equal(vkey.status, 403, vkey.text);
    assert.equal(vkey.json.error.code, 'forbidden');
    const admin = await scrape(gw, MASTER_KEY);
    assert.equal(admin.status, 200);
    assert.match(admin.text, /smartflow_requests_total|# HELP smartflow_/);
  });

  test('with a metrics token (the default mode once one is set): the token or the master key, nothing else', async (t) => {
    const gw = await startTestGateway({ providers: fakeProviders({ openai: openai.url }), logging: { level: 'warn' }, metrics: { token: TOKEN } });
    t.after(() => gw.close());
    assert.equal((await scrape(gw, TOKEN)).status, 200);
    assert.equal((await scrape(gw, MASTER_KEY)).status, 200);
    assert.equal((await scrape(gw, `${TOKEN}x`)).status, 401);
    assert.equal((await scrape(gw)).status, 401);
    assert.equal((await scrape(gw, await keyFor(gw))).status, 403);
    // The metrics token is for /metrics only.
    const chat = await call(`${gw.url}/v1/chat/completions`, { headers: { ...authHeaders(), authorization: `Bearer ${TOKEN}` }, body: { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] } });
    assert.equal(chat.status, 401);
  });

  test('master_key ignores a configured token; open lets anyone read', async (t) => {
    const strict = await startTestGateway({ providers: fakeProviders({ openai: openai.url }), logging: { level: 'warn' }, metrics: { auth: 'master_key', token: TOKEN } });
    t.after(() => strict.close());
    assert.equal((await scrape(strict, TOKEN)).status, 401);
    assert.equal((await scrape(strict, MASTER_KEY)).status, 200);
    const open = await startTestGateway({ providers: fakeProviders({ openai: openai.url }), logging: { level: 'warn' }, metrics: { auth: 'open' } });
    t.after(() => open.close());
    assert.equal((await scrape(open)).status, 200);
  });
});

describe('/v1/models shows a virtual key what it may call, and prices only to admins', () => {
  let openai: FakeUpstream;
  let anthropic: FakeUpstream;
  let gw: TestGateway;
  before(async () => {
    [openai, anthropic] = await Promise.all([startFakeOpenAI(), startFakeAnthropic()]);
    gw = await startTestGateway({
      providers: fakeProviders({ openai: openai.url, anthropic: anthropic.url }),
      logging: { level: 'warn' },
      models: [{ name: 'house-model', provider: 'openai', model: 'gpt-4o-mini', input_cost_per_mtok: 1, output_cost_per_mtok: 2 }],
      routing: { fallback_chains: [{ id: 'resilient', models: ['assistant'], targets: [{ provider: 'openai', model: 'gpt-4o-mini' }, { provider: 'anthropic', model: 'claude-haiku-4-5' }] }] },
    });
  });
  after(async () => {
    await gw.close();
    await Promise.all([openai.close(), anthropic.close()]);
  });

  test('a key sees exactly its models, chains included, without upstream ids or prices', async () => {
    const created = await call(`${gw.url}/api/enterprise/vkeys`, { headers: authHeaders(), body: { models: ['house-model', 'assistant'] } });
    assert.equal(created.status, 201, created.text);
    const key = created.json.key;
    const list = await call(`${gw.url}/v1/models`, { headers: authHeaders(key) });
    assert.equal(list.status, 200, list.text);
    assert.deepEqual(list.json.data.map((m: any) => m.id).sort(), ['assistant', 'house-model']);
    assert.doesNotMatch(list.text, /price_per_mtok|upstream_model|gpt-4o-mini|claude-haiku/);
    const house = list.json.data.find((m: any) => m.id === 'house-model');
    assert.equal(house.smartflow.mode, 'chat');
    const one = await call(`${gw.url}/v1/models/house-model`, { headers: authHeaders(key) });
    assert.equal(one.status, 200);
    assert.equal(one.json.smartflow.price_per_mtok, undefined);
    assert.equal(one.json.smartflow.upstream_model, undefined);
    const chain = await call(`${gw.url}/v1/models/assistant`, { headers: authHeaders(key) });
    assert.equal(chain.status, 200, chain.text);
    assert.equal(chain.json.smartflow.fallback_chain, 'resilient');
    // What the list shows can be called.
    for (const id of ['house-model', 'assistant']) {
      const res = await call(`${gw.url}/v1/chat/completions`, { headers: authHeaders(key), body: { model: id, messages: [{ role: 'user', content: 'hi' }] } });
      assert.equal(res.status, 200, `${id}: ${res.text}`);
    }
  });

  test('the master key sees where each model is served from and its prices', async () => {
    const list = await call(`${gw.url}/v1/models`, { headers: authHeaders() });
    const house = list.json.data.find((m: any) => m.id === 'house-model');
    assert.equal(house.smartflow.upstream_model, 'gpt-4o-mini');
    assert.deepEqual(house.smartflow.price_per_mtok.input, 1);
    assert.ok(list.json.data.some((m: any) => m.id === 'resilient' && m.smartflow.fallback_chain === 'resilient'));
  });
});
