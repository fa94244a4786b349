import type { z } from 'zod';
import { GatewayError } from '../../errors/gateway-error.js';
import { chatRequestSchema, embeddingsRequestSchema, NULLABLE_TOP_LEVEL } from '../../http/schemas/openai-requests.js';
import type { OpenAIChatRequest, OpenAIEmbeddingsRequest } from '../../providers/types.js';
import type { Stage } from '../types.js';

/** `messages[0].content` style path for the field an error is about. */
export function issuePath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const part of path) out += typeof part === 'number' ? `[${part}]` : out ? `.${String(part)}` : String(part);
  return out;
}

/** The first schema issue as a 400 naming the field. */
export function invalidRequest(error: z.ZodError): GatewayError {
  const issue = error.issues[0];
  const param = issue ? issuePath(issue.path) : '';
  const message = issue ? `${param ? `${param}: ` : ''}${issue.message}` : 'The request body is not valid.';
  return new GatewayError('SF_ERR_INVALID_REQUEST', { message, param: param || null });
}

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
      if (ctx.operation === 'chat') {
        const parsed = chatRequestSchema.safeParse(body);
        if (!parsed.success) throw invalidRequest(parsed.error);
        ctx.request = { operation: 'chat', body: parsed.data as OpenAIChatRequest };
      } else {
        const parsed = embeddingsRequestSchema.safeParse(body);
        if (!parsed.success) throw invalidRequest(parsed.error);
        ctx.request = { operation: 'embeddings', body: parsed.data as OpenAIEmbeddingsRequest };
      }
      await next();
    },
  };
}
