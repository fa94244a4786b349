import type { GatewayError } from './gateway-error.js';

/** OpenAI error JSON, the shape of every error on the OpenAI-compatible surface. */
export interface OpenAIErrorBody {
  error: { message: string; type: string; code: string; param: string | null };
}

export function toOpenAIError(err: GatewayError): OpenAIErrorBody {
  return { error: { message: err.message, type: err.wireType, code: err.wireCode, param: err.param } };
}

/** Anthropic error JSON, for the native Anthropic surface. */
export interface AnthropicErrorBody {
  type: 'error';
  error: { type: string; message: string };
}

const ANTHROPIC_TYPE_BY_STATUS: Record<number, string> = {
  400: 'invalid_request_error',
  401: 'authentication_error',
  403: 'permission_error',
  404: 'not_found_error',
  413: 'request_too_large',
  429: 'rate_limit_error',
  529: 'overloaded_error',
};

export function toAnthropicError(err: GatewayError): AnthropicErrorBody {
  const type = ANTHROPIC_TYPE_BY_STATUS[err.status] ?? 'api_error';
  return { type: 'error', error: { type, message: err.message } };
}
