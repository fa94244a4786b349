import { isRecord } from '../wire-utils.js';
import type { ProviderCall, ProviderResponse } from '../adapter.js';
import type { HttpTransport, UpstreamResponse } from '../http-transport.js';
import type { ProviderConfig, UpstreamRequest, Usage } from '../types.js';
import type { CancelSignal } from '../../core/cancellation.js';
import { parseUpstreamJson, readSseEvents, readText } from '../upstream-stream.js';
import { GatewayError } from '../../errors/gateway-error.js';
import { anthropicError, anthropicStreamError } from './errors.js';
import { anthropicUsage } from './translate-response.js';
import { anthropicAnswerBytes, estimatedMessagesUsage } from '../../spend/usage.js';
import { ANTHROPIC_VERSION } from './translator.js';

/**
 * Headers for a native call: the client's `anthropic-*` headers unchanged (beta flags must reach
 * Anthropic byte for byte), then the provider's key in place of whatever the client
 * authenticated with, then the provider's configured headers.
 */
export function nativeHeaders(provider: ProviderConfig, forwarded: Record<string, string>, apiKeyOverride?: string): Record<string, string> {
  const headers: Record<string, string> = { 'anthropic-version': ANTHROPIC_VERSION, ...forwarded, ...provider.headers };
  const key = apiKeyOverride ?? provider.api_key;
  if (key !== undefined && key !== '') headers['x-api-key'] = key;
  return headers;
}

/** Usage from a stream: message_start carries the input side, message_delta the running output count. */
function streamUsage(event: string | undefined, data: unknown, usage: Usage): Usage {
  if (!isRecord(data)) return usage;
  if (event === 'message_start' && isRecord(data['message'])) return anthropicUsage(data['message']['usage']);
  if (event === 'message_delta' && isRecord(data['usage'])) {
    const delta = anthropicUsage({ ...data['usage'] });
    // message_delta repeats input counts only in newer API versions; keep what message_start said otherwise.
    const merged: Usage = {
      input_tokens: delta.input_tokens > 0 ? delta.input_tokens : usage.input_tokens,
      cached_input_tokens: delta.cached_input_tokens > 0 ? delta.cached_input_tokens : usage.cached_input_tokens,
      cache_creation_input_tokens: (delta.cache_creation_input_tokens ?? 0) > 0 ? delta.cache_creation_input_tokens! : (usage.cache_creation_input_tokens ?? 0),
      output_tokens: delta.output_tokens,
    };
    // Server tool counts are running totals, like output_tokens.
    const calls = delta.server_tool_calls ?? usage.server_tool_calls;
    if (calls) merged.server_tool_calls = calls;
    return merged;
  }
  return usage;
}

/**
 * Anthropic's Messages API without translation, for `/anthropic/v1/messages`: the body goes up
 * with only `model` replaced by the deployment's upstream model, and the answer (JSON or the SSE
 * events) comes back as Anthropic sent it, while usage is read on the way for spend and budgets.
 * A server that reports no usage (a proxy or local server speaking the API) is charged by the
 * gateway's estimate of the prompt and of the answer it relayed, as OpenAI-compatible ones are.
 */
export function createNativeMessages(provider: ProviderConfig, transport: HttpTransport) {
  return async function messages(body: Record<string, unknown>, call: ProviderCall): Promise<ProviderResponse> {
    const url = `${provider.base_url}/v1/messages${call.query ?? ''}`;
    const headers = Object.assign(nativeHeaders(provider, call.forwardedHeaders, call.apiKeyOverride), { 'content-type': 'application/json' });
    const res = await transport.send({ method: 'POST', url, headers, body: JSON.stringify({ ...body, model: call.upstreamModel }) }, call.signal, call.timeoutMs ?? provider.timeout_ms);
    if (res.status >= 400) throw anthropicError(res.status, await readText(res, call.signal), res.headers);
    if (body['stream'] !== true) {
      const text = await readText(res, call.signal);
      const parsed = parseUpstreamJson(text);
      const reported = isRecord(parsed) && isRecord(parsed['usage']);
      // Tool inputs are objects, not strings, in a whole message: its content's size bounds the answer.
      const answer = reported || !isRecord(parsed) ? 0 : Buffer.byteLength(JSON.stringify(parsed['content'] ?? ''), 'utf8');
      return { kind: 'json', status: res.status, body: undefined, text, usage: reported ? anthropicUsage(parsed['usage']) : estimatedMessagesUsage(body, answer) };
    }
    let usage: Usage = anthropicUsage(undefined);
    // message_start reports the input side, message_delta the output: a server may leave out either.
    let inputReported = false;
    let outputReported = false;
    let outputBytes = 0;
    async function* frames(): AsyncGenerator<string> {
      for await (const event of readSseEvents(res, call.signal)) {
        let data: unknown;
        try {
          data = JSON.parse(event.data);
        } catch {
          data = undefined;
        }
        if (event.event === 'error') throw anthropicStreamError(data);
        usage = streamUsage(event.event, data, usage);
        if (event.event === 'message_start' && isRecord(data) && isRecord(data['message']) && isRecord(data['message']['usage'])) inputReported = true;
        else if (event.event === 'message_delta' && isRecord(data) && isRecord(data['usage'])) outputReported = true;
        else if (event.event === 'content_block_delta') outputBytes += anthropicAnswerBytes(event.data);
        yield `${event.event ? `event: ${event.event}\n` : ''}data: ${event.data}\n\n`;
        if (event.event === 'message_stop') return;
      }
      throw new GatewayError('SF_ERR_STREAM_INTERRUPTED');
    }
    return {
      kind: 'stream',
      status: res.status,
      frames: frames(),
      usage: () => (inputReported && outputReported ? usage : estimatedMessagesUsage(body, outputBytes, { usage, input: inputReported, output: outputReported })),
    };
  };
}

/** A request to any other Anthropic endpoint (`/v1/messages/count_tokens`, `/v1/models`, ...), forwarded as is. */
export interface NativeForwardRequest {
  method: UpstreamRequest['method'];
  /** The path below the API root, with its leading slash, e.g. `/v1/models`. */
  path: string;
  query: string;
  body: string | undefined;
  forwardedHeaders: Record<string, string>;
  apiKeyOverride: string | undefined;
  signal: CancelSignal;
}

/** Forwards a request to the provider with its key; the answer comes back untouched. */
export function createNativeForward(provider: ProviderConfig, transport: HttpTransport) {
  return (req: NativeForwardRequest): Promise<UpstreamResponse> => {
    const headers = nativeHeaders(provider, req.forwardedHeaders, req.apiKeyOverride);
    if (req.body !== undefined) headers['content-type'] = 'application/json';
    return transport.send(
      { method: req.method, url: `${provider.base_url}${req.path}${req.query}`, headers, ...(req.body !== undefined ? { body: req.body } : {}) },
      req.signal,
      provider.timeout_ms,
    );
  };
}
