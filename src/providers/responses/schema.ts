import { z } from 'zod';
import { invalidRequest } from '../../errors/from-zod.js';
import { GatewayError } from '../../errors/gateway-error.js';
import { toolName } from '../../schemas/openai-requests.js';
import { isRecord } from '../wire-utils.js';

/**
 * The OpenAI Responses API request (`POST /v1/responses`) as the gateway reads it. Objects are
 * loose: an OpenAI-compatible upstream gets the body as sent, so only what the gateway
 * translates, or refuses, is checked here. Input items and tools the gateway cannot translate
 * (custom tools, shell calls ...) parse as `native` entries: allowed for OpenAI-compatible
 * upstreams, refused when the chosen provider is translated.
 */

/** Parses `value` with `schema` inside another schema's transform, its issues reported at their own paths. */
function parseWithin<T extends z.ZodType>(schema: T, value: unknown, ctx: z.RefinementCtx): z.output<T> {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  for (const issue of parsed.error.issues) ctx.addIssue({ code: 'custom', message: issue.message, path: issue.path });
  return z.NEVER;
}

/** A string, or an array of `item`s; unlike z.union, a bad element is reported at its own path. */
function stringOr<T extends z.ZodType>(item: T, what: string) {
  const array = z.array(item);
  return z.unknown().transform((value, ctx): string | Array<z.output<T>> => {
    if (typeof value === 'string') return value;
    if (!Array.isArray(value)) {
      ctx.addIssue({ code: 'custom', message: `expected a string or an array of ${what}` });
      return z.NEVER;
    }
    return parseWithin(array, value, ctx);
  });
}

const inputText = z.looseObject({ type: z.literal('input_text'), text: z.string() });
const inputImage = z.looseObject({
  type: z.literal('input_image'),
  image_url: z.string().nullish(),
  file_id: z.string().nullish(),
  detail: z.enum(['low', 'high', 'auto', 'original']).optional(),
});
const inputFile = z.looseObject({
  type: z.literal('input_file'),
  file_data: z.string().nullish(),
  file_id: z.string().nullish(),
  file_url: z.string().nullish(),
  filename: z.string().nullish(),
});

const contentPart = z.discriminatedUnion('type', [
  inputText,
  inputImage,
  inputFile,
  z.looseObject({ type: z.literal('output_text'), text: z.string() }),
  z.looseObject({ type: z.literal('refusal'), refusal: z.string() }),
]);

const messageItem = z.looseObject({
  type: z.literal('message'),
  role: z.enum(['user', 'assistant', 'system', 'developer']),
  content: stringOr(contentPart, 'content parts'),
});

const functionCallItem = z.looseObject({
  type: z.literal('function_call'),
  call_id: z.string().min(1),
  name: z.string().min(1),
  arguments: z.string(),
});

const functionCallOutputItem = z.looseObject({
  type: z.literal('function_call_output'),
  call_id: z.string().min(1),
  output: stringOr(z.discriminatedUnion('type', [inputText, inputImage, inputFile]), 'content parts'),
});

/** Reasoning from an earlier turn: passed to OpenAI-compatible upstreams, dropped for translated ones. */
const reasoningItem = z.looseObject({ type: z.literal('reasoning') });

const ITEM_SCHEMAS = {
  message: messageItem,
  function_call: functionCallItem,
  function_call_output: functionCallOutputItem,
  reasoning: reasoningItem,
} as const;

/** A content part of a message (or of a function_call_output), as parsed. */
export type ResponsesContentPart = z.output<typeof contentPart>;

/** An input item of a type only OpenAI-compatible upstreams take (custom_tool_call, shell_call ...). */
interface NativeOnlyItem {
  type: 'native';
  itemType: string;
}

type ResponsesInputItem = z.output<(typeof ITEM_SCHEMAS)[keyof typeof ITEM_SCHEMAS]> | NativeOnlyItem;

const inputItem = z.unknown().transform((value, ctx): ResponsesInputItem => {
  if (!isRecord(value)) {
    ctx.addIssue({ code: 'custom', message: 'expected an input item object' });
    return z.NEVER;
  }
  // EasyInputMessage: a message may leave out its type.
  const type = value['type'] ?? (value['role'] !== undefined ? 'message' : undefined);
  if (typeof type !== 'string' || type === '') {
    ctx.addIssue({ code: 'custom', message: 'input items need a "type" (or a "role" for a message)', path: ['type'] });
    return z.NEVER;
  }
  if (type === 'item_reference') {
    ctx.addIssue({ code: 'custom', message: 'item_reference points at an item stored by OpenAI; the gateway keeps no stored items: send the item itself', path: ['type'] });
    return z.NEVER;
  }
  const schema = ITEM_SCHEMAS[type as keyof typeof ITEM_SCHEMAS];
  if (!schema) return { type: 'native', itemType: type };
  return parseWithin(schema, { ...value, type }, ctx);
});

const functionTool = z.looseObject({
  type: z.literal('function'),
  name: toolName,
  description: z.string().nullish(),
  parameters: z.record(z.string(), z.unknown()).nullish(),
  strict: z.boolean().nullish(),
});

/** Tools the client runs itself, which OpenAI-compatible upstreams take as they are. */
const CLIENT_TOOL_TYPES = new Set(['custom', 'local_shell', 'shell', 'apply_patch']);

/** A client-run tool type only OpenAI-compatible upstreams take. */
interface NativeOnlyTool {
  type: 'native';
  toolType: string;
}

const tool = z.unknown().transform((value, ctx): z.output<typeof functionTool> | NativeOnlyTool => {
  const type = isRecord(value) ? value['type'] : undefined;
  if (type === 'function') return parseWithin(functionTool, value, ctx);
  if (typeof type === 'string' && CLIENT_TOOL_TYPES.has(type)) return { type: 'native', toolType: type };
  // Hosted tools run, and are billed, at the provider (web search, file search, code
  // interpreter, image generation, remote MCP): the gateway can neither meter nor translate them.
  ctx.addIssue({
    code: 'custom',
    message: `tools of type ${JSON.stringify(type ?? null)} are not supported: the gateway serves function tools (and, on OpenAI-compatible providers, the client-run types ${[...CLIENT_TOOL_TYPES].join(', ')}); hosted tools such as web_search run and bill at the provider, where the gateway cannot meter them`,
    path: ['type'],
  });
  return z.NEVER;
});

const toolChoice = z.union([
  z.enum(['none', 'auto', 'required']),
  z.looseObject({ type: z.literal('function'), name: z.string().min(1) }),
  z.looseObject({ type: z.enum(['custom', 'allowed_tools', 'shell', 'apply_patch']) }),
]);

const textFormat = z.discriminatedUnion('type', [
  z.looseObject({ type: z.literal('text') }),
  z.looseObject({ type: z.literal('json_object') }),
  z.looseObject({
    type: z.literal('json_schema'),
    name: z.string().min(1),
    schema: z.record(z.string(), z.unknown()),
    description: z.string().nullish(),
    strict: z.boolean().nullish(),
  }),
]);

const responsesRequestSchema = z.looseObject({
  model: z.string().min(1).max(256),
  input: stringOr(inputItem, 'input items'),
  instructions: z.string().nullish(),
  stream: z.boolean().nullish(),
  max_output_tokens: z.number().int().positive().nullish(),
  temperature: z.number().min(0).max(2).nullish(),
  top_p: z.number().min(0).max(1).nullish(),
  tools: z.array(tool).nullish(),
  tool_choice: toolChoice.nullish(),
  parallel_tool_calls: z.boolean().nullish(),
  text: z.looseObject({ format: textFormat.nullish() }).nullish(),
  reasoning: z.looseObject({ effort: z.string().nullish(), summary: z.string().nullish() }).nullish(),
  metadata: z.record(z.string(), z.string()).nullish(),
  user: z.string().nullish(),
  store: z.boolean().nullish(),
  background: z.boolean().nullish(),
  previous_response_id: z.string().nullish(),
  conversation: z.unknown().optional(),
  prompt: z.unknown().optional(),
});

/** A parsed Responses request: the fields the gateway reads typed, input items and tools sorted into what can be translated and what cannot. */
export type ResponsesRequest = z.output<typeof responsesRequestSchema>;

/** Why a field the gateway cannot honour is refused: each needs state or work at OpenAI. */
const STATEFUL_FIELDS: Array<[string, (v: unknown) => boolean, string]> = [
  ['previous_response_id', (v) => v != null, 'the gateway keeps no conversation state: send the whole conversation in "input" (with "store": false)'],
  ['conversation', (v) => v != null, 'the gateway keeps no conversation state: send the whole conversation in "input"'],
  ['store', (v) => v === true, 'the gateway does not store responses, so they cannot be retrieved or continued later: leave "store" out or set it to false'],
  ['background', (v) => v === true, 'background responses run and are kept at the provider, which the gateway cannot meter: use "stream": true for long answers'],
  ['prompt', (v) => v != null, 'stored prompt templates live at OpenAI: send "instructions" and "input" instead'],
];

/**
 * Parses a Responses API request; a 400 naming the field for anything malformed and for the
 * features the gateway refuses (conversation state, stored prompts, background mode, hosted tools).
 */
export function parseResponsesRequest(body: Record<string, unknown>): ResponsesRequest {
  // Refusals first: a request built around a stored prompt or an earlier response may well lack `input`.
  for (const [field, refused, why] of STATEFUL_FIELDS) {
    if (refused(body[field])) throw new GatewayError('SF_ERR_INVALID_REQUEST', { message: `${field} is not supported: ${why}.`, param: field });
  }
  const parsed = responsesRequestSchema.safeParse(body);
  if (!parsed.success) throw invalidRequest(parsed.error);
  const request = parsed.data;
  if (Array.isArray(request.input) && request.input.length === 0) throw new GatewayError('SF_ERR_INVALID_REQUEST', { message: 'input must contain at least one item.', param: 'input' });
  return request;
}
