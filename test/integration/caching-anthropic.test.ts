import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { authHeaders, MASTER_KEY, startTestGateway, type TestGateway } from '../helpers/build-app.js';
import { startFakeAnthropic } from '../helpers/fake-anthropic.js';
import type { FakeUpstream } from '../helpers/fake-upstream.js';
import { call, type Res } from '../helpers/http.js';
import { createKey, createTeam } from '../helpers/vkeys.js';

/**
 * The /anthropic cache key holds every input that can change the answer: the body, the
 * `anthropic-*` headers, the query string, and whose Anthropic account made it (BYOK).
 */
describe('/anthropic cache key', () => {
  let fake: FakeUpstream;
  let gw: TestGateway;
  let seq = 0;
  const fresh = (label: string): string => `${label} ${++seq}`;

  before(async () => {
    fake = await startFakeAnthropic();
    gw = await startTestGateway({
      providers: { anthropic: { type: 'anthropic', base_url: fake.url, api_key: 'sk-ant-upstream-secret' } },
      cache: { models: { 'claude-haiku-4-5': { enabled: true } } },
      logging: { level: 'warn' },
    });
  });
  after(async () => {
    await gw.close();
    await fake.close();
  });

  function send(prompt: string, opts: { headers?: Record<string, string>; query?: string } = {}): Promise<Res> {
    return call(`${gw.url}/anthropic/v1/messages${opts.query ?? ''}`, {
      headers: { 'x-api-key': MASTER_KEY, 'content-type': 'application/json', 'anthropic-version': '2023-06-01', ...opts.headers },
      body: { model: 'claude-haiku-4-5', max_tokens: 50, messages: [{ role: 'user', content: prompt }] },
    });
  }

  function status(res: Res): string | undefined {
    assert.equal(res.status, 200, res.text);
    return res.headers['x-smartflow-cache'] as string | undefined;
  }

  test('anthropic-beta: other flags are another entry; the same flags in another order are the same', async () => {
    const prompt = fresh('Beta');
    assert.equal(status(await send(prompt, { headers: { 'anthropic-beta': 'interleaved-thinking-2025-05-14' } })), 'STORED');
    assert.equal(status(await send(prompt)), 'STORED', 'without the beta');
    assert.equal(status(await send(prompt, { headers: { 'anthropic-beta': 'interleaved-thinking-2025-05-14,fine-grained-tool-streaming-2025-05-14' } })), 'STORED');
    assert.equal(status(await send(prompt, { headers: { 'anthropic-beta': 'fine-grained-tool-streaming-2025-05-14, interleaved-thinking-2025-05-14' } })), 'HIT');
    assert.equal(status(await send(prompt, { headers: { 'anthropic-beta': 'interleaved-thinking-2025-05-14' } })), 'HIT');
  });

  test('anthropic-version is part of the key', async () => {
    const prompt = fresh('Version');
    assert.equal(status(await send(prompt)), 'STORED');
    assert.equal(status(await send(prompt, { headers: { 'anthropic-version': '2024-01-01' } })), 'STORED');
    assert.equal(status(await send(prompt)), 'HIT');
  });

  test('the query string (?beta=true) is part of the key', async () => {
    const prompt = fresh('Query');
    assert.equal(status(await send(prompt)), 'STORED');
    assert.equal(status(await send(prompt, { query: '?beta=true' })), 'STORED');
    assert.equal(status(await send(prompt, { query: '?beta=true' })), 'HIT');
    assert.equal(fake.requests.at(-1)!.url, '/v1/messages?beta=true');
  });

  test('BYOK: an answer made with a caller\'s own Anthropic key is that caller\'s alone, whatever its team or pin', async (t) => {
    const byokGw = await startTestGateway({
      providers: { anthropic: { type: 'anthropic', base_url: fake.url, api_key: 'sk-ant-upstream-secret' } },
      cache: { models: { 'claude-haiku-4-5': { enabled: true } } },
      logging: { level: 'warn' },
    });
    t.after(() => byokGw.close());
    await createTeam(byokGw.url, { id: 'shared', name: 'Shared', cache_namespace: 'everyone' });
    const one = await createKey(byokGw.url, { team_id: 'shared', allow_byok: true });
    const two = await createKey(byokGw.url, { team_id: 'shared', allow_byok: true });
    const ask = (gatewayKey: string, ownKey?: string): Promise<Res> =>
      call(`${byokGw.url}/anthropic/v1/messages`, {
        headers: { ...authHeaders(gatewayKey), 'anthropic-version': '2023-06-01', ...(ownKey ? { 'x-api-key': ownKey } : {}) },
        body: { model: 'claude-haiku-4-5', max_tokens: 50, messages: [{ role: 'user', content: 'Whose answer is this?' }] },
      });

    const mine = await ask(one.key, 'sk-ant-caller-one');
    assert.equal(status(mine), 'STORED');
    assert.equal(fake.requests.at(-1)!.headers['x-api-key'], 'sk-ant-caller-one');
    assert.equal(status(await ask(two.key, 'sk-ant-caller-one')), 'STORED', 'another gateway key, even with the same Anthropic key and team');
    assert.equal(status(await ask(two.key, 'sk-ant-caller-two')), 'STORED');
    assert.equal(status(await ask(two.key)), 'STORED', 'the gateway\'s own account does not get a BYOK answer');
    assert.equal(status(await ask(one.key, 'sk-ant-caller-three')), 'STORED', 'another Anthropic key of the same caller');
    const again = await ask(one.key, 'sk-ant-caller-one');
    assert.equal(status(again), 'HIT');
    assert.equal(again.headers['x-smartflow-cache-key'], mine.headers['x-smartflow-cache-key']);
    assert.equal(status(await ask(one.key)), 'HIT', 'the team\'s pinned namespace: shared without BYOK');
    assert.ok(!JSON.stringify((await call(`${byokGw.url}/api/cache/stats`, { headers: authHeaders() })).json).includes('sk-ant-caller'), 'the own key never shows');
  });
});
