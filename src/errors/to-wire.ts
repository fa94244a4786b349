import type { GatewayError } from './gateway-error.js';

/** OpenAI error JSON, the shape of every error on the OpenAI-compatible surface. */
export interface OpenAIErrorBody {
  error: { message: string; type: string; code: string; param: string | null };
}

export function toOpenAIError(err: GatewayError): OpenAIErrorBody {
  return { error: { message: err.message, type: err.wireType, code: err.wireCode, param: err.param } };
}

/** Anthropic error JSON, the shape of every error on `/anthropic`. */
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

/** Anthropic's own error type when the error came from Anthropic, else the one its API uses for the status. */
export function toAnthropicError(err: GatewayError): AnthropicErrorBody {
  const type = err.upstreamType && /_error$|^request_too_large$/.test(err.upstreamType) ? err.upstreamType : (ANTHROPIC_TYPE_BY_STATUS[err.status] ?? (err.status >= 500 ? 'api_error' : 'invalid_request_error'));
  return { type: 'error', error: { type, message: err.message } };
}

/** The wire surfaces: each renders errors its own clients understand. */
export type ErrorSurface = 'openai' | 'anthropic';

export function renderError(err: GatewayError, surface: ErrorSurface): OpenAIErrorBody | AnthropicErrorBody {
  return surface === 'anthropic' ? toAnthropicError(err) : toOpenAIError(err);
}

/** An error that ends a stream after it started, as the surface's clients expect to read it. */
export function streamErrorFrame(err: GatewayError, surface: ErrorSurface): string {
  return surface === 'anthropic' ? `event: error\ndata: ${JSON.stringify(toAnthropicError(err))}\n\n` : `data: ${JSON.stringify(toOpenAIError(err))}\n\n`;
}
