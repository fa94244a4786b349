import { GatewayError } from '../../errors/gateway-error.js';
import { withoutCacheControls } from '../../schemas/gateway-fields.js';
import type { OpenAIChatRequest } from '../types.js';
import { checkResponsesRequest, parseResponsesRequest } from './schema.js';
import { translateResponsesToChat, type ResponsesAsChat } from './translate-request.js';

/** What a Responses API request carries through the pipeline next to the chat request it runs as. */
export interface ResponsesState {
  /**
   * The body an OpenAI-compatible upstream receives natively: the client's, minus the gateway's
   * `cache` controls, with `store: false`.
   */
  body: Record<string, unknown>;
  /**
   * How translated providers serve it: the chat translation, or why there is none (a malformed
   * function tool, a file only OpenAI can read), which only a translated attempt answers with.
   */
  translation: Omit<ResponsesAsChat, 'chat'> | GatewayError | null;
}

/**
 * What the budget estimates when the request has no chat translation: its input items and tools
 * as JSON, which is never smaller than the text a translation would keep.
 */
function estimateOnly(raw: Record<string, unknown>): OpenAIChatRequest {
  const chat: OpenAIChatRequest = { model: String(raw['model']), messages: [{ role: 'user', content: JSON.stringify([raw['instructions'] ?? '', raw['input']]) }] };
  if (raw['tools'] != null) chat['tools'] = raw['tools'] as OpenAIChatRequest['tools'];
  if (typeof raw['max_output_tokens'] === 'number') chat.max_tokens = raw['max_output_tokens'];
  if (raw['stream'] === true) chat.stream = true;
  return chat;
}

/**
 * Validates a Responses API body and prepares both ways of serving it: the native body, and the
 * chat request the pipeline runs (budgets, cache controls, translated providers). Only what the
 * gateway reads can refuse the request here; a translation that fails is kept for the
 * translated providers to answer with, so the request still reaches OpenAI-compatible ones.
 * `store` is forced to false: the gateway keeps no response state, so a stored response could
 * never be retrieved or continued through it, and storing it at the provider would only keep
 * the conversation where nobody asked for it.
 */
export function prepareResponses(raw: Record<string, unknown>): { chat: OpenAIChatRequest; state: ResponsesState } {
  checkResponsesRequest(raw);
  const body = Object.assign({}, withoutCacheControls(raw), { store: false });
  try {
    const { chat, ...translation } = translateResponsesToChat(parseResponsesRequest(raw));
    return { chat, state: { body, translation } };
  } catch (err) {
    if (!(err instanceof GatewayError)) throw err;
    const chat = estimateOnly(raw);
    // The gateway's own cache controls still apply to a request only native providers can serve.
    if ('cache' in raw) chat['cache'] = raw['cache'];
    return { chat, state: { body, translation: err } };
  }
}
