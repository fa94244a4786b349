import { GatewayError } from '../../errors/gateway-error.js';
import { invalidRequest } from '../../errors/from-zod.js';
import { anthropicMessagesSchema, type AnthropicMessagesRequest } from '../../schemas/anthropic-requests.js';
import { chatRequestSchema, embeddingsRequestSchema, NULLABLE_TOP_LEVEL } from '../../schemas/openai-requests.js';
import type { OpenAIChatRequest, OpenAIEmbeddingsRequest } from '../../providers/types.js';
import { prepareResponses } from '../../providers/responses/prepare.js';
import type { Stage } from '../types.js';

function withoutNulls(body: Record<string, unknown>): Record<string, unknown> {
  let copy: Record<string, unknown> | undefined;
  for (const key of NULLABLE_TOP_LEVEL) {
    if (body[key] === null) {
      copy ??= { ...body };
      delete copy[key];
    }
  }
  return copy ?? body;
}

/** Checks the body against the operation's schema; runs after authentication so strangers learn nothing. */
export function createValidateRequestStage(): Stage {
  return {
    name: 'validate-request',
    async run(ctx, next) {
      const raw = ctx.rawBody;
      if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
        throw new GatewayError('SF_ERR_INVALID_REQUEST', { message: 'The request body must be a JSON object.' });
      }
      const body = withoutNulls(raw as Record<string, unknown>);
      if (ctx.operation === 'responses') {
        const { chat, state } = prepareResponses(raw as Record<string, unknown>);
        ctx.request = { operation: 'responses', body: chat, native: state };
      } else if (ctx.operation === 'messages') {
        const parsed = anthropicMessagesSchema.safeParse(raw);
        if (!parsed.success) throw invalidRequest(parsed.error);
        // The body as the client sent it, not the parser's copy: a native upstream gets its fields in their order.
        ctx.request = { operation: 'messages', body: raw as AnthropicMessagesRequest, query: ctx.rawQuery };
      } else if (ctx.operation === 'chat') {
        const parsed = chatRequestSchema.safeParse(body);
        if (!parsed.success) throw invalidRequest(parsed.error);
        ctx.request = { operation: 'chat', body: body as OpenAIChatRequest };
      } else {
        const parsed = embeddingsRequestSchema.safeParse(body);
        if (!parsed.success) throw invalidRequest(parsed.error);
        ctx.request = { operation: 'embeddings', body: parsed.data as OpenAIEmbeddingsRequest };
      }
      await next();
    },
  };
}
