import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { authHeaders, fakeProviders, startTestGateway, type TestGateway } from '../helpers/build-app.js';
import { startFakeOpenAI, wordsVector } from '../helpers/fake-openai.js';
import type { FakeUpstream } from '../helpers/fake-upstream.js';
import { call, type Res } from '../helpers/http.js';
import { createKey, createTeam } from '../helpers/vkeys.js';

const MODELS = [
  { name: 'm', provider: 'openai', model: 'gpt-4o-mini', input_cost_per_mtok: 10, output_cost_per_mtok: 20 },
  { name: 'm-semantic', provider: 'openai', model: 'gpt-4o-mini' },
  // The fake answers words-* models with bag-of-words vectors: similar wording, similar vectors.
  { name: 'embedder', provider: 'openai', model: 'words-embed', mode: 'embedding', input_cost_per_mtok: 1 },
];

function cosine(a: number[], b: number[]): number {
  let dot = 0;
  for (let i = 0; i < a.length; i++) dot += a[i]! * b[i]!;
  return dot;
}

/** What the gateway embeds: every message as `role: text`. */
const expectedSimilarity = (a: string, b: string): number => cosine(wordsVector(`user: ${a}`, 256), wordsVector(`user: ${b}`, 256));

describe('semantic cache', () => {
  let fake: FakeUpstream;
  let gw: TestGateway;

  before(async () => {
    fake = await startFakeOpenAI();
    gw = await startTestGateway({
      providers: fakeProviders({ openai: fake.url }),
      models: MODELS,
      cache: { enabled: true, semantic: { embedding_model: 'embedder', threshold: 0.85, namespaces: ['faq'], models: ['m-semantic'] } },
      logging: { level: 'warn' },
    });
  });
  after(async () => {
    await gw.close();
    await fake.close();
  });

  const chatCalls = (): number => fake.requests.filter((r) => r.url.startsWith('/v1/chat/completions')).length;

  function ask(prompt: string, opts: { namespace?: string; model?: string; key?: string; extra?: Record<string, unknown> } = {}): Promise<Res> {
    return call(`${gw.url}/v1/chat/completions`, {
      headers: { ...authHeaders(opts.key), ...(opts.namespace ? { 'x-smartflow-cache-namespace': opts.namespace } : {}) },
      body: { model: opts.model ?? 'm', messages: [{ role: 'user', content: prompt }], ...opts.extra },
    });
  }

  test('a similar prompt in an opted-in namespace gets the cached answer with its similarity; an unrelated one does not', async () => {
    const original = 'What is the capital of France?';
    const similar = 'Tell me, what is the capital of France?';
    const stored = await ask(original, { namespace: 'faq' });
    assert.equal(stored.headers['x-smartflow-cache'], 'STORED');
    const calls = chatCalls();

    const hit = await ask(similar, { namespace: 'faq' });
    assert.equal(hit.headers['x-smartflow-cache'], 'HIT');
    assert.equal(hit.headers['x-smartflow-cache-key'], stored.headers['x-smartflow-cache-key'], 'the key of the answer served');
    const similarity = Number(hit.headers['x-smartflow-cache-similarity']);
    assert.ok(Math.abs(similarity - expectedSimilarity(original, similar)) < 1e-4, `similarity ${similarity}`);
    assert.ok(similarity >= 0.85 && similarity < 1);
    assert.equal(hit.json.choices[0].message.content, `Echo: ${original}`);
    assert.equal(chatCalls(), calls, 'no chat call for a semantic hit');

    const exact = await ask(original, { namespace: 'faq' });
    assert.equal(exact.headers['x-smartflow-cache'], 'HIT');
    assert.equal(exact.headers['x-smartflow-cache-similarity'], undefined, 'exact hits report no similarity');

    const unrelated = await ask('How tall is Mount Everest?', { namespace: 'faq' });
    assert.equal(unrelated.headers['x-smartflow-cache'], 'STORED');
    assert.ok(expectedSimilarity(original, 'How tall is Mount Everest?') < 0.85);
  });

  test('never across namespaces, and only where configured', async () => {
    await ask('Which ocean is the largest?', { namespace: 'faq' });
    const elsewhere = await ask('Tell me which ocean is the largest?', { namespace: 'faq-2' });
    assert.equal(elsewhere.headers['x-smartflow-cache'], 'STORED');
    await ask('Which sea is the saltiest?');
    const defaultNamespace = await ask('Tell me which sea is the saltiest?');
    assert.equal(defaultNamespace.headers['x-smartflow-cache'], 'STORED', 'the default namespace is not opted in for model m');
  });

  test('opted in per model: any namespace', async () => {
    await ask('Which planet is the hottest?', { model: 'm-semantic' });
    const hit = await ask('Tell me which planet is the hottest?', { model: 'm-semantic' });
    assert.equal(hit.headers['x-smartflow-cache'], 'HIT');
    assert.ok(Number(hit.headers['x-smartflow-cache-similarity']) >= 0.85);
  });

  test('never with other parameters, and never for a key whose policy differs', async () => {
    await ask('Which river flows through Paris?', { namespace: 'faq' });
    const hotter = await ask('Tell me which river flows through Paris?', { namespace: 'faq', extra: { temperature: 1.5 } });
    assert.equal(hotter.headers['x-smartflow-cache'], 'STORED', 'another temperature is another comparison group');

    // One team: the owner is the same, so only the policy keeps them apart.
    await createTeam(gw.url, { id: 'one-team', name: 'One team' });
    const alike1 = await createKey(gw.url, { team_id: 'one-team', models: ['m'] });
    const alike2 = await createKey(gw.url, { team_id: 'one-team', models: ['m'] });
    const wider = await createKey(gw.url, { team_id: 'one-team', models: ['m', 'm-semantic'] });
    const stored = await ask('Which river flows through Rome?', { namespace: 'faq', key: alike1.key });
    assert.equal(stored.headers['x-smartflow-cache'], 'STORED');
    const other = await ask('Tell me which river flows through Rome?', { namespace: 'faq', key: wider.key });
    assert.equal(other.headers['x-smartflow-cache'], 'STORED', 'a key with another policy');
    // Another wording: the exact entry the other key just stored would otherwise answer first.
    const same = await ask('So which river flows through Rome?', { namespace: 'faq', key: alike2.key });
    assert.equal(same.headers['x-smartflow-cache'], 'HIT', 'a key with the same policy');
    assert.equal(same.headers['x-smartflow-cache-key'], stored.headers['x-smartflow-cache-key']);
    const exact = await ask('Which river flows through Rome?', { namespace: 'faq', key: wider.key });
    assert.equal(exact.headers['x-smartflow-cache'], 'HIT', 'exact matches are shared by every key of the owner');
  });

  test('the embedding calls are in the spend log, as the gateway\'s own, not any key\'s', async () => {
    const logs = await call(`${gw.url}/api/spend/logs?principal=semantic-cache&limit=1000`, { headers: authHeaders() });
    assert.ok(logs.json.data.length > 0);
    for (const row of logs.json.data) {
      assert.equal(row.model, 'embedder');
      assert.equal(row.operation, 'embeddings');
      assert.equal(row.key_id, null);
      assert.ok(row.cost_micros > 0);
    }
    const embedded = fake.requests.filter((r) => r.url.startsWith('/v1/embeddings'));
    assert.equal(embedded.length, logs.json.data.length);
    assert.equal(embedded[0]!.body.model, 'words-embed');
  });
});

describe('semantic cache configuration', () => {
  test('an embedding model that cannot embed stops the start with a configuration error', async () => {
    const fake = await startFakeOpenAI();
    try {
      for (const [model, message] of [
        ['m', /cache\.semantic\.embedding_model: "m" is a chat model, not an embedding model/],
        ['nope', /cache\.semantic\.embedding_model: unknown model "nope"/],
      ] as const) {
        await assert.rejects(
          startTestGateway({ providers: fakeProviders({ openai: fake.url }), models: MODELS, cache: { enabled: true, semantic: { embedding_model: model } }, logging: { level: 'silent' } }),
          (err: Error) => err.name === 'ConfigError' && message.test(err.message),
        );
      }
    } finally {
      await fake.close();
    }
  });
});
