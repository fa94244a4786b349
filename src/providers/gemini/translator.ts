import type { ChatTranslator, OpenAIChatRequest, ProviderConfig, UpstreamRequest } from '../types.js';
import { geminiError } from './errors.js';
import { translateOpenAIToGemini } from './translate-request.js';
import { translateGeminiToOpenAI } from './translate-response.js';
import { createGeminiStreamTranslator } from './translate-stream.js';

/** `https://host/` and `https://host` name the same API root. */
export function geminiBaseUrl(provider: ProviderConfig): string {
  return provider.base_url.replace(/\/+$/, '');
}

/** Clients and model lists often say `models/gemini-x`; the URL already contains `models/`. */
export function geminiModelPath(upstreamModel: string): string {
  // Encoded: the id is a single path segment, whatever a configuration or client put in it.
  return encodeURIComponent(upstreamModel.replace(/^models\//, ''));
}

/**
 * Auth and content headers for Gemini. The key travels in `x-goog-api-key`, never in a `?key=`
 * query parameter, because URLs end up in logs and error messages.
 */
export function geminiHeaders(provider: ProviderConfig): Record<string, string> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (provider.api_key !== undefined && provider.api_key !== '') headers['x-goog-api-key'] = provider.api_key;
  return { ...headers, ...provider.headers };
}

function toUpstreamRequest(req: OpenAIChatRequest, upstreamModel: string, provider: ProviderConfig, dropped?: string[]): UpstreamRequest {
  const method = req.stream === true ? 'streamGenerateContent?alt=sse' : 'generateContent';
  return {
    method: 'POST',
    url: `${geminiBaseUrl(provider)}/v1beta/models/${geminiModelPath(upstreamModel)}:${method}`,
    headers: geminiHeaders(provider),
    body: JSON.stringify(translateOpenAIToGemini(req, dropped)),
  };
}

/**
 * The Google Gemini API (generativelanguage.googleapis.com, v1beta REST) translator:
 * OpenAI chat requests to `generateContent` / `streamGenerateContent?alt=sse` and back.
 */
export const geminiTranslator: ChatTranslator = {
  toUpstreamRequest,
  fromUpstreamResponse: translateGeminiToOpenAI,
  createStreamTranslator: createGeminiStreamTranslator,
  fromUpstreamError: geminiError,
};
