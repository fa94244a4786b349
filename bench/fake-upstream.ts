import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { serveControl } from './protocol.js';

/**
 * The benchmark's upstream: a minimal OpenAI-compatible /v1/chat/completions that answers
 * from precomputed buffers, so it costs as little CPU as node:http allows and the gateway
 * stays the thing being measured. Unlike test/helpers/fake-openai.ts it has no steering,
 * records nothing and does not parse the body: a `"stream":true` substring selects SSE.
 * Run as a child process by bench/run.ts (or by hand: prints one JSON line with its URL).
 */

const CREATED = 1_700_000_000;
const ID = 'chatcmpl-bench0000000000000000000000';
const MODEL = 'gpt-4o-mini-2024-07-18';
const ANSWER = 'Paris is the capital of France. It has been the capital since the 10th century.';
const USAGE = { prompt_tokens: 41, completion_tokens: 19, total_tokens: 60, prompt_tokens_details: { cached_tokens: 0 }, completion_tokens_details: { reasoning_tokens: 0 } };

const JSON_BODY = Buffer.from(
  JSON.stringify({
    id: ID,
    object: 'chat.completion',
    created: CREATED,
    model: MODEL,
    choices: [{ index: 0, message: { role: 'assistant', content: ANSWER, refusal: null }, logprobs: null, finish_reason: 'stop' }],
    usage: USAGE,
    system_fingerprint: 'fp_bench',
  }),
);
const JSON_HEADERS = { 'content-type': 'application/json', 'content-length': String(JSON_BODY.length) };

function chunk(delta: Record<string, unknown>, finish: string | null): string {
  return `data: ${JSON.stringify({ id: ID, object: 'chat.completion.chunk', created: CREATED, model: MODEL, system_fingerprint: 'fp_bench', choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }], usage: null })}\n\n`;
}

/** Role chunk, 9 content chunks, finish chunk, usage chunk, [DONE]: each written separately, as a provider would. */
const SSE_EVENTS: Buffer[] = (() => {
  const words = ANSWER.match(/\S+\s*/g) ?? [ANSWER];
  const pieces: string[] = [];
  const per = Math.ceil(words.length / 9);
  for (let i = 0; i < words.length; i += per) pieces.push(words.slice(i, i + per).join(''));
  const events = [chunk({ role: 'assistant', content: '', refusal: null }, null), ...pieces.map((p) => chunk({ content: p }, null)), chunk({}, 'stop')];
  events.push(`data: ${JSON.stringify({ id: ID, object: 'chat.completion.chunk', created: CREATED, model: MODEL, system_fingerprint: 'fp_bench', choices: [], usage: USAGE })}\n\n`);
  events.push('data: [DONE]\n\n');
  return events.map((e) => Buffer.from(e));
})();
const SSE_HEADERS = { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' };

const NOT_FOUND = Buffer.from(JSON.stringify({ error: { message: 'Unknown path', type: 'invalid_request_error', param: null, code: null } }));

function handle(req: IncomingMessage, res: ServerResponse): void {
  if (req.method !== 'POST' || req.url !== '/v1/chat/completions') {
    req.resume();
    res.writeHead(404, { 'content-type': 'application/json', 'content-length': String(NOT_FOUND.length) });
    res.end(NOT_FOUND);
    return;
  }
  let body = '';
  req.setEncoding('utf8');
  req.on('data', (c: string) => {
    body += c;
  });
  req.on('end', () => {
    if (!body.includes('"stream":true')) {
      res.writeHead(200, JSON_HEADERS);
      res.end(JSON_BODY);
      return;
    }
    res.writeHead(200, SSE_HEADERS);
    const last = SSE_EVENTS.length - 1;
    for (let i = 0; i < last; i++) res.write(SSE_EVENTS[i]);
    res.end(SSE_EVENTS[last]);
  });
}

const server = createServer(handle);
// Longer than any pause between benchmark phases, so clients keep their pooled connections.
server.keepAliveTimeout = 60_000;
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
serveControl({ url }, async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});
