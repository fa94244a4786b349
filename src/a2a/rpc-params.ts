import { z } from 'zod';

/**
 * The params of each operation, as far as the gateway reads them. Objects are loose: unknown
 * fields of messages and parts stay (and are kept in the task record), as the spec's extension
 * points (`metadata`, `extensions`, new part kinds) require.
 */

const part = z.looseObject({});
const message = z.looseObject({
  role: z.enum(['user', 'agent', 'ROLE_USER', 'ROLE_AGENT']),
  parts: z.array(part).min(1).max(1000),
  messageId: z.string().min(1).max(256).optional(),
  contextId: z.string().min(1).max(256).optional(),
  sessionId: z.string().min(1).max(256).optional(),
  taskId: z.string().min(1).max(256).optional(),
});

export const sendParams = z.looseObject({
  /** 0.1: the task id is the caller's. */
  id: z.string().min(1).max(256).optional(),
  sessionId: z.string().min(1).max(256).optional(),
  message,
  configuration: z
    .looseObject({
      blocking: z.boolean().optional(),
      returnImmediately: z.boolean().optional(),
      historyLength: z.number().int().min(0).optional(),
      acceptedOutputModes: z.array(z.string()).optional(),
    })
    .optional(),
  historyLength: z.number().int().min(0).optional(),
  metadata: z.looseObject({}).optional(),
});

export const taskIdParams = z.looseObject({
  id: z.string().min(1).max(256),
  historyLength: z.number().int().min(0).optional(),
});

export const listParams = z.looseObject({
  contextId: z.string().max(256).optional(),
  status: z.string().max(64).optional(),
  pageSize: z.number().int().min(1).max(100).optional(),
  pageToken: z.string().max(64).optional(),
  historyLength: z.number().int().min(0).optional(),
});

/** Push-config params differ per dialect (push-rpc.ts reads them); here only: an object. */
export const pushParams = z.looseObject({});

export type SendParams = z.infer<typeof sendParams>;
