import { GatewayError } from '../../errors/gateway-error.js';
import type { OpenAIChatCompletion, OpenAIFinishReason, OpenAIToolCall, OpenAIUsage, Usage } from '../types.js';
import type { AnthropicResponseOptions } from './translate-request.js';
import { isRecord, tokenCount } from '../wire-utils.js';

/**
 * Anthropic Messages API response -> OpenAI chat completion. Shared pieces (usage, stop
 * reasons, ids) are exported for the stream translator so both paths agree byte for byte.
 */

function badResponse(message: string): GatewayError {
  return new GatewayError('SF_ERR_UPSTREAM_BAD_RESPONSE', { message: `Anthropic response: ${message}` });
}

/**
 * Anthropic usage -> gateway Usage. Anthropic's `input_tokens` excludes cache reads and
 * cache writes, so all three add up to what OpenAI calls prompt_tokens.
 */
export function anthropicUsage(u: unknown): Usage {
  const r = isRecord(u) ? u : {};
  const cacheRead = tokenCount(r['cache_read_input_tokens']);
  const cacheCreation = tokenCount(r['cache_creation_input_tokens']);
  const usage: Usage = {
    input_tokens: tokenCount(r['input_tokens']) + cacheRead + cacheCreation,
    cached_input_tokens: cacheRead,
    output_tokens: tokenCount(r['output_tokens']),
    cache_creation_input_tokens: cacheCreation,
  };
  const calls = serverToolCalls(r['server_tool_use']);
  if (calls) usage.server_tool_calls = calls;
  return usage;
}

/**
 * Anthropic's `server_tool_use` counts (`web_search_requests`, `web_fetch_requests` ...) as calls
 * by kind (`web_search`, `web_fetch` ...), which the price table bills per call; undefined when none.
 */
function serverToolCalls(u: unknown): Record<string, number> | undefined {
  if (!isRecord(u)) return undefined;
  let calls: Record<string, number> | undefined;
  for (const [field, value] of Object.entries(u)) {
    const count = tokenCount(value);
    if (count === 0 || !field.endsWith('_requests')) continue;
    (calls ??= {})[field.slice(0, -'_requests'.length)] = count;
  }
  return calls;
}

/** Gateway Usage -> the OpenAI `usage` object clients see. */
export function openAIUsage(u: Usage): OpenAIUsage {
  return {
    prompt_tokens: u.input_tokens,
    completion_tokens: u.output_tokens,
    total_tokens: u.input_tokens + u.output_tokens,
    prompt_tokens_details: { cached_tokens: u.cached_input_tokens },
  };
}

/**
 * Anthropic stop_reason -> OpenAI finish_reason. `tool_use` only means tool_calls when a
 * real tool was called: when the model called the json_schema answer tool it is a plain stop.
 */
export function mapStopReason(reason: unknown, hasToolCalls: boolean): OpenAIFinishReason | null {
  switch (reason) {
    case null:
    case undefined:
      return null;
    case 'max_tokens':
    case 'model_context_window_exceeded':
      return 'length';
    case 'tool_use':
      return hasToolCalls ? 'tool_calls' : 'stop';
    case 'refusal':
      return 'content_filter';
    default:
      // end_turn, stop_sequence, pause_turn and reasons added later.
      return 'stop';
  }
}

/**
 * The OpenAI completion id for an Anthropic message id: `chatcmpl-` + the message id, so an
 * id in client logs can be traced to the provider's own logs.
 */
export function completionId(messageId: unknown): string {
  return `chatcmpl-${typeof messageId === 'string' && messageId !== '' ? messageId : 'anthropic'}`;
}

/**
 * Translates a non-streamed Anthropic message to an OpenAI chat completion.
 *
 * Text blocks are concatenated into `content`; `tool_use` blocks become `tool_calls` (with
 * `arguments` = JSON of the input), except the json_schema answer tool named in
 * `opts.jsonToolName`, whose input becomes content as JSON text. Thinking blocks are exposed
 * as `message.reasoning_content` (the de-facto field for reasoning text in OpenAI-shaped APIs);
 * their signatures are not kept. `content` is null when the answer is only tool calls.
 * Throws SF_ERR_UPSTREAM_BAD_RESPONSE when the body is not a message.
 */
export function translateAnthropicToOpenAI(
  body: unknown,
  model: string,
  created: number,
  opts: AnthropicResponseOptions = {},
): { completion: OpenAIChatCompletion; usage: Usage } {
  if (!isRecord(body) || !Array.isArray(body['content'])) throw badResponse('expected a message with a content array');
  let text = '';
  let hasText = false;
  let reasoning = '';
  const toolCalls: OpenAIToolCall[] = [];
  for (const block of body['content']) {
    if (!isRecord(block)) continue;
    switch (block['type']) {
      case 'text':
        if (typeof block['text'] === 'string') {
          text += block['text'];
          hasText = true;
        }
        break;
      case 'thinking':
        if (typeof block['thinking'] === 'string') reasoning += block['thinking'];
        break;
      case 'tool_use': {
        const args = JSON.stringify(block['input'] ?? {});
        if (opts.jsonToolName !== undefined && block['name'] === opts.jsonToolName) {
          text += args;
          hasText = true;
        } else {
          toolCalls.push({ id: String(block['id'] ?? ''), type: 'function', function: { name: String(block['name'] ?? ''), arguments: args } });
        }
        break;
      }
      default:
        // redacted_thinking, server tool results and future block types have no OpenAI equivalent.
        break;
    }
  }
  const message: OpenAIChatCompletion['choices'][number]['message'] = {
    role: 'assistant',
    content: hasText || toolCalls.length === 0 ? text : null,
    refusal: null,
  };
  if (toolCalls.length > 0) message.tool_calls = toolCalls;
  if (reasoning !== '') message['reasoning_content'] = reasoning;

  const usage = anthropicUsage(body['usage']);
  const completion: OpenAIChatCompletion = {
    id: completionId(body['id']),
    object: 'chat.completion',
    created,
    model,
    choices: [{ index: 0, message, finish_reason: mapStopReason(body['stop_reason'], toolCalls.length > 0) }],
    usage: openAIUsage(usage),
  };
  return { completion, usage };
}
