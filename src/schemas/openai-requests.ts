import { z } from 'zod';

/**
 * Schemas for OpenAI-compatible request bodies. Objects are loose: fields the gateway does not
 * know pass through to OpenAI-compatible upstreams untouched. Two levels:
 * - `chatRequestSchema`, for every chat request: only what the gateway itself reads (the model it
 *   routes on, `stream`, the token limits and `n` it budgets on, the messages it estimates and
 *   compares). A role, content part, tool or field released tomorrow reaches an
 *   OpenAI-compatible upstream as sent.
 * - `translatedChatSchema`, checked only when a request is translated for another provider: the
 *   known fields the translators read, in their known shapes. Parts of a type the translators do
 *   not know are not refused here; the translator maps or drops them (docs/passthrough.md).
 */

/** Validates objects whose `type` has a schema here, and lets any other type through for the translator to map or drop. */
function knownTypes(schemas: Record<string, z.ZodType>) {
  return z.looseObject({ type: z.string().min(1) }).superRefine((value, ctx) => {
    const schema = schemas[value.type];
    if (!schema) return;
    const parsed = schema.safeParse(value);
    if (parsed.success) return;
    for (const issue of parsed.error.issues) ctx.addIssue({ code: 'custom', message: issue.message, path: issue.path });
  });
}

const message = z.looseObject({
  role: z.string().min(1),
  content: z.union([z.string(), z.array(z.looseObject({})), z.null()]).optional(),
  tool_calls: z.array(z.looseObject({})).optional(),
});

export const chatRequestSchema = z.looseObject({
  model: z.string().min(1).max(256),
  messages: z.array(message).min(1, 'messages must contain at least one message'),
  stream: z.boolean().optional(),
  stream_options: z.looseObject({ include_usage: z.boolean().optional() }).optional(),
  max_tokens: z.number().int().positive().optional(),
  max_completion_tokens: z.number().int().positive().optional(),
  n: z.number().int().min(1).max(128).optional(),
});

/** A function tool's name; the Responses API schema checks its tools against the same rule. */
export const toolName = z.string().regex(/^[a-zA-Z0-9_.-]{1,128}$/, 'tool names are 1-128 letters, digits, "_", "." or "-"');

const contentPart = z.looseObject({ type: z.string().min(1) });

const toolCall = z.looseObject({
  id: z.string().min(1),
  function: z.looseObject({ name: z.string().min(1), arguments: z.string() }),
});

const translatedMessage = z.looseObject({
  role: z.string().min(1),
  content: z.union([z.string(), z.array(contentPart), z.null()]).optional(),
  name: z.string().optional(),
  tool_calls: z.array(knownTypes({ function: toolCall })).optional(),
  tool_call_id: z.string().optional(),
});

const functionTool = z.looseObject({
  function: z.looseObject({
    name: toolName,
    description: z.string().optional(),
    parameters: z.record(z.string(), z.unknown()).optional(),
    strict: z.boolean().nullish(),
  }),
});

const toolChoice = z.union([
  z.enum(['none', 'auto', 'required']),
  knownTypes({ function: z.looseObject({ function: z.looseObject({ name: z.string().min(1) }) }) }),
]);

const responseFormat = knownTypes({
  json_schema: z.looseObject({
    json_schema: z.looseObject({ name: z.string().min(1), schema: z.record(z.string(), z.unknown()).optional(), strict: z.boolean().nullish(), description: z.string().optional() }),
  }),
});

export const translatedChatSchema = z.looseObject({
  messages: z.array(translatedMessage),
  temperature: z.number().min(0).max(2).optional(),
  top_p: z.number().min(0).max(1).optional(),
  stop: z.union([z.string(), z.array(z.string()).max(16)]).optional(),
  tools: z.array(knownTypes({ function: functionTool })).optional(),
  tool_choice: toolChoice.optional(),
  parallel_tool_calls: z.boolean().optional(),
  response_format: responseFormat.optional(),
  seed: z.number().int().optional(),
  user: z.string().optional(),
});

export const embeddingsRequestSchema = z.looseObject({
  model: z.string().min(1).max(256),
  input: z.union([
    z.string(),
    z.array(z.string()).min(1, 'input must not be empty'),
    z.array(z.number().int()).min(1, 'input must not be empty'),
    z.array(z.array(z.number().int()).min(1)).min(1, 'input must not be empty'),
  ]),
  encoding_format: z.enum(['float', 'base64']).optional(),
  dimensions: z.number().int().positive().max(65_536).optional(),
  user: z.string().optional(),
});

/** Top-level optional fields that clients (LangChain, some SDKs) send as null to mean "not set". */
export const NULLABLE_TOP_LEVEL = ['stream', 'stream_options', 'max_tokens', 'max_completion_tokens', 'temperature', 'top_p', 'n', 'stop', 'tools', 'tool_choice', 'parallel_tool_calls', 'response_format', 'seed', 'user', 'encoding_format', 'dimensions'];
