import { randomUUID } from 'node:crypto';
import { responses } from './fake-openai-responses.js';
import { fakeAnswer, fakeTokens, sendJson, sendSse, splitForStream, startFakeServer, type FakeUpstream, type RecordedRequest, type Steering } from './fake-upstream.js';

/**
 * A fake OpenAI-compatible upstream speaking the real wire format: /v1/chat/completions
 * (JSON and SSE, tool calls steered by x-fake-tool / x-fake-tool-args / x-fake-always-tool, stream_options.include_usage), /v1/responses (fake-openai-responses.ts), /v1/embeddings (bag-of-words
 * vectors for `words-*` models), /v1/models, and OpenAI error bodies. Steered as described in
 * fake-upstream.ts.
 */

const ERROR_TYPES: Record<number, { type: string; code: string | null }> = {
  400: { type: 'invalid_request_error', code: null },
  401: { type: 'invalid_request_error', code: 'invalid_api_key' },
  403: { type: 'invalid_request_error', code: 'unsupported_country_region_territory' },
  404: { type: 'invalid_request_error', code: 'model_not_found' },
  429: { type: 'requests', code: 'rate_limit_exceeded' },
  500: { type: 'server_error', code: null },
  503: { type: 'server_error', code: null },
};

function sendError(res: Parameters<typeof sendJson>[0], s: Steering, status: number): void {
  const t = ERROR_TYPES[status] ?? { type: status >= 500 ? 'server_error' : 'invalid_request_error', code: null };
  const headers: Record<string, string> = {};
  if (s.retryAfter !== undefined) headers['retry-after'] = s.retryAfter;
  if (status === 429) Object.assign(headers, { 'x-ratelimit-limit-requests': '60', 'x-ratelimit-remaining-requests': '0' });
  sendJson(res, status, { error: { message: s.errorMessage ?? `Fake OpenAI error ${status}`, type: t.type, param: null, code: s.errorCode ?? t.code } }, headers);
}

function lastUserText(messages: any[]): string {
  for (let i = messages.length - 1; i >= 0; i--) {
    const m = messages[i];
    if (m?.role !== 'user') continue;
    if (typeof m.content === 'string') return m.content;
    if (Array.isArray(m.content)) return m.content.filter((p: any) => p.type === 'text').map((p: any) => p.text).join(' ');
  }
  return '';
}

function promptTokens(body: any): number {
  return fakeTokens(JSON.stringify(body.messages ?? body.input ?? ''));
}

function chat(req: RecordedRequest, s: Steering, res: Parameters<typeof sendJson>[0]): Promise<void> | void {
  const body = req.body;
  const id = `chatcmpl-${randomUUID()}`;
  const created = 1_700_000_000;
  const model = body.model;
  const last = body.messages?.[body.messages.length - 1];
  const tools: any[] = body.tools ?? [];
  const tool = s.toolName === undefined ? tools[0] : tools.find((t) => t.function?.name === s.toolName);
  const callTool = tool && (last?.role === 'user' || (s.alwaysTool && last?.role === 'tool')) && body.tool_choice !== 'none' && !s.noToolCall;
  const text = last?.role === 'tool' ? `Tool said: ${typeof last.content === 'string' ? last.content : JSON.stringify(last.content)}` : fakeAnswer(lastUserText(body.messages ?? []));
  const args = s.toolArgs ?? JSON.stringify({ query: lastUserText(body.messages ?? []) });
  const prompt = s.inputTokens ?? promptTokens(body);
  const completion = callTool ? fakeTokens(args) : fakeTokens(text);
  const usage = { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion, prompt_tokens_details: { cached_tokens: 0 } };
  const finish = callTool ? 'tool_calls' : 'stop';

  if (!body.stream) {
    const message = callTool
      ? { role: 'assistant', content: null, tool_calls: [{ id: 'call_fake_1', type: 'function', function: { name: tool.function.name, arguments: args } }], refusal: null }
      : { role: 'assistant', content: text, refusal: null };
    sendJson(res, 200, { id, object: 'chat.completion', created, model, choices: [{ index: 0, message, logprobs: null, finish_reason: finish }], ...(s.noUsage ? {} : { usage }), system_fingerprint: 'fp_fake' });
    return;
  }
  const includeUsage = body.stream_options?.include_usage === true && !s.noUsage;
  const chunk = (delta: any, finish_reason: string | null = null) => ({
    id,
    object: 'chat.completion.chunk',
    created,
    model,
    system_fingerprint: 'fp_fake',
    choices: [{ index: 0, delta, logprobs: null, finish_reason }],
    ...(includeUsage ? { usage: null } : {}),
  });
  const events: Array<{ data: string }> = [{ data: JSON.stringify(chunk({ role: 'assistant', content: '', refusal: null })) }];
  if (callTool) {
    events.push({ data: JSON.stringify(chunk({ tool_calls: [{ index: 0, id: 'call_fake_1', type: 'function', function: { name: tool.function.name, arguments: '' } }] })) });
    for (const piece of args.match(/.{1,8}/g) ?? []) events.push({ data: JSON.stringify(chunk({ tool_calls: [{ index: 0, function: { arguments: piece } }] })) });
  } else {
    for (const piece of splitForStream(text)) events.push({ data: JSON.stringify(chunk({ content: piece })) });
  }
  events.push({ data: JSON.stringify(chunk({}, finish)) });
  if (includeUsage) events.push({ data: JSON.stringify({ id, object: 'chat.completion.chunk', created, model, system_fingerprint: 'fp_fake', choices: [], usage }) });
  events.push({ data: '[DONE]' });
  return sendSse(res, events, s);
}

/**
 * Bag-of-words unit vector: each lower-cased word adds 1 to one of `dims` buckets (FNV-1a hash).
 * Texts sharing most words are close, unrelated texts far apart, so semantic caching can be tested.
 */
export function wordsVector(text: string, dims: number): number[] {
  const v = new Array<number>(dims).fill(0);
  for (const word of text.toLowerCase().match(/[a-z0-9]+/g) ?? []) {
    let h = 2166136261;
    for (let i = 0; i < word.length; i++) h = Math.imul(h ^ word.charCodeAt(i), 16777619);
    v[(h >>> 0) % dims]! += 1;
  }
  const norm = Math.hypot(...v) || 1;
  return v.map((x) => x / norm);
}

function embeddings(req: RecordedRequest, res: Parameters<typeof sendJson>[0]): void {
  const inputs: unknown[] = Array.isArray(req.body.input) && typeof req.body.input[0] !== 'number' ? req.body.input : [req.body.input];
  // Models named words-* answer with bag-of-words vectors; every other model with the original character codes.
  const words = String(req.body.model).startsWith('words-');
  const dims = req.body.dimensions ?? (words ? 256 : 8);
  const data = inputs.map((input, index) => {
    const text = typeof input === 'string' ? input : JSON.stringify(input);
    if (words) return { object: 'embedding', index, embedding: wordsVector(text, dims) };
    return { object: 'embedding', index, embedding: Array.from({ length: dims }, (_, i) => ((text.charCodeAt(i % Math.max(1, text.length)) || 0) % 100) / 100) };
  });
  const tokens = inputs.reduce<number>((n, i) => n + fakeTokens(typeof i === 'string' ? i : JSON.stringify(i)), 0);
  sendJson(res, 200, { object: 'list', data, model: req.body.model, usage: { prompt_tokens: tokens, total_tokens: tokens } });
}

export async function startFakeOpenAI(options: { apiKey?: string } = {}): Promise<FakeUpstream> {
  return startFakeServer((req, s, res) => {
    if (options.apiKey && req.headers.authorization !== `Bearer ${options.apiKey}`) {
      return sendError(res, { errorMessage: 'Incorrect API key provided: sk-fak***' }, 401);
    }
    if (s.status !== undefined && s.status >= 400) return sendError(res, s, s.status);
    const path = req.url.split('?')[0];
    if (req.method === 'POST' && path === '/v1/chat/completions') return chat(req, s, res);
    if (req.method === 'POST' && path === '/v1/responses') return responses(req, s, res);
    if (req.method === 'POST' && path === '/v1/embeddings') return embeddings(req, res);
    if (req.method === 'GET' && path === '/v1/models') return sendJson(res, 200, { object: 'list', data: [{ id: 'gpt-4o-mini', object: 'model', created: 0, owned_by: 'openai' }] });
    return sendError(res, { errorMessage: `Unknown path ${path}` }, 404);
  });
}
