import type { OpenAIUsage, Usage } from '../types.js';
import { isRecord, tokenCount } from '../wire-utils.js';
import type { ClientToolName, ToolNames } from './translate-request.js';

/** What a translated answer needs besides the chat answer itself: its ids, time, model and the request to echo. */
export interface ResponseMeta {
  /** `resp_<hex>`; item ids reuse the hex part. */
  id: string;
  /** Unix seconds. */
  createdAt: number;
  /** The model name the client asked for. */
  model: string;
  /** The client's Responses request body as sent: the answer echoes its settings, as OpenAI's does. */
  body: Readonly<Record<string, unknown>>;
  /** Chat names of namespaced functions, so their calls come back under the namespace and name the client gave. */
  toolNames?: ToolNames;
}

/** The client's tool a chat tool call stands for: a namespaced or custom one, or a plain function of the same name. */
export function clientTool(chatName: string, meta: ResponseMeta): ClientToolName {
  return meta.toolNames?.get(chatName) ?? { name: chatName };
}

/** A call's name fields as the client expects them: its own name, and its namespace when it had one. */
export function callNames(tool: ClientToolName): { name: string; namespace?: string } {
  return tool.namespace === undefined ? { name: tool.name } : { name: tool.name, namespace: tool.namespace };
}

/** A custom tool's input from the arguments of the function it ran as; the arguments as they are when the model did not follow its one-string schema. */
export function customInput(args: string): string {
  try {
    const parsed: unknown = JSON.parse(args);
    if (isRecord(parsed) && typeof parsed['input'] === 'string') return parsed['input'];
  } catch {
    // Not JSON: the model wrote the input itself.
  }
  return args;
}

export interface ResponsesUsage {
  input_tokens: number;
  input_tokens_details: { cached_tokens: number };
  output_tokens: number;
  output_tokens_details: { reasoning_tokens: number };
  total_tokens: number;
}

/** An output item (message, function_call, reasoning); only the fields every item has are typed. */
export type ResponsesOutputItem = { type: string; id: string; [key: string]: unknown };

export type ResponseStatus = 'in_progress' | 'completed' | 'incomplete' | 'failed';

/** The Response object of the Responses API, as far as the gateway builds it. */
export interface ResponseObject {
  id: string;
  object: 'response';
  created_at: number;
  status: ResponseStatus;
  error: { code: string; message: string } | null;
  incomplete_details: { reason: 'max_output_tokens' | 'content_filter' } | null;
  instructions: unknown;
  max_output_tokens: unknown;
  model: string;
  output: ResponsesOutputItem[];
  parallel_tool_calls: unknown;
  previous_response_id: null;
  reasoning: unknown;
  store: false;
  temperature: unknown;
  text: unknown;
  tool_choice: unknown;
  tools: unknown;
  top_p: unknown;
  truncation: unknown;
  usage: ResponsesUsage | null;
  user: unknown;
  metadata: unknown;
}

/** An item id: the item type's prefix, the response's hex part, and the item's output index. */
export function itemId(prefix: 'msg' | 'fc' | 'ctc' | 'rs', meta: ResponseMeta, outputIndex: number): string {
  return `${prefix}_${meta.id.replace(/^resp_/, '')}_${outputIndex}`;
}

/** A Response with the request's settings echoed the way OpenAI echoes them (its defaults where the request set none). */
export function responseObject(meta: ResponseMeta, status: ResponseStatus, output: ResponsesOutputItem[], usage: ResponsesUsage | null): ResponseObject {
  const b = meta.body;
  const echo = (key: string, fallback: unknown): unknown => b[key] ?? fallback;
  return {
    id: meta.id,
    object: 'response',
    created_at: meta.createdAt,
    status,
    error: null,
    incomplete_details: null,
    instructions: echo('instructions', null),
    max_output_tokens: echo('max_output_tokens', null),
    model: meta.model,
    output,
    parallel_tool_calls: echo('parallel_tool_calls', true),
    previous_response_id: null,
    reasoning: echo('reasoning', { effort: null, summary: null }),
    store: false,
    temperature: echo('temperature', 1),
    text: echo('text', { format: { type: 'text' } }),
    tool_choice: echo('tool_choice', 'auto'),
    tools: echo('tools', []),
    top_p: echo('top_p', 1),
    truncation: echo('truncation', 'disabled'),
    usage,
    user: echo('user', null),
    metadata: echo('metadata', {}),
  };
}

/** Chat usage -> Responses usage. Anthropic cache writes are in the input count, as they are in chat's `prompt_tokens`. */
export function responsesUsage(u: OpenAIUsage): ResponsesUsage {
  const input = tokenCount(u.prompt_tokens);
  const output = tokenCount(u.completion_tokens);
  const details = isRecord(u['completion_tokens_details']) ? u['completion_tokens_details'] : {};
  return {
    input_tokens: input,
    input_tokens_details: { cached_tokens: tokenCount(u.prompt_tokens_details?.cached_tokens) },
    output_tokens: output,
    output_tokens_details: { reasoning_tokens: tokenCount(details['reasoning_tokens']) },
    total_tokens: input + output,
  };
}

/**
 * Output items of the tools OpenAI runs, and bills per call, itself -> the kind the price table
 * names (`server_tool_calls`). Client-run calls (function, custom, shell ...) cost only tokens.
 */
const HOSTED_CALL_KINDS: Readonly<Record<string, string>> = {
  web_search_call: 'web_search',
  file_search_call: 'file_search',
  code_interpreter_call: 'code_interpreter',
  image_generation_call: 'image_generation',
};

/** Hosted tool calls among a Response's output items, by kind; undefined when there are none. */
function serverToolCalls(output: unknown): Record<string, number> | undefined {
  if (!Array.isArray(output)) return undefined;
  let calls: Record<string, number> | undefined;
  for (const item of output) {
    const kind = isRecord(item) && typeof item['type'] === 'string' ? HOSTED_CALL_KINDS[item['type']] : undefined;
    if (kind === undefined) continue;
    calls ??= {};
    calls[kind] = (calls[kind] ?? 0) + 1;
  }
  return calls;
}

/** A Response's usage in the gateway's vocabulary: what native answers are charged by. */
export function usageFromResponses(u: unknown): Usage {
  const r = isRecord(u) ? u : {};
  const details = isRecord(r['input_tokens_details']) ? r['input_tokens_details'] : {};
  return { input_tokens: tokenCount(r['input_tokens']), cached_input_tokens: tokenCount(details['cached_tokens']), output_tokens: tokenCount(r['output_tokens']) };
}

/** `usage` with the hosted tool calls among a Response's `output` items added, for per-call prices. */
export function withServerToolCalls(usage: Usage, output: unknown): Usage {
  const calls = serverToolCalls(output);
  return calls ? { ...usage, server_tool_calls: calls } : usage;
}
