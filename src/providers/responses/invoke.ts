import { randomBytes } from 'node:crypto';
import { GatewayError } from '../../errors/gateway-error.js';
import type { ModelDeployment } from '../registry.js';
import type { ProviderAdapter, ProviderCall, ProviderResponse } from '../adapter.js';
import type { OpenAIChatChunk, OpenAIChatCompletion, OpenAIChatRequest } from '../types.js';
import { parseUpstreamJson, SSE_DONE } from '../upstream-stream.js';
import { responsesFrame } from './events.js';
import type { ResponsesState } from './prepare.js';
import type { ResponseMeta } from './response-object.js';
import { translateChatToResponses } from './translate-response.js';
import { createResponsesStreamTranslator } from './translate-stream.js';

/** A response id shaped like OpenAI's: `resp_` and 48 hex digits. */
function newResponseId(): string {
  return `resp_${randomBytes(24).toString('hex')}`;
}

/** A provider translator's drop of chat `tools[k]` named by the client's own path (`tools[4].tools[1]`); other entries as they are. */
function responsesPath(entry: string, toolPaths: readonly string[]): string {
  return entry.replace(/^tools\[(\d+)\]/, (whole, k: string) => toolPaths[Number(k)] ?? whole);
}

/**
 * One attempt at a Responses API request on one deployment. A provider with a native Responses
 * API (OpenAI-compatible) gets the client's body as is; any other is asked the translated chat
 * request, and its answer (JSON or stream) is translated into a Response or Responses events,
 * so every attempt of a fallback chain answers in the same format. What the translation left
 * out is named in the answer's `dropped`; a request a translated provider cannot serve at all
 * (a malformed function tool, a file only OpenAI can read) is refused for it (400, naming the field).
 */
export async function invokeResponses(adapter: ProviderAdapter, deployment: ModelDeployment, state: ResponsesState, chat: OpenAIChatRequest, call: ProviderCall): Promise<ProviderResponse> {
  if (!state.body) throw new GatewayError('SF_ERR_INTERNAL', { message: 'A Responses request reached a provider before it was validated.' });
  if (adapter.responses) return adapter.responses(state.body, call);
  const translation = state.translation;
  if (translation === null) throw new GatewayError('SF_ERR_INTERNAL', { message: 'A Responses request reached a provider before it was translated.' });
  if (translation instanceof GatewayError) throw translation;
  const missing = translation.untranslatable;
  if (missing) {
    throw new GatewayError('SF_ERR_OPERATION_UNSUPPORTED', {
      message: `${missing.param}: ${missing.message} cannot be translated for the ${deployment.provider.type} provider "${deployment.provider.name}" that serves "${deployment.name}"; only OpenAI-compatible providers take them (natively).`,
      param: missing.param,
    });
  }
  const meta: ResponseMeta = { id: newResponseId(), createdAt: Math.floor(Date.now() / 1000), model: call.requestedModel, body: state.body, toolNames: translation.toolNames };
  const response = await adapter.chat(chat, call);
  const dropped = [...translation.dropped, ...(response.dropped ?? []).map((entry) => responsesPath(entry, translation.toolPaths))];
  const droppedField = dropped.length > 0 ? { dropped } : {};
  if (response.kind === 'json') {
    const completion = (response.body ?? parseUpstreamJson(response.text ?? '')) as OpenAIChatCompletion;
    return { kind: 'json', status: response.status, body: translateChatToResponses(completion, meta), usage: response.usage, ...droppedField };
  }
  const translator = createResponsesStreamTranslator(meta);
  const chunks = response.frames;
  async function* frames(): AsyncGenerator<string> {
    for await (const frame of chunks) {
      if (frame === SSE_DONE) {
        for (const event of translator.finish()) yield responsesFrame(event);
        yield SSE_DONE;
        return;
      }
      // Translated adapters yield `data: <chunk>` frames only.
      for (const event of translator.push(JSON.parse(frame.slice('data: '.length)) as OpenAIChatChunk)) yield responsesFrame(event);
    }
  }
  return { ...response, frames: frames(), ...droppedField };
}
