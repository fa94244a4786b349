import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { authHeaders, startTestGateway, type TestGateway } from '../helpers/build-app.js';
import { startFakeAnthropic } from '../helpers/fake-anthropic.js';
import type { FakeUpstream } from '../helpers/fake-upstream.js';
import { call } from '../helpers/http.js';
import { createKey } from '../helpers/vkeys.js';

/**
 * A caller's own Anthropic key (BYOK) is meant for one Anthropic account's endpoint: the provider
 * named by `passthrough.anthropic.byok_provider` (the first `anthropic` provider by default).
 * A fallback target at another base_url (an Anthropic-compatible third party, another proxy)
 * must never receive it, whatever the chain says.
 */

const OWN = 'sk-ant-api03-CALLERS-OWN-KEY-0123456789';
const BODY = { model: 'claude', max_tokens: 5, messages: [{ role: 'user', content: 'hi' }] };

function byokHeaders(gatewayKey: string): Record<string, string> {
  return { authorization: `Bearer ${gatewayKey}`, 'x-api-key': OWN, 'content-type': 'application/json', 'anthropic-version': '2023-06-01' };
}

function chainConfig(primaryUrl: string, otherUrl: string, passthrough: Record<string, unknown>, targets = ['anthropic', 'compat']) {
  return {
    providers: {
      anthropic: { type: 'anthropic', base_url: primaryUrl, api_key: 'sk-ant-upstream-secret' },
      // Another Anthropic-compatible endpoint the operator keeps as a fallback, with its own key.
      compat: { type: 'anthropic', base_url: otherUrl, api_key: 'sk-compat-operator-key' },
    },
    passthrough: { anthropic: { allow_byok: true, ...passthrough } },
    routing: {
      cooldown: { cooldown_ms: 0 },
      fallback_chains: [{ id: 'claude', targets: targets.map((provider) => ({ provider, model: 'claude-haiku-4-5' })), retry: { max_attempts: 1 } }],
    },
    logging: { level: 'warn' },
  };
}

describe('BYOK keys go only to the provider they are meant for', () => {
  let primary: FakeUpstream;
  let other: FakeUpstream;
  before(async () => {
    [primary, other] = await Promise.all([startFakeAnthropic(), startFakeAnthropic()]);
  });
  after(() => Promise.all([primary.close(), other.close()]));

  async function gateway(t: { after: (fn: () => Promise<void>) => void }, passthrough: Record<string, unknown> = {}, targets?: string[]): Promise<TestGateway> {
    primary.reset();
    other.reset();
    const gw = await startTestGateway(chainConfig(primary.url, other.url, passthrough, targets));
    t.after(() => gw.close());
    return gw;
  }

  test('by default a fallback target at another base_url is skipped, not sent the caller\'s key; the real failure is reported', async (t) => {
    const gw = await gateway(t);
    const { key } = await createKey(gw.url, {});
    primary.steer = { status: 500 };
    const res = await call(`${gw.url}/anthropic/v1/messages`, { headers: byokHeaders(key), body: BODY });
    assert.equal(primary.requests[0]?.headers['x-api-key'], OWN, 'the BYOK target gets the caller\'s key');
    assert.equal(other.requests.length, 0, 'the fallback provider "compat" was called');
    assert.equal(res.status, 500, res.text);
    assert.equal(res.json.type, 'error');
    assert.match(res.json.error.message, /1 target skipped: .*compat\/claude-haiku-4-5 skipped: [^;)]*own Anthropic key/);
    assert.equal(res.headers['x-smartflow-attempts'], '1');
    assert.ok(!res.text.includes(OWN));
  });

  test('a chain of only other base_urls answers 403 byok_provider_not_allowed without calling anyone', async (t) => {
    const gw = await gateway(t, {}, ['compat']);
    const { key } = await createKey(gw.url, {});
    const res = await call(`${gw.url}/anthropic/v1/messages`, { headers: byokHeaders(key), body: BODY });
    assert.equal(res.status, 403, res.text);
    assert.equal(res.json.error.type, 'permission_error');
    assert.match(res.json.error.message, /own Anthropic key .*"compat"/);
    assert.equal(other.requests.length + primary.requests.length, 0);
  });

  test('byok_fallback: provider_key calls the fallback with the operator\'s key for it, never the caller\'s', async (t) => {
    const gw = await gateway(t, { byok_fallback: 'provider_key' });
    const { key } = await createKey(gw.url, {});
    primary.steer = { status: 500 };
    const res = await call(`${gw.url}/anthropic/v1/messages`, { headers: byokHeaders(key), body: BODY });
    assert.equal(res.status, 200, res.text);
    assert.equal(primary.requests[0]?.headers['x-api-key'], OWN);
    assert.equal(other.requests.length, 1);
    assert.equal(other.requests[0]!.headers['x-api-key'], 'sk-compat-operator-key');
  });

  test('byok_provider picks the target: the caller\'s key goes there (messages and raw forwards), and only there', async (t) => {
    const gw = await gateway(t, { byok_provider: 'compat' });
    const { key } = await createKey(gw.url, {});
    const res = await call(`${gw.url}/anthropic/v1/messages`, { headers: byokHeaders(key), body: BODY });
    assert.equal(res.status, 200, res.text);
    assert.equal(primary.requests.length, 0, 'the first provider is not the BYOK target: skipped');
    assert.equal(other.requests[0]?.headers['x-api-key'], OWN);
    const counted = await call(`${gw.url}/anthropic/v1/messages/count_tokens`, { headers: byokHeaders(key), body: { model: 'claude-haiku-4-5', messages: BODY.messages } });
    assert.equal(counted.status, 200, counted.text);
    assert.equal(primary.requests.length, 0, 'a raw forward with the caller\'s key goes to the BYOK target');
    assert.equal(other.requests[1]?.headers['x-api-key'], OWN);
    // Without a key of its own the caller is served as before: the first Anthropic provider, with the operator's key.
    const plain = await call(`${gw.url}/anthropic/v1/messages/count_tokens`, { headers: { ...authHeaders(key), 'anthropic-version': '2023-06-01' }, body: { model: 'claude-haiku-4-5', messages: BODY.messages } });
    assert.equal(plain.status, 200, plain.text);
    assert.equal(primary.requests[0]?.headers['x-api-key'], 'sk-ant-upstream-secret');
  });
});
