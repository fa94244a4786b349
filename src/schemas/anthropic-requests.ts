import { z } from 'zod';

/**
 * Anthropic Messages API request bodies on `/anthropic/v1/messages`. Only what the gateway reads
 * itself is checked: the model it routes on, `max_tokens` and `stream`, and the shape of the
 * parts it estimates (content as text or a list of blocks). Roles, block types, tools and every
 * other field are Anthropic's business and reach it as sent, so a client released tomorrow (a
 * new role, block type or top-level field) keeps working.
 */
const contentBlock = z.looseObject({});
const content = z.union([z.string(), z.array(contentBlock)]);

export const anthropicMessagesSchema = z.looseObject({
  model: z.string().min(1).max(256),
  max_tokens: z.number().int().positive(),
  messages: z.array(z.looseObject({ content: content.optional() })).min(1, 'messages must hold at least one message'),
  system: content.optional(),
  stream: z.boolean().optional(),
});

export type AnthropicMessagesRequest = z.infer<typeof anthropicMessagesSchema>;
