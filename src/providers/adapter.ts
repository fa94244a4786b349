import type { CancelSignal } from '../core/cancellation.js';
import type { OpenAIChatRequest, OpenAIEmbeddingsRequest, Usage } from './types.js';

/** What a route hands an adapter for one upstream call. */
export interface ProviderCall {
  /** The model name the client asked for (echoed in translated responses). */
  requestedModel: string;
  /** The provider's own name for the model. */
  upstreamModel: string;
  /** Cancels the upstream request (client disconnect, shutdown). */
  signal: CancelSignal;
  /** Client headers the provider config allows through (already filtered). */
  forwardedHeaders: Record<string, string>;
  /** Overrides the provider's timeout_ms (a fallback-chain target's own timeout). */
  timeoutMs?: number;
  /** The client's query string (`?beta=true`), for native passthrough calls. */
  query?: string;
  /** The caller's own provider key (BYOK), used instead of the provider's. */
  apiKeyOverride?: string;
}

/**
 * A provider's answer. JSON answers carry the parsed body, or the text to send unchanged
 * (then `body` is undefined: parse `text` if you need it). Streams yield complete SSE frames in OpenAI
 * chunk format; they end with `data: [DONE]` only when the upstream finished cleanly and
 * throw a GatewayError when it broke.
 */
export type ProviderResponse = (
  | { kind: 'json'; status: number; body: unknown; text?: string; usage: Usage }
  | { kind: 'stream'; status: number; frames: AsyncIterable<string>; usage: () => Usage }
) & {
  /** What the translation for this provider left out (`x-smartflow-dropped`); absent when nothing was. */
  dropped?: readonly string[];
};

export interface ProviderAdapter {
  readonly type: string;
  chat(body: OpenAIChatRequest, call: ProviderCall): Promise<ProviderResponse>;
  /** Anthropic's Messages API, natively: the body and answer pass through unchanged (Anthropic providers only). */
  messages?(body: Record<string, unknown>, call: ProviderCall): Promise<ProviderResponse>;
  /**
   * The OpenAI Responses API, natively (OpenAI-compatible providers): the body passes through with
   * the model replaced, and the answer is a Response (JSON) or Responses events (stream). Absent
   * when the gateway serves `/v1/responses` for the provider by translating to and from chat.
   */
  responses?(body: Record<string, unknown>, call: ProviderCall): Promise<ProviderResponse>;
  /** Absent when the provider has no embeddings API. */
  embeddings?(body: OpenAIEmbeddingsRequest, call: ProviderCall): Promise<ProviderResponse & { kind: 'json' }>;
  close(): Promise<void>;
}
