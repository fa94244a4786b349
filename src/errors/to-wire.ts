import type { GatewayError } from './gateway-error.js';

/** OpenAI error JSON, the shape of every error on the OpenAI-compatible surface. */
export interface OpenAIErrorBody {
  error: { message: string; type: string; code: string; param: string | null };
}

export function toOpenAIError(err: GatewayError): OpenAIErrorBody {
  return { error: { message: err.message, type: err.wireType, code: err.wireCode, param: err.param } };
}
