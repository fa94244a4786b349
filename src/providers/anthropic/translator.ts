import type { GatewayError } from '../../errors/gateway-error.js';
import type { ChatTranslator, OpenAIChatCompletion, OpenAIChatRequest, ProviderConfig, StreamTranslator, UpstreamRequest, Usage } from '../types.js';
import { anthropicError } from './errors.js';
import { anthropicResponseOptions, translateOpenAIToAnthropic } from './translate-request.js';
import { translateAnthropicToOpenAI } from './translate-response.js';
import { createAnthropicStreamTranslator } from './translate-stream.js';

/** The Messages API version this translator speaks; a provider's `headers` may override it. */
export const ANTHROPIC_VERSION = '2023-06-01';

/**
 * The Anthropic Messages API translator. `base_url` is the API root without `/v1`
 * (e.g. https://api.anthropic.com).
 * Given the client's request, answers to `response_format: json_schema` (emulated with a
 * forced tool) come back as JSON content instead of a tool call.
 */
export const anthropicTranslator: ChatTranslator = {
  toUpstreamRequest(req: OpenAIChatRequest, upstreamModel: string, provider: ProviderConfig, dropped?: string[]): UpstreamRequest {
    const headers: Record<string, string> = { 'content-type': 'application/json', 'anthropic-version': ANTHROPIC_VERSION };
    if (provider.api_key !== undefined && provider.api_key !== '') headers['x-api-key'] = provider.api_key;
    return {
      method: 'POST',
      url: `${provider.base_url.replace(/\/+$/, '')}/v1/messages`,
      // Provider headers last: they may pin another anthropic-version or add anthropic-beta.
      headers: { ...headers, ...provider.headers },
      body: JSON.stringify(translateOpenAIToAnthropic(req, upstreamModel, dropped)),
    };
  },

  fromUpstreamResponse(body: unknown, model: string, created: number, req?: OpenAIChatRequest): { completion: OpenAIChatCompletion; usage: Usage } {
    return translateAnthropicToOpenAI(body, model, created, req ? anthropicResponseOptions(req) : {});
  },

  createStreamTranslator(model: string, created: number, req?: OpenAIChatRequest): StreamTranslator {
    return createAnthropicStreamTranslator(model, created, req ? anthropicResponseOptions(req) : {});
  },

  fromUpstreamError(status: number, body: string, headers: Record<string, string | string[] | undefined>): GatewayError {
    return anthropicError(status, body, headers);
  },
};
