import type { ServerResponse } from 'node:http';
import {
  fakeAnswer,
  fakeTokens,
  sendJson,
  sendSse,
  splitForStream,
  startFakeServer,
  type FakeUpstream,
  type RecordedRequest,
  type Steering,
} from './fake-upstream.js';

/**
 * A fake Google Gemini API (v1beta REST) for tests. Steered like the other fakes (x-fake-*
 * headers, `queue`, `steer`). Deterministic answers:
 * - tools declared and the last turn is user text: call the first function with `{query: <text>}`;
 * - the last turn holds a functionResponse: `Tool said: <JSON of response>`;
 * - otherwise `fakeAnswer(<last user text>)`.
 * A key starting with `invalid` gets a 403 whose message contains the key in a URL, the way
 * Google leaks it, so key redaction can be tested end to end.
 */
export const FAKE_GEMINI_MODELS = ['gemini-2.5-flash', 'gemini-2.5-pro', 'gemini-embedding-001'];

const STATUS_NAMES: Record<number, string> = {
  400: 'INVALID_ARGUMENT',
  401: 'UNAUTHENTICATED',
  403: 'PERMISSION_DENIED',
  404: 'NOT_FOUND',
  409: 'ABORTED',
  429: 'RESOURCE_EXHAUSTED',
  499: 'CANCELLED',
  500: 'INTERNAL',
  501: 'NOT_IMPLEMENTED',
  503: 'UNAVAILABLE',
  504: 'DEADLINE_EXCEEDED',
};

export function sendGoogleError(res: ServerResponse, status: number, message: string, extra: { statusName?: string; retryAfter?: string } = {}): void {
  const error: Record<string, unknown> = { code: status, message, status: extra.statusName ?? STATUS_NAMES[status] ?? 'UNKNOWN' };
  const headers: Record<string, string> = {};
  if (extra.retryAfter !== undefined) {
    headers['retry-after'] = extra.retryAfter;
    // Google's real signal is RetryInfo in details; send both so either path can be tested.
    if (status === 429) error['details'] = [{ '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: `${extra.retryAfter}s` }];
  }
  sendJson(res, status, { error }, headers);
}

function steeredError(res: ServerResponse, s: Steering, status: number): void {
  const contextMessage = 'The input token count (1048577) exceeds the maximum number of tokens allowed (1048576).';
  const message = s.errorMessage ?? (s.errorCode === 'context_length_exceeded' ? contextMessage : `Fake Gemini error ${status}`);
  const statusName = s.errorCode !== undefined && s.errorCode !== 'context_length_exceeded' ? s.errorCode.toUpperCase() : undefined;
  sendGoogleError(res, status, message, { ...(statusName ? { statusName } : {}), ...(s.retryAfter !== undefined ? { retryAfter: s.retryAfter } : {}) });
}

interface Part {
  text?: string;
  functionCall?: { name: string; args: unknown };
  functionResponse?: { name: string; response: unknown };
}
interface Content {
  role?: string;
  parts?: Part[];
}

function allText(body: any): string {
  const texts: string[] = [];
  for (const c of [body?.systemInstruction, ...(body?.contents ?? [])]) {
    for (const p of c?.parts ?? []) texts.push(typeof p.text === 'string' ? p.text : JSON.stringify(p));
  }
  return texts.join('\n');
}

interface FakeReply {
  parts: Part[];
  finishReason: 'STOP' | 'MAX_TOKENS';
  usageMetadata: { promptTokenCount: number; candidatesTokenCount: number; totalTokenCount: number };
}

/** Computes the deterministic reply for a generateContent body. */
export function fakeGeminiReply(body: any): FakeReply {
  const contents: Content[] = Array.isArray(body?.contents) ? body.contents : [];
  const last = contents[contents.length - 1];
  const lastParts = last?.parts ?? [];
  const responses = lastParts.filter((p) => p.functionResponse !== undefined);
  const lastUser = [...contents].reverse().find((c) => c.role === 'user' && (c.parts ?? []).some((p) => typeof p.text === 'string'));
  const userText = (lastUser?.parts ?? []).map((p) => p.text ?? '').join('');
  const firstFn = body?.tools?.[0]?.functionDeclarations?.[0]?.name;
  const mode = body?.toolConfig?.functionCallingConfig?.mode;

  let parts: Part[];
  let finishReason: FakeReply['finishReason'] = 'STOP';
  let outText: string;
  if (responses.length > 0) {
    outText = responses.map((p) => `Tool said: ${JSON.stringify(p.functionResponse?.response)}`).join('\n');
    parts = [{ text: outText }];
  } else if (typeof firstFn === 'string' && mode !== 'NONE' && last?.role === 'user' && lastParts.some((p) => typeof p.text === 'string')) {
    const call = { name: firstFn, args: { query: userText } };
    outText = JSON.stringify(call);
    parts = [{ functionCall: call }];
  } else {
    outText = fakeAnswer(userText);
    const max = body?.generationConfig?.maxOutputTokens;
    if (typeof max === 'number' && fakeTokens(outText) > max) {
      outText = outText.slice(0, max * 4);
      finishReason = 'MAX_TOKENS';
    }
    parts = [{ text: outText }];
  }
  const promptTokenCount = fakeTokens(allText(body));
  const candidatesTokenCount = fakeTokens(outText);
  return { parts, finishReason, usageMetadata: { promptTokenCount, candidatesTokenCount, totalTokenCount: promptTokenCount + candidatesTokenCount } };
}

/** Deterministic unit vector from the text's char codes; `dims` defaults to 8. */
export function fakeEmbedding(text: string, dims = 8): number[] {
  const v = Array.from({ length: dims }, (_, i) => {
    let sum = i + 1;
    for (let j = i; j < text.length; j += dims) sum += text.charCodeAt(j) * (j + 1);
    return (sum % 997) / 997;
  });
  const norm = Math.sqrt(v.reduce((s, x) => s + x * x, 0)) || 1;
  return v.map((x) => Math.round((x / norm) * 1e6) / 1e6);
}

function embedText(request: any): number[] {
  const text = (request?.content?.parts ?? []).map((p: Part) => p.text ?? '').join('');
  return fakeEmbedding(text, typeof request?.outputDimensionality === 'number' ? request.outputDimensionality : 8);
}

function candidate(parts: Part[], extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { content: { role: 'model', parts }, index: 0, ...extra };
}

async function handleGenerate(req: RecordedRequest, s: Steering, res: ServerResponse, model: string, stream: boolean, responseId: string): Promise<void> {
  const reply = fakeGeminiReply(req.body);
  const common = { modelVersion: model, responseId };
  // x-fake-no-usage: an answer without usageMetadata.
  const usage = s.noUsage ? {} : { usageMetadata: reply.usageMetadata };
  if (!stream) {
    sendJson(res, 200, { candidates: [candidate(reply.parts, { finishReason: reply.finishReason })], ...usage, ...common });
    return;
  }
  const pieces: Part[][] = reply.parts[0]?.text !== undefined ? splitForStream(reply.parts[0].text).map((text) => [{ text }]) : [reply.parts];
  const events = pieces.map((parts, i) => {
    const end = i === pieces.length - 1;
    const body = end
      ? { candidates: [candidate(parts, { finishReason: reply.finishReason })], ...usage, ...common }
      : { candidates: [candidate(parts)], ...common };
    return { data: JSON.stringify(body) };
  });
  const sse = new URL(req.url, 'http://fake').searchParams.get('alt') === 'sse';
  if (sse) {
    await sendSse(res, events, s);
    return;
  }
  // Without alt=sse Google streams one JSON array; tests rarely need it, so it is sent whole.
  const text = `[${events.map((e) => e.data).join(',\n')}]`;
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(text);
}

/** Starts the fake Gemini upstream on 127.0.0.1 with a random port. */
export async function startFakeGemini(): Promise<FakeUpstream> {
  let served = 0;
  return startFakeServer(async (req, s, res) => {
    const url = new URL(req.url, 'http://fake');
    const key = req.headers['x-goog-api-key'];
    if (typeof key !== 'string' || key === '') {
      sendGoogleError(res, 401, 'Request is missing required authentication credential. Expected an API key in x-goog-api-key.');
      return;
    }
    if (key.startsWith('invalid')) {
      sendGoogleError(res, 403, `Permission denied on resource https://generativelanguage.googleapis.com${url.pathname}?key=${key} for this API key.`);
      return;
    }
    if (s.status !== undefined && s.status >= 400) {
      steeredError(res, s, s.status);
      return;
    }
    if (req.method === 'GET' && url.pathname === '/v1beta/models') {
      const models = FAKE_GEMINI_MODELS.map((m) => ({
        name: `models/${m}`,
        displayName: m,
        inputTokenLimit: 1048576,
        outputTokenLimit: 65536,
        supportedGenerationMethods: m.includes('embedding') ? ['embedContent'] : ['generateContent', 'countTokens'],
      }));
      sendJson(res, 200, { models });
      return;
    }
    const m = /^\/v1beta\/models\/([^/:]+):(generateContent|streamGenerateContent|embedContent|batchEmbedContents)$/.exec(url.pathname);
    if (req.method !== 'POST' || !m || m[1] === undefined) {
      sendGoogleError(res, 404, `Method not found: ${req.method} ${url.pathname}`);
      return;
    }
    const [, model, op] = m;
    if (op === 'embedContent') {
      sendJson(res, 200, { embedding: { values: embedText(req.body) } });
    } else if (op === 'batchEmbedContents') {
      sendJson(res, 200, { embeddings: (req.body?.requests ?? []).map((r: unknown) => ({ values: embedText(r) })) });
    } else {
      served++;
      await handleGenerate(req, s, res, model, op === 'streamGenerateContent', `fake-gemini-${served}`);
    }
  });
}
