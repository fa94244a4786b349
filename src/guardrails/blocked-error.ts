import { GatewayError } from '../errors/gateway-error.js';
import type { GuardrailHit } from './compile.js';

/** The error a block becomes: 400 `guardrail_blocked`, naming the guardrail (as `param` too) and what it found. */
export function guardrailBlocked(hit: GuardrailHit, where: 'input' | 'output' | 'tool arguments' | 'tool result'): GatewayError {
  return new GatewayError('SF_ERR_GUARDRAIL_BLOCKED', {
    message: `The guardrail "${hit.guardrail}" blocked the ${where} (${hit.categories.join(', ')}).`,
    param: hit.guardrail,
  });
}
