import type { z } from 'zod';
import { GatewayError } from './gateway-error.js';

/** `messages[0].content` style path for the field an error is about. */
function issuePath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const part of path) out += typeof part === 'number' ? `[${part}]` : out ? `.${String(part)}` : String(part);
  return out;
}

/** The first schema issue as a 400 naming the field. */
export function invalidRequest(error: z.ZodError): GatewayError {
  const issue = error.issues[0];
  // An unknown field is reported on the object that holds it: name the field itself.
  const unknownField = issue?.code === 'unrecognized_keys' ? issue.keys[0] : undefined;
  const param = issue ? issuePath(unknownField === undefined ? issue.path : [...issue.path, unknownField]) : '';
  const message = !issue ? 'The request body is not valid.' : unknownField !== undefined ? issue.message : `${param ? `${param}: ` : ''}${issue.message}`;
  return new GatewayError('SF_ERR_INVALID_REQUEST', { message, param: param || null });
}
