import { invalidRequest } from '../errors/from-zod.js';
import { GatewayError } from '../errors/gateway-error.js';
import { translatedChatSchema } from '../schemas/openai-requests.js';
import type { ProviderAdapter, ProviderCall, ProviderResponse } from './adapter.js';
import type { HttpTransport } from './http-transport.js';
import type { ChatTranslator, OpenAIChatChunk, OpenAIChatRequest, OpenAIEmbeddingsRequest, ProviderConfig, UpstreamRequest, Usage } from './types.js';
import { parseUpstreamJson, readSseEvents, readText, SSE_DONE, sseFrame } from './upstream-stream.js';

/** Embeddings support for a translated provider: request builder and response reader. */
export interface EmbeddingsTranslator {
  toUpstreamRequest(req: OpenAIEmbeddingsRequest, upstreamModel: string, provider: ProviderConfig): UpstreamRequest;
  fromUpstreamResponse(body: unknown, model: string, inputTokens: number, encodingFormat: 'float' | 'base64'): { body: unknown; usage: Usage };
  /** Estimated input tokens when the provider reports none. */
  estimateInputTokens(req: OpenAIEmbeddingsRequest): number;
}

function isUsageOnly(chunk: OpenAIChatChunk): boolean {
  return chunk.choices.length === 0 && chunk.usage != null;
}

/**
 * An adapter for a provider whose API is not OpenAI's: the pure translator does the format
 * work, this does transport, SSE reading and the clean-end check.
 */
export function createTranslatedAdapter(
  type: string,
  provider: ProviderConfig,
  transport: HttpTransport,
  translator: ChatTranslator,
  embeddingsTranslator?: EmbeddingsTranslator,
): ProviderAdapter {
  async function chat(body: OpenAIChatRequest, call: ProviderCall): Promise<ProviderResponse> {
    const created = Math.floor(Date.now() / 1000);
    const checked = translatedChatSchema.safeParse(body);
    if (!checked.success) throw invalidRequest(checked.error);
    const dropped: string[] = [];
    const req = translator.toUpstreamRequest(body, call.upstreamModel, provider, dropped);
    const droppedField = dropped.length > 0 ? { dropped } : {};
    req.headers = { ...call.forwardedHeaders, ...req.headers };
    const res = await transport.send(req, call.signal, call.timeoutMs ?? provider.timeout_ms);
    if (res.status >= 400) throw translator.fromUpstreamError(res.status, await readText(res, call.signal), res.headers);

    if (body.stream !== true) {
      const parsed = parseUpstreamJson(await readText(res, call.signal));
      const { completion, usage } = translator.fromUpstreamResponse(parsed, call.requestedModel, created, body);
      return { kind: 'json', status: 200, body: completion, usage, ...droppedField };
    }

    const clientWantsUsage = body.stream_options?.include_usage === true;
    const st = translator.createStreamTranslator(call.requestedModel, created, body);
    async function* frames(): AsyncGenerator<string> {
      for await (const event of readSseEvents(res, call.signal)) {
        for (const chunk of st.push(event)) {
          if (!clientWantsUsage && isUsageOnly(chunk)) continue;
          yield sseFrame(chunk);
        }
        if (st.finished) {
          yield SSE_DONE;
          return;
        }
      }
      throw new GatewayError('SF_ERR_STREAM_INTERRUPTED');
    }
    return { kind: 'stream', status: 200, frames: frames(), usage: () => st.usage(), ...droppedField };
  }

  const adapter: ProviderAdapter = { type, chat, close: async () => undefined };
  if (embeddingsTranslator) {
    adapter.embeddings = async (body, call) => {
      const req = embeddingsTranslator.toUpstreamRequest(body, call.upstreamModel, provider);
      req.headers = { ...call.forwardedHeaders, ...req.headers };
      const res = await transport.send(req, call.signal, call.timeoutMs ?? provider.timeout_ms);
      const text = await readText(res, call.signal);
      if (res.status >= 400) throw translator.fromUpstreamError(res.status, text, res.headers);
      const out = embeddingsTranslator.fromUpstreamResponse(parseUpstreamJson(text), call.requestedModel, embeddingsTranslator.estimateInputTokens(body), body.encoding_format ?? 'float');
      return { kind: 'json', status: 200, body: out.body, usage: out.usage };
    };
  }
  return adapter;
}
