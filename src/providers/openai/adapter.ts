import { GatewayError } from '../../errors/gateway-error.js';
import { answerBytes, estimatedChatUsage, estimatedEmbeddingsUsage, isUsageOnlyChunk, usageFromOpenAI, usageFromOpenAIText } from '../../spend/usage.js';
import type { ProviderAdapter, ProviderCall, ProviderResponse } from '../adapter.js';
import { conformEmbeddings, embeddingsNeedConforming } from '../embedding-encoding.js';
import type { HttpTransport } from '../http-transport.js';
import type { OpenAIChatRequest, OpenAIEmbeddingsRequest, OpenAIEmbeddingsResponse, OpenAIUsage, ProviderConfig, Usage } from '../types.js';
import { parseUpstreamJson, readSseEvents, readText, SSE_DONE } from '../upstream-stream.js';
import { openaiError, openaiErrorFromPayload } from './errors.js';
import { createNativeResponses } from './responses.js';
import { jsonText, openAIUpstream } from './upstream.js';

/** A chunk carrying usage has `"usage": {`; `"usage":null` on other chunks does not match. Spacing varies by server. */
const USAGE_MARK = /"usage"\s*:\s*\{/;
const FINISH_MARK = /"finish_reason"\s*:\s*"/;
/** Present in error events (`"error"` inside content is escaped, so it cannot match). */
const ERROR_MARK = '"error"';

/**
 * Any OpenAI-compatible server (OpenAI, Azure OpenAI, vLLM, Ollama, LM Studio ...). Bodies
 * pass through untouched except for the model name and, on streams, a request for usage.
 */
export function createOpenAIAdapter(provider: ProviderConfig, transport: HttpTransport): ProviderAdapter {
  const upstream = openAIUpstream(provider);
  const { base, query } = upstream;

  async function chat(body: OpenAIChatRequest, call: ProviderCall): Promise<ProviderResponse> {
    const stream = body.stream === true;
    const clientWantsUsage = stream && body.stream_options?.include_usage === true;
    const upstreamBody: OpenAIChatRequest = stream ? Object.assign({}, body, { model: call.upstreamModel, stream_options: { ...body.stream_options, include_usage: true } }) : { ...body, model: call.upstreamModel };
    const res = await transport.send(
      { method: 'POST', url: `${base}/chat/completions${query}`, headers: upstream.headers(call), body: JSON.stringify(upstreamBody) },
      call.signal,
      call.timeoutMs ?? provider.timeout_ms,
    );
    if (res.status >= 400) throw openaiError(res.status, await readText(res, call.signal), res.headers);

    if (!stream) {
      // Forwarded as received: reading usage out of the text is all the gateway needs to do.
      const text = jsonText(await readText(res, call.signal));
      // A server that reports no usage is charged by the gateway's own count, never nothing.
      return { kind: 'json', status: res.status, body: undefined, text, usage: usageFromOpenAIText(text) ?? estimatedChatUsage(body, answerBytes(text)) };
    }

    let usage: Usage | undefined;
    // Counted as the answer streams by, for servers that ignore include_usage.
    let outputBytes = 0;
    async function* frames(): AsyncGenerator<string> {
      let sawFinish = false;
      for await (const event of readSseEvents(res, call.signal)) {
        const data = event.data;
        if (data === '[DONE]') {
          yield SSE_DONE;
          return;
        }
        if (data.includes(ERROR_MARK)) {
          // OpenAI sends {"error":{...}}; vLLM and some others {"object":"error","message":...}.
          const parsed = parseUpstreamJson(data) as { error?: Record<string, unknown>; object?: string };
          if (parsed.error && typeof parsed.error === 'object') throw openaiErrorFromPayload(502, parsed.error);
          if (parsed.object === 'error') throw openaiErrorFromPayload(502, parsed as Record<string, unknown>);
        }
        if (data.includes('"usage"') && USAGE_MARK.test(data)) {
          const chunk = parseUpstreamJson(data) as { usage?: OpenAIUsage; choices?: unknown[] };
          usage = usageFromOpenAI(chunk.usage);
          // The usage-only chunk exists because the gateway asked for it; clients that did not ask must not see it.
          if (!clientWantsUsage && isUsageOnlyChunk(chunk)) continue;
        } else if (usage === undefined) outputBytes += answerBytes(data);
        if (!sawFinish && FINISH_MARK.test(data)) sawFinish = true;
        yield `data: ${data}\n\n`;
      }
      // Some OpenAI-compatible servers end without [DONE]; a finish_reason means the answer was complete.
      if (sawFinish) {
        yield SSE_DONE;
        return;
      }
      throw new GatewayError('SF_ERR_STREAM_INTERRUPTED');
    }
    return { kind: 'stream', status: res.status, frames: frames(), usage: () => usage ?? estimatedChatUsage(body, outputBytes) };
  }

  async function embeddings(body: OpenAIEmbeddingsRequest, call: ProviderCall): Promise<ProviderResponse & { kind: 'json' }> {
    const res = await transport.send(
      { method: 'POST', url: `${base}/embeddings${query}`, headers: upstream.headers(call), body: JSON.stringify({ ...body, model: call.upstreamModel }) },
      call.signal,
      call.timeoutMs ?? provider.timeout_ms,
    );
    const text = await readText(res, call.signal);
    if (res.status >= 400) throw openaiError(res.status, text, res.headers);
    if (embeddingsNeedConforming(text, body.encoding_format)) {
      const conformed = conformEmbeddings(parseUpstreamJson(text) as OpenAIEmbeddingsResponse, body.encoding_format);
      return { kind: 'json', status: res.status, body: conformed, usage: usageFromOpenAIText(text) ?? estimatedEmbeddingsUsage(body) };
    }
    return { kind: 'json', status: res.status, body: undefined, text: jsonText(text), usage: usageFromOpenAIText(text) ?? estimatedEmbeddingsUsage(body) };
  }

  const adapter: ProviderAdapter = { type: 'openai', chat, embeddings, close: async () => undefined };
  if (provider.responses_api === 'native') adapter.responses = createNativeResponses(upstream, transport, provider.timeout_ms);
  return adapter;
}
