import type { Dialect } from './dialects.js';

/** JSON-RPC and A2A error codes (A2A spec: JSON-RPC error codes; 1.0 §5.4, §9.5). */
export const RPC_ERRORS = {
  parse: { code: -32700, reason: 'PARSE_ERROR', message: 'Invalid JSON payload' },
  invalidRequest: { code: -32600, reason: 'INVALID_REQUEST', message: 'Request payload validation error' },
  methodNotFound: { code: -32601, reason: 'METHOD_NOT_FOUND', message: 'Method not found' },
  invalidParams: { code: -32602, reason: 'INVALID_PARAMS', message: 'Invalid parameters' },
  internal: { code: -32603, reason: 'INTERNAL_ERROR', message: 'Internal error' },
  taskNotFound: { code: -32001, reason: 'TASK_NOT_FOUND', message: 'Task not found' },
  taskNotCancelable: { code: -32002, reason: 'TASK_NOT_CANCELABLE', message: 'Task cannot be canceled' },
  unsupportedOperation: { code: -32004, reason: 'UNSUPPORTED_OPERATION', message: 'This operation is not supported' },
  extendedCardNotConfigured: { code: -32007, reason: 'EXTENDED_AGENT_CARD_NOT_CONFIGURED', message: 'Extended agent card is not configured' },
  versionNotSupported: { code: -32009, reason: 'VERSION_NOT_SUPPORTED', message: 'Protocol version not supported' },
} as const;

export type RpcErrorKind = keyof typeof RPC_ERRORS;

/** An A2A/JSON-RPC failure; the route renders it as the `error` of a JSON-RPC response. */
export class RpcError extends Error {
  constructor(
    readonly kind: RpcErrorKind,
    detail?: string,
  ) {
    super(detail ?? RPC_ERRORS[kind].message);
  }
}

/** The `error` member: 1.0 adds `data` with a google.rpc.ErrorInfo naming the reason. */
export function rpcErrorBody(err: RpcError, dialect: Dialect): Record<string, unknown> {
  const spec = RPC_ERRORS[err.kind];
  const message = err.message === spec.message ? spec.message : `${spec.message}: ${err.message}`;
  if (dialect !== '1.0') return { code: spec.code, message };
  return { code: spec.code, message, data: [{ '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason: spec.reason, domain: 'a2a-protocol.org' }] };
}
