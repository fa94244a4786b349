import { withoutCacheControls } from '../../schemas/gateway-fields.js';
import type { OpenAIChatRequest } from '../types.js';
import { parseResponsesRequest } from './schema.js';
import { translateResponsesToChat, type Untranslatable } from './translate-request.js';

/** What a Responses API request carries through the pipeline next to the chat request it runs as. */
export interface ResponsesState {
  /**
   * The body an OpenAI-compatible upstream receives natively: the client's, minus the gateway's
   * `cache` controls, with `store: false`. Null until the validate-request stage has run.
   */
  body: Record<string, unknown> | null;
  /** What the chat translation had to leave out; when set, translated providers refuse the request. */
  untranslatable: Untranslatable | null;
}

/**
 * Validates a Responses API body and prepares both ways of serving it: the chat request the
 * pipeline runs (budgets, cache controls, translated providers) and the native body.
 * `store` is forced to false: the gateway keeps no response state, so a stored response could
 * never be retrieved or continued through it, and storing it at the provider would only keep
 * the conversation where nobody asked for it.
 */
export function prepareResponses(raw: Record<string, unknown>): { chat: OpenAIChatRequest; state: ResponsesState } {
  const request = parseResponsesRequest(raw);
  const { chat, untranslatable } = translateResponsesToChat(request);
  return { chat, state: { body: { ...withoutCacheControls(raw), store: false }, untranslatable } };
}
