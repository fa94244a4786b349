import { z } from 'zod';
import { invalidRequest } from '../../errors/from-zod.js';
import { GatewayError } from '../../errors/gateway-error.js';
import { toolName } from '../../schemas/openai-requests.js';
import { isRecord } from '../wire-utils.js';

/**
 * The OpenAI Responses API request (`POST /v1/responses`) as the gateway reads it, at two levels:
 * - `checkResponsesRequest`, for every request: only what the gateway itself reads (the model,
 *   `stream`, `max_output_tokens`, the input it estimates) and the stateful features it cannot
 *   honour. An OpenAI-compatible upstream gets everything else as sent, so a tool type, input
 *   item, role or field released tomorrow keeps working natively.
 * - `parseResponsesRequest`, when a request is translated to chat for another provider: the
 *   known items, parts and tools in their known shapes. Anything of a type it does not know
 *   parses as `other`, for the translation to map or drop (docs/responses.md).
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

/** A content part of a type the translation does not know (input_audio, or one released later): dropped when translated. */
interface OtherPart {
  type: 'other';
  partType: string;
}

const KNOWN_PARTS = {
  input_text: inputText,
  input_image: inputImage,
  input_file: inputFile,
  output_text: z.looseObject({ type: z.literal('output_text'), text: z.string() }),
  refusal: z.looseObject({ type: z.literal('refusal'), refusal: z.string() }),
} as const;

type KnownPart = z.output<(typeof KNOWN_PARTS)[keyof typeof KNOWN_PARTS]>;

/** A part of a known type parsed by its schema; any other type kept as `other`. */
function partOf<K extends keyof typeof KNOWN_PARTS>(known: readonly K[]) {
  return z.unknown().transform((value, ctx): z.output<(typeof KNOWN_PARTS)[K]> | OtherPart => {
    const type = isRecord(value) ? value['type'] : undefined;
    if (typeof type !== 'string' || type === '') {
      ctx.addIssue({ code: 'custom', message: 'content parts need a "type"', path: ['type'] });
      return z.NEVER;
    }
    if (!(known as readonly string[]).includes(type)) return { type: 'other', partType: type };
    return parseWithin(KNOWN_PARTS[type as K], value, ctx) as z.output<(typeof KNOWN_PARTS)[K]>;
  });
}

const contentPart = partOf(['input_text', 'input_image', 'input_file', 'output_text', 'refusal']);

const messageItem = z.looseObject({
  type: z.literal('message'),
  role: z.string().min(1),
  content: stringOr(contentPart, 'content parts'),
});

const functionCallItem = z.looseObject({
  type: z.literal('function_call'),
  call_id: z.string().min(1),
  name: z.string().min(1),
  namespace: z.string().min(1).optional(),
  arguments: z.string(),
});

const functionCallOutputItem = z.looseObject({
  type: z.literal('function_call_output'),
  call_id: z.string().min(1),
  output: stringOr(partOf(['input_text', 'input_image', 'input_file']), 'content parts'),
});

const customToolCallItem = z.looseObject({
  type: z.literal('custom_tool_call'),
  call_id: z.string().min(1),
  name: z.string().min(1),
  namespace: z.string().min(1).optional(),
  input: z.string(),
});

const customToolCallOutputItem = z.looseObject({
  type: z.literal('custom_tool_call_output'),
  call_id: z.string().min(1),
  output: stringOr(partOf(['input_text', 'input_image', 'input_file']), 'content parts'),
});

/** Reasoning from an earlier turn: passed to OpenAI-compatible upstreams, dropped for translated ones. */
const reasoningItem = z.looseObject({ type: z.literal('reasoning') });

const ITEM_SCHEMAS = {
  message: messageItem,
  function_call: functionCallItem,
  function_call_output: functionCallOutputItem,
  custom_tool_call: customToolCallItem,
  custom_tool_call_output: customToolCallOutputItem,
  reasoning: reasoningItem,
} as const;

/** A content part of a message (or of a function_call_output), as parsed. */
export type ResponsesContentPart = KnownPart | OtherPart;

/** An input item of a type chat has no equivalent for (custom_tool_call, shell_call, web_search_call ...). */
interface OtherItem {
  type: 'other';
  itemType: string;
}

type ResponsesInputItem = z.output<(typeof ITEM_SCHEMAS)[keyof typeof ITEM_SCHEMAS]> | OtherItem;

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
  const schema = ITEM_SCHEMAS[type as keyof typeof ITEM_SCHEMAS];
  if (!schema) return { type: 'other', itemType: type };
  return parseWithin(schema, { ...value, type }, ctx);
});

const functionTool = z.looseObject({
  type: z.literal('function'),
  name: toolName,
  description: z.string().nullish(),
  parameters: z.record(z.string(), z.unknown()).nullish(),
  strict: z.boolean().nullish(),
});

/** A custom tool: the model writes its input as free text, optionally in a grammar (Codex's apply_patch). */
const customTool = z.looseObject({
  type: z.literal('custom'),
  name: toolName,
  description: z.string().nullish(),
  format: z.looseObject({ type: z.string(), syntax: z.string().optional(), definition: z.string().optional() }).nullish(),
});

/** A namespace: a named group of function and custom tools (Codex's MCP servers and agent tools). */
const namespaceTool = z.looseObject({
  type: z.literal('namespace'),
  name: toolName,
  description: z.string().nullish(),
  tools: z.array(z.unknown().transform((value, ctx): z.output<typeof functionTool> | z.output<typeof customTool> | OtherTool => {
    const type = isRecord(value) ? value['type'] : undefined;
    if (type === 'function') return parseWithin(functionTool, value, ctx);
    if (type === 'custom') return parseWithin(customTool, value, ctx);
    return { type: 'other', toolType: typeof type === 'string' ? type : '', raw: isRecord(value) ? value : {} };
  })),
});

/**
 * A tool of any other type: hosted ones (web_search, file_search, code_interpreter ...) and
 * client-run ones (shell, apply_patch, local_shell ...). Kept whole: a translation passes web search
 * on for the provider's own search tool and drops the rest.
 */
interface OtherTool {
  type: 'other';
  toolType: string;
  raw: Record<string, unknown>;
}

const tool = z.unknown().transform((value, ctx): z.output<typeof functionTool> | z.output<typeof customTool> | z.output<typeof namespaceTool> | OtherTool => {
  const type = isRecord(value) ? value['type'] : undefined;
  if (type === 'function') return parseWithin(functionTool, value, ctx);
  if (type === 'custom') return parseWithin(customTool, value, ctx);
  if (type === 'namespace') return parseWithin(namespaceTool, value, ctx);
  if (!isRecord(value) || typeof type !== 'string' || type === '') {
    ctx.addIssue({ code: 'custom', message: 'tools need a "type"', path: ['type'] });
    return z.NEVER;
  }
  return { type: 'other', toolType: type, raw: value };
});

/** A tool_choice or text.format of a type the translation does not know: dropped when translated. */
interface OtherChoice {
  type: 'other';
  choiceType: string;
}

/** An object whose `type` is one of `known` parsed by its schema; any other type kept as `other`. */
function oneOf<S extends Record<string, z.ZodType>>(known: S) {
  return z.unknown().transform((value, ctx): z.output<S[keyof S]> | OtherChoice => {
    const type = isRecord(value) ? value['type'] : undefined;
    if (typeof type !== 'string' || type === '') {
      ctx.addIssue({ code: 'custom', message: 'expected an object with a "type"', path: ['type'] });
      return z.NEVER;
    }
    const schema = known[type];
    return schema ? (parseWithin(schema, value, ctx) as z.output<S[keyof S]>) : { type: 'other', choiceType: type };
  });
}

const toolChoice = z.union([
  z.string().min(1),
  oneOf({
    function: z.looseObject({ type: z.literal('function'), name: z.string().min(1) }),
    custom: z.looseObject({ type: z.literal('custom'), name: z.string().min(1) }),
  }),
]);

const textFormat = oneOf({
  text: z.looseObject({ type: z.literal('text') }),
  json_object: z.looseObject({ type: z.literal('json_object') }),
  json_schema: z.looseObject({
    type: z.literal('json_schema'),
    name: z.string().min(1),
    schema: z.record(z.string(), z.unknown()),
    description: z.string().nullish(),
    strict: z.boolean().nullish(),
  }),
});

/** What the gateway reads of every Responses request, native or translated. */
const gatewayFields = {
  model: z.string().min(1).max(256),
  input: z.union([z.string(), z.array(z.looseObject({}))], { error: 'expected a string or an array of input items' }),
  stream: z.boolean().nullish(),
  max_output_tokens: z.number().int().positive().nullish(),
};

const checkedRequestSchema = z.looseObject(gatewayFields);

const responsesRequestSchema = z.looseObject({
  ...gatewayFields,
  input: stringOr(inputItem, 'input items'),
  instructions: z.string().nullish(),
  temperature: z.number().min(0).max(2).nullish(),
  top_p: z.number().min(0).max(1).nullish(),
  tools: z.array(tool).nullish(),
  tool_choice: toolChoice.nullish(),
  parallel_tool_calls: z.boolean().nullish(),
  text: z.looseObject({ format: textFormat.nullish() }).nullish(),
  user: z.string().nullish(),
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
 * Checks what the gateway reads of every Responses request (model, stream, max_output_tokens,
 * input as text or items), and refuses the features it cannot honour at all (conversation state,
 * stored prompts, background mode, item references): a 400 naming the field.
 */
export function checkResponsesRequest(body: Record<string, unknown>): void {
  // Refusals first: a request built around a stored prompt or an earlier response may well lack `input`.
  for (const [field, refused, why] of STATEFUL_FIELDS) {
    if (refused(body[field])) throw new GatewayError('SF_ERR_INVALID_REQUEST', { message: `${field} is not supported: ${why}.`, param: field });
  }
  const parsed = checkedRequestSchema.safeParse(body);
  if (!parsed.success) throw invalidRequest(parsed.error);
  const input = parsed.data.input;
  if (Array.isArray(input)) {
    if (input.length === 0) throw new GatewayError('SF_ERR_INVALID_REQUEST', { message: 'input must contain at least one item.', param: 'input' });
    const at = input.findIndex((item) => item['type'] === 'item_reference');
    if (at >= 0) throw new GatewayError('SF_ERR_INVALID_REQUEST', { message: 'item_reference points at an item stored by OpenAI; the gateway keeps no stored items: send the item itself.', param: `input[${at}].type` });
  }
}

/**
 * Parses a Responses request for translation to chat: the checks above, then the known items,
 * parts and tools in their shapes (a 400 naming the field when one is malformed).
 */
export function parseResponsesRequest(body: Record<string, unknown>): ResponsesRequest {
  checkResponsesRequest(body);
  const parsed = responsesRequestSchema.safeParse(body);
  if (!parsed.success) throw invalidRequest(parsed.error);
  return parsed.data;
}
