import { z } from 'zod';

/**
 * Schemas for OpenAI-compatible request bodies. Objects are loose: fields the gateway does
 * not know pass through to OpenAI-compatible upstreams untouched. Only what the gateway
 * itself reads, or what would make a translated request wrong, is checked.
 */

const contentPart = z.looseObject({ type: z.string().min(1) });

const toolCall = z.looseObject({
  id: z.string().min(1),
  type: z.literal('function'),
  function: z.looseObject({ name: z.string().min(1), arguments: z.string() }),
});

const message = z.looseObject({
  role: z.enum(['system', 'developer', 'user', 'assistant', 'tool', 'function']),
  content: z.union([z.string(), z.array(contentPart), z.null()]).optional(),
  name: z.string().optional(),
  tool_calls: z.array(toolCall).optional(),
  tool_call_id: z.string().optional(),
});

/** A function tool's name; the Responses API schema checks its tools against the same rule. */
export const toolName = z.string().regex(/^[a-zA-Z0-9_.-]{1,128}$/, 'tool names are 1-128 letters, digits, "_", "." or "-"');

const tool = z.looseObject({
  type: z.literal('function'),
  function: z.looseObject({
    name: toolName,
    description: z.string().optional(),
    parameters: z.record(z.string(), z.unknown()).optional(),
    strict: z.boolean().nullish(),
  }),
});

const toolChoice = z.union([
  z.enum(['none', 'auto', 'required']),
  z.looseObject({ type: z.literal('function'), function: z.looseObject({ name: z.string().min(1) }) }),
]);

const responseFormat = z.discriminatedUnion('type', [
  z.looseObject({ type: z.literal('text') }),
  z.looseObject({ type: z.literal('json_object') }),
  z.looseObject({
    type: z.literal('json_schema'),
    json_schema: z.looseObject({ name: z.string().min(1), schema: z.record(z.string(), z.unknown()).optional(), strict: z.boolean().nullish(), description: z.string().optional() }),
  }),
]);

export const chatRequestSchema = z.looseObject({
  model: z.string().min(1).max(256),
  messages: z.array(message).min(1, 'messages must contain at least one message'),
  stream: z.boolean().optional(),
  stream_options: z.looseObject({ include_usage: z.boolean().optional() }).optional(),
  max_tokens: z.number().int().positive().optional(),
  max_completion_tokens: z.number().int().positive().optional(),
  temperature: z.number().min(0).max(2).optional(),
  top_p: z.number().min(0).max(1).optional(),
  n: z.number().int().min(1).max(128).optional(),
  stop: z.union([z.string(), z.array(z.string()).max(16)]).optional(),
  tools: z.array(tool).optional(),
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
