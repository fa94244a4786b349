import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import OpenAI from 'openai';
import { startFakeGemini } from '../helpers/fake-gemini.js';
import { startFakeOpenAI } from '../helpers/fake-openai.js';
import { startFakeAnthropic } from '../helpers/fake-anthropic.js';
import type { FakeUpstream } from '../helpers/fake-upstream.js';
import { fakeProviders, MASTER_KEY, startTestGateway, type TestGateway } from '../helpers/build-app.js';

/**
 * The official openai SDK asks for `encoding_format: "base64"` unless told otherwise and decodes
 * the answer as little-endian float32. Every provider type must answer in the encoding asked for.
 */
describe('embeddings: the openai SDK default (base64) against every provider type', () => {
  let openaiFake: FakeUpstream;
  let geminiFake: FakeUpstream;
  let anthropicFake: FakeUpstream;
  let gw: TestGateway;
  let client: OpenAI;

  before(async () => {
    [openaiFake, geminiFake, anthropicFake] = await Promise.all([startFakeOpenAI(), startFakeGemini(), startFakeAnthropic()]);
    gw = await startTestGateway({
      providers: { ...fakeProviders({ openai: openaiFake.url, gemini: geminiFake.url, anthropic: anthropicFake.url }), demo: { type: 'demo' } },
      models: [
        // The fake OpenAI upstream answers floats whatever encoding_format says, like several OpenAI-compatible servers.
        { name: 'text-embedding-3-small', provider: 'openai', model: 'text-embedding-3-small' },
        { name: 'gemini-embedding-001', provider: 'google', model: 'gemini-embedding-001', mode: 'embedding' },
        { name: 'claude-haiku-4-5', provider: 'anthropic', model: 'claude-haiku-4-5' },
      ],
    });
    client = new OpenAI({ apiKey: MASTER_KEY, baseURL: `${gw.url}/v1`, maxRetries: 0 });
  });

  after(async () => {
    await gw.close();
    await Promise.all([openaiFake.close(), geminiFake.close(), anthropicFake.close()]);
  });

  const cases = [
    { type: 'openai (passthrough)', model: 'text-embedding-3-small', dims: 8 },
    { type: 'gemini (translated)', model: 'gemini-embedding-001', dims: 8 },
    { type: 'demo', model: 'demo-embed', dims: 16 },
  ];
  for (const c of cases) {
    test(`${c.type}: the SDK's default call decodes the same vectors as an explicit float call`, async () => {
      const input = ['first text', 'second text'];
      const floats = await client.embeddings.create({ model: c.model, input, encoding_format: 'float' });
      const decoded = await client.embeddings.create({ model: c.model, input });
      assert.equal(decoded.data.length, 2);
      for (const [i, d] of decoded.data.entries()) {
        const expected = floats.data[i]!.embedding;
        assert.ok(Array.isArray(expected) && typeof expected[0] === 'number', 'an explicit float call answers numbers');
        assert.equal(d.embedding.length, c.dims, 'vector length');
        assert.equal(expected.length, c.dims);
        // base64 carries float32: equal to the float answer within float32 precision.
        d.embedding.forEach((v, j) => assert.ok(Math.abs(v - expected[j]!) < 1e-6, `value ${j}: ${v} vs ${expected[j]}`));
      }
      assert.notDeepEqual(decoded.data[0]!.embedding, decoded.data[1]!.embedding);
    });

    test(`${c.type}: encoding_format base64 answers little-endian float32 in base64`, async () => {
      const res = await fetch(`${gw.url}/v1/embeddings`, {
        method: 'POST',
        headers: { authorization: `Bearer ${MASTER_KEY}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: c.model, input: 'hello', encoding_format: 'base64' }),
      });
      assert.equal(res.status, 200);
      const body = (await res.json()) as { data: Array<{ embedding: unknown }> };
      const b64 = body.data[0]!.embedding;
      assert.equal(typeof b64, 'string');
      assert.equal(Buffer.from(b64 as string, 'base64').length, c.dims * 4);
    });
  }

  test('anthropic has no embeddings API: a clear 400 through the SDK, not garbage', async () => {
    const err = await client.embeddings.create({ model: 'claude-haiku-4-5', input: 'x' }).catch((e: unknown) => e);
    assert.ok(err instanceof OpenAI.APIError);
    assert.equal(err.status, 400);
    assert.match(err.message, /claude-haiku-4-5.*a chat model/);
  });
});
