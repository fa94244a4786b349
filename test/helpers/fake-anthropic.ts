import type { ServerResponse } from 'node:http';
import { fakeAnswer, fakeTokens, sendJson, sendSse, splitForStream, startFakeServer, type FakeUpstream, type RecordedRequest, type Steering } from './fake-upstream.js';

/**
 * A fake Anthropic Messages API on 127.0.0.1. Deterministic: a text answer is
 * `fakeAnswer(last user text)`; with tools (and a plain user turn last) it calls the first
 * tool, or the one tool_choice names, with input `{"query": <last user text>}`; after a
 * tool_result it answers `Tool said: <result>`. It validates what the real API insists on
 * (x-api-key or a Bearer token, anthropic-version, model, max_tokens, messages) so translator bugs show up as
 * the 400s they would cause in production, and honours max_tokens and stop_sequences.
 */

const ERROR_TYPE_BY_STATUS: Record<number, string> = {
  400: 'invalid_request_error',
  401: 'authentication_error',
  402: 'billing_error',
  403: 'permission_error',
  404: 'not_found_error',
  413: 'request_too_large',
  429: 'rate_limit_error',
  500: 'api_error',
  504: 'timeout_error',
  529: 'overloaded_error',
};

const DEFAULT_MESSAGES: Record<string, string> = {
  invalid_request_error: 'Invalid request',
  authentication_error: 'invalid x-api-key',
  permission_error: 'Your API key does not have permission to use the specified resource.',
  not_found_error: 'Not found',
  rate_limit_error: 'Number of request tokens has exceeded your per-minute rate limit',
  api_error: 'Internal server error',
  overloaded_error: 'Overloaded',
};

/** Models the fake lists on GET /v1/models. */
export const FAKE_ANTHROPIC_MODELS = ['claude-fake-1', 'claude-fake-2'];

function sendError(res: ServerResponse, status: number, steering: Steering = {}, message?: string): void {
  const type = steering.errorCode ?? ERROR_TYPE_BY_STATUS[status] ?? (status >= 500 ? 'api_error' : 'invalid_request_error');
  const headers: Record<string, string> = {};
  if (steering.retryAfter !== undefined) headers['retry-after'] = steering.retryAfter;
  const text = steering.errorMessage ?? message ?? DEFAULT_MESSAGES[type] ?? `Error ${status}`;
  sendJson(res, status, { type: 'error', error: { type, message: text } }, headers);
}

function textOf(content: unknown): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  return content
    .filter((b: any) => b?.type === 'text' && typeof b.text === 'string')
    .map((b: any) => b.text as string)
    .join('\n');
}

interface Answer {
  blocks: any[];
  stopReason: string;
  stopSequence: string | null;
  outputTokens: number;
}

function decide(body: any, toolUseId: string, steering: Steering): Answer {
  const messages: any[] = body.messages;
  const last = messages[messages.length - 1];
  const lastContent = last?.content;
  const toolResults = Array.isArray(lastContent) ? lastContent.filter((b: any) => b?.type === 'tool_result') : [];
  const lastUser = [...messages].reverse().find((m) => m?.role === 'user');
  const userText = textOf(lastUser?.content);
  const tools: any[] = Array.isArray(body.tools) ? body.tools : [];
  const choice = body.tool_choice;

  if (last?.role === 'user' && toolResults.length === 0 && tools.length > 0 && choice?.type !== 'none' && !steering.noToolCall) {
    const tool = (choice?.type === 'tool' ? tools.find((t) => t.name === choice.name) : undefined) ?? tools[0];
    const input = { query: userText };
    return {
      blocks: [{ type: 'tool_use', id: toolUseId, name: tool.name, input }],
      stopReason: 'tool_use',
      stopSequence: null,
      outputTokens: fakeTokens(JSON.stringify(input)),
    };
  }

  let text = toolResults.length > 0 ? `Tool said: ${toolResults.map((r: any) => textOf(r.content)).join('\n')}` : fakeAnswer(userText);
  let stopReason = 'end_turn';
  let stopSequence: string | null = null;
  for (const seq of Array.isArray(body.stop_sequences) ? (body.stop_sequences as string[]) : []) {
    const at = text.indexOf(seq);
    if (at >= 0) {
      text = text.slice(0, at);
      stopReason = 'stop_sequence';
      stopSequence = seq;
    }
  }
  // fakeTokens counts 4 characters per token, so max_tokens cuts at 4 * max_tokens characters.
  if (fakeTokens(text) > body.max_tokens) {
    text = text.slice(0, body.max_tokens * 4);
    stopReason = 'max_tokens';
    stopSequence = null;
  }
  return { blocks: [{ type: 'text', text }], stopReason, stopSequence, outputTokens: fakeTokens(text) };
}

function inputTokens(body: any): number {
  return fakeTokens(JSON.stringify({ system: body.system ?? null, messages: body.messages, tools: body.tools ?? null }));
}

/** The headers every real endpoint insists on; answers the error itself and returns false when one is missing. */
function checkHeaders(req: RecordedRequest, res: ServerResponse): boolean {
  // The API takes the key as x-api-key or, as current SDKs send it, Authorization: Bearer.
  const bearer = /^Bearer \S+/.test(String(req.headers.authorization ?? ''));
  if (!req.headers['x-api-key'] && !bearer) {
    sendError(res, 401, {}, 'x-api-key or Authorization header is required');
    return false;
  }
  if (!req.headers['anthropic-version']) {
    sendError(res, 400, {}, 'anthropic-version: header is required');
    return false;
  }
  return true;
}

function checkBody(req: RecordedRequest, res: ServerResponse, needsMaxTokens: boolean): boolean {
  const body = req.body;
  if (typeof body !== 'object' || body === null) {
    sendError(res, 400, {}, 'Request body must be JSON');
    return false;
  }
  const missing = typeof body.model !== 'string' ? 'model' : !Array.isArray(body.messages) ? 'messages' : needsMaxTokens && typeof body.max_tokens !== 'number' ? 'max_tokens' : undefined;
  if (missing !== undefined) {
    sendError(res, 400, {}, `${missing}: Field required`);
    return false;
  }
  return true;
}

/** Splits tool input JSON into fixed-size pieces, as input_json_delta events arrive. */
function splitJson(json: string): string[] {
  const pieces: string[] = [];
  for (let i = 0; i < json.length; i += 8) pieces.push(json.slice(i, i + 8));
  return pieces;
}

function streamEvents(body: any, id: string, answer: Answer, input: number, steering: Steering): Array<{ event: string; data: string }> {
  const events: Array<{ event: string; data: string }> = [];
  const add = (data: any): void => {
    events.push({ event: data.type, data: JSON.stringify(data) });
  };
  add({
    type: 'message_start',
    message: {
      id, type: 'message', role: 'assistant', model: body.model, content: [], stop_reason: null, stop_sequence: null,
      usage: { input_tokens: input, cache_creation_input_tokens: steering.cacheWriteTokens ?? 0, cache_read_input_tokens: steering.cacheReadTokens ?? 0, output_tokens: 1 },
    },
  });
  answer.blocks.forEach((block, index) => {
    if (block.type === 'text') {
      add({ type: 'content_block_start', index, content_block: { type: 'text', text: '' } });
      if (index === 0) add({ type: 'ping' });
      for (const piece of splitForStream(block.text)) add({ type: 'content_block_delta', index, delta: { type: 'text_delta', text: piece } });
    } else {
      add({ type: 'content_block_start', index, content_block: { type: 'tool_use', id: block.id, name: block.name, input: {} } });
      if (index === 0) add({ type: 'ping' });
      add({ type: 'content_block_delta', index, delta: { type: 'input_json_delta', partial_json: '' } });
      for (const piece of splitJson(JSON.stringify(block.input))) add({ type: 'content_block_delta', index, delta: { type: 'input_json_delta', partial_json: piece } });
    }
    add({ type: 'content_block_stop', index });
  });
  add({ type: 'message_delta', delta: { stop_reason: answer.stopReason, stop_sequence: answer.stopSequence }, usage: { output_tokens: answer.outputTokens, ...(steering.serverToolUse ? { server_tool_use: steering.serverToolUse } : {}) } });
  add({ type: 'message_stop' });
  return events;
}

/** Starts the fake Anthropic API: POST /v1/messages, POST /v1/messages/count_tokens, GET /v1/models. */
export async function startFakeAnthropic(): Promise<FakeUpstream> {
  let seq = 0;
  return startFakeServer(async (req, steering, res) => {
    const path = req.url.split('?')[0];
    if (req.method === 'GET' && path === '/v1/models') {
      if (!checkHeaders(req, res)) return;
      const data = FAKE_ANTHROPIC_MODELS.map((id) => ({ type: 'model', id, display_name: id, created_at: '2025-01-01T00:00:00Z' }));
      sendJson(res, 200, { data, has_more: false, first_id: data[0]?.id ?? null, last_id: data[data.length - 1]?.id ?? null });
      return;
    }
    if (req.method === 'POST' && path === '/v1/messages/count_tokens') {
      if (steering.status !== undefined) return sendError(res, steering.status, steering);
      if (!checkHeaders(req, res) || !checkBody(req, res, false)) return;
      sendJson(res, 200, { input_tokens: inputTokens(req.body) });
      return;
    }
    if (req.method !== 'POST' || path !== '/v1/messages') {
      sendError(res, 404, {}, `Not found: ${req.method} ${path}`);
      return;
    }
    if (steering.status !== undefined) return sendError(res, steering.status, steering);
    if (!checkHeaders(req, res) || !checkBody(req, res, true)) return;

    seq++;
    const id = `msg_fake_${String(seq).padStart(4, '0')}`;
    const answer = decide(req.body, `toolu_fake_${String(seq).padStart(4, '0')}`, steering);
    const input = steering.inputTokens ?? inputTokens(req.body);
    if (req.body.stream === true) {
      await sendSse(res, streamEvents(req.body, id, answer, input, steering), steering);
      return;
    }
    sendJson(res, 200, {
      id, type: 'message', role: 'assistant', model: req.body.model, content: answer.blocks,
      stop_reason: answer.stopReason, stop_sequence: answer.stopSequence,
      usage: {
        input_tokens: input, cache_creation_input_tokens: steering.cacheWriteTokens ?? 0, cache_read_input_tokens: steering.cacheReadTokens ?? 0, output_tokens: answer.outputTokens,
        ...(steering.serverToolUse ? { server_tool_use: steering.serverToolUse } : {}),
      },
    }, { 'request-id': `req_fake_${String(seq).padStart(4, '0')}` });
  });
}
