import { invalidRequest } from '../errors/from-zod.js';
import { GatewayError } from '../errors/gateway-error.js';
import { translatedChatSchema } from '../schemas/openai-requests.js';
import type { ProviderAdapter, ProviderCall, ProviderResponse } from './adapter.js';
import type { HttpTransport } from './http-transport.js';
import { answerBytes, estimatedChatUsage, isUsageOnlyChunk } from '../spend/usage.js';
import type { ChatTranslator, OpenAIChatRequest, OpenAIEmbeddingsRequest, ProviderConfig, UpstreamRequest, Usage } from './types.js';
import { parseUpstreamJson, readSseEvents, readText, SSE_DONE, sseFrame } from './upstream-stream.js';

/** Embeddings support for a translated provider: request builder and response reader. */
export interface EmbeddingsTranslator {
  toUpstreamRequest(req: OpenAIEmbeddingsRequest, upstreamModel: string, provider: ProviderConfig): UpstreamRequest;
  fromUpstreamResponse(body: unknown, model: string, inputTokens: number, encodingFormat: 'float' | 'base64'): { body: unknown; usage: Usage };
  /** Estimated input tokens when the provider reports none. */
  estimateInputTokens(req: OpenAIEmbeddingsRequest): number;
}

/** Whether the upstream reported any usage: an answer is never free, so all zeros means none was reported. */
function reported(usage: Usage): boolean {
  return usage.input_tokens > 0 || usage.output_tokens > 0;
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
    req.headers = Object.assign({}, call.forwardedHeaders, req.headers);
    const res = await transport.send(req, call.signal, call.timeoutMs ?? provider.timeout_ms);
    if (res.status >= 400) throw translator.fromUpstreamError(res.status, await readText(res, call.signal), res.headers);

    if (body.stream !== true) {
      const parsed = parseUpstreamJson(await readText(res, call.signal));
      const { completion, usage } = translator.fromUpstreamResponse(parsed, call.requestedModel, created, body);
      return { kind: 'json', status: 200, body: completion, usage: reported(usage) ? usage : estimatedChatUsage(body, answerBytes(JSON.stringify(completion))), ...droppedField };
    }

    const clientWantsUsage = body.stream_options?.include_usage === true;
    const st = translator.createStreamTranslator(call.requestedModel, created, body);
    // Counted as the answer streams by, for an upstream that reports no usage.
    let outputBytes = 0;
    async function* frames(): AsyncGenerator<string> {
      for await (const event of readSseEvents(res, call.signal)) {
        for (const chunk of st.push(event)) {
          if (!clientWantsUsage && isUsageOnlyChunk(chunk)) continue;
          const frame = sseFrame(chunk);
          outputBytes += answerBytes(frame);
          yield frame;
        }
        if (st.finished) {
          yield SSE_DONE;
          return;
        }
      }
      throw new GatewayError('SF_ERR_STREAM_INTERRUPTED');
    }
    return {
      kind: 'stream',
      status: 200,
      frames: frames(),
      ...droppedField,
      usage() {
        const usage = st.usage();
        // Only a finished stream is estimated here: the budget stage charges unfinished ones by its own rule.
        return !st.finished || reported(usage) ? usage : estimatedChatUsage(body, outputBytes);
      },
    };
  }

  const adapter: ProviderAdapter = { type, chat, close: async () => undefined };
  if (embeddingsTranslator) {
    adapter.embeddings = async (body, call) => {
      const req = embeddingsTranslator.toUpstreamRequest(body, call.upstreamModel, provider);
      req.headers = Object.assign({}, call.forwardedHeaders, req.headers);
      const res = await transport.send(req, call.signal, call.timeoutMs ?? provider.timeout_ms);
      const text = await readText(res, call.signal);
      if (res.status >= 400) throw translator.fromUpstreamError(res.status, text, res.headers);
      const out = embeddingsTranslator.fromUpstreamResponse(parseUpstreamJson(text), call.requestedModel, embeddingsTranslator.estimateInputTokens(body), body.encoding_format ?? 'float');
      return { kind: 'json', status: 200, body: out.body, usage: out.usage };
    };
  }
  return adapter;
}
