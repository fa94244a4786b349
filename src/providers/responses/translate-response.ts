import { GatewayError } from '../../errors/gateway-error.js';
import type { OpenAIChatCompletion, OpenAIFinishReason } from '../types.js';
import { callNames, clientTool, customInput, itemId, responseObject, responsesUsage, type ResponseMeta, type ResponseObject, type ResponseStatus, type ResponsesOutputItem } from './response-object.js';

/** How a chat answer ended, as a Response status and, when it stopped short, why. */
export function responseEnd(finish: OpenAIFinishReason | null): { status: ResponseStatus; incomplete: ResponseObject['incomplete_details'] } {
  if (finish === 'length') return { status: 'incomplete', incomplete: { reason: 'max_output_tokens' } };
  if (finish === 'content_filter') return { status: 'incomplete', incomplete: { reason: 'content_filter' } };
  return { status: 'completed', incomplete: null };
}

/** An output_text content part, with the empty annotations and logprobs OpenAI sends along. */
export function outputText(text: string): { type: 'output_text'; text: string; annotations: never[]; logprobs: never[] } {
  return { type: 'output_text', text, annotations: [], logprobs: [] };
}

/**
 * A chat completion (from a translated provider) -> a Response: `reasoning_content` becomes a
 * reasoning item, the text a message item with one output_text part, each tool call a
 * function_call item whose `call_id` is the chat tool call id (a custom tool's call a
 * custom_tool_call item with its input; a namespaced tool's call with its namespace); `finish_reason` length or
 * content_filter makes the response `incomplete`. Only the first choice is used (the Responses
 * API has no `n`). Pure.
 */
export function translateChatToResponses(completion: OpenAIChatCompletion, meta: ResponseMeta): ResponseObject {
  const choice = completion.choices?.find((c) => c.index === 0);
  if (!choice) throw new GatewayError('SF_ERR_UPSTREAM_BAD_RESPONSE', { message: 'The provider\'s answer has no choice to turn into a response.' });
  const { status, incomplete } = responseEnd(choice.finish_reason);
  const itemStatus = status === 'completed' ? 'completed' : 'incomplete';
  const message = choice.message;
  const output: ResponsesOutputItem[] = [];
  const reasoning = message['reasoning_content'];
  if (typeof reasoning === 'string' && reasoning !== '') {
    output.push({ type: 'reasoning', id: itemId('rs', meta, output.length), summary: [], content: [{ type: 'reasoning_text', text: reasoning }] });
  }
  if (typeof message.content === 'string' && message.content !== '') {
    output.push({ type: 'message', id: itemId('msg', meta, output.length), status: itemStatus, role: 'assistant', content: [outputText(message.content)] });
  }
  for (const call of message.tool_calls ?? []) {
    const tool = clientTool(call.function.name, meta);
    if (tool.custom) {
      output.push({ type: 'custom_tool_call', id: itemId('ctc', meta, output.length), call_id: call.id, ...callNames(tool), input: customInput(call.function.arguments), status: 'completed' });
    } else {
      output.push({ type: 'function_call', id: itemId('fc', meta, output.length), call_id: call.id, ...callNames(tool), arguments: call.function.arguments, status: 'completed' });
    }
  }
  const response = responseObject(meta, status, output, completion.usage ? responsesUsage(completion.usage) : null);
  response.incomplete_details = incomplete;
  return response;
}
