import { z } from 'zod';

/**
 * Anthropic Messages API request bodies on `/anthropic/v1/messages`. Loose: the body goes to
 * Anthropic unchanged but for `model`, so only what the gateway reads itself is checked.
 */
const contentBlock = z.looseObject({ type: z.string().min(1) });

export const anthropicMessagesSchema = z.looseObject({
  model: z.string().min(1).max(256),
  max_tokens: z.number().int().positive(),
  messages: z
    .array(z.looseObject({ role: z.enum(['user', 'assistant']), content: z.union([z.string(), z.array(contentBlock)]) }))
    .min(1, 'messages must hold at least one message'),
  system: z.union([z.string(), z.array(contentBlock)]).optional(),
  stream: z.boolean().optional(),
});

export type AnthropicMessagesRequest = z.infer<typeof anthropicMessagesSchema>;
