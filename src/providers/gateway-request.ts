import type { AnthropicMessagesRequest } from '../schemas/anthropic-requests.js';
import type { ResponsesState } from './responses/prepare.js';
import type { OpenAIChatRequest, OpenAIEmbeddingsRequest } from './types.js';

/** A validated request, by the operation the client asked for. */
export type GatewayRequest =
  | { operation: 'chat'; body: OpenAIChatRequest }
  | { operation: 'embeddings'; body: OpenAIEmbeddingsRequest }
  /** Anthropic's Messages API, passed through natively (`/anthropic/v1/messages`); `query` is the client's query string. */
  | { operation: 'messages'; body: AnthropicMessagesRequest; query: string }
  /**
   * The OpenAI Responses API (`/v1/responses`): `body` is its chat translation, which budgets,
   * estimates, the semantic cache and translated providers read; `native` is what an
   * OpenAI-compatible provider receives as is, and how translated providers answer.
   */
  | { operation: 'responses'; body: OpenAIChatRequest; native: ResponsesState };
