import assert from 'node:assert/strict';
import { once } from 'node:events';
import { request as httpRequest } from 'node:http';
import { test } from 'node:test';
import { sendSse, startFakeServer } from '../helpers/fake-upstream.js';
import { authHeaders, startTestGateway } from '../helpers/build-app.js';

test('a slow reader of a large stream gets every byte, with no listener build-up on the response', async (t) => {
  const piece = 'x'.repeat(4096);
  const events = Array.from({ length: 600 }, (_, i) => ({
    data: JSON.stringify({ id: 'c', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta: { content: `${i}:${piece}` }, finish_reason: null }] }),
  }));
  events.push({ data: JSON.stringify({ id: 'c', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] }) }, { data: '[DONE]' });
  const upstream = await startFakeServer((_req, s, res) => sendSse(res, events, s));
  const gw = await startTestGateway({ providers: { big: { type: 'openai', base_url: upstream.url } }, models: [{ name: 'big', provider: 'big', model: 'm' }] });
  const warnings: string[] = [];
  const onWarning = (w: Error) => warnings.push(w.name);
  process.on('warning', onWarning);
  t.after(async () => {
    process.off('warning', onWarning);
    await gw.close();
    await upstream.close();
  });

  const { hostname, port } = new URL(gw.url);
  const req = httpRequest({ hostname, port, method: 'POST', path: '/v1/chat/completions', headers: authHeaders() });
  req.end(JSON.stringify({ model: 'big', stream: true, messages: [{ role: 'user', content: 'x' }] }));
  const [res] = (await once(req, 'response')) as [import('node:http').IncomingMessage];
  let text = '';
  // Read in small sips with pauses so the gateway hits backpressure many times.
  for await (const chunk of res) {
    text += chunk;
    res.pause();
    await new Promise((r) => setTimeout(r, 1));
    res.resume();
  }
  assert.equal((text.match(/"content":"\d+:/g) ?? []).length, 600, 'every chunk arrived');
  assert.match(text, /data: \[DONE\]\n\n$/);
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(warnings.filter((w) => w === 'MaxListenersExceededWarning'), []);
});
