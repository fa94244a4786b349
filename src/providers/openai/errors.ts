import { GatewayError } from '../../errors/gateway-error.js';
import { scrubAccountIds } from '../scrub-account-ids.js';
import { headerValue } from '../wire-utils.js';

interface OpenAIErrorPayload {
  message?: unknown;
  type?: unknown;
  code?: unknown;
  param?: unknown;
}

/** Headers from an upstream error that the client must see too. */
function passHeaders(headers: Record<string, string | string[] | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of ['retry-after', 'retry-after-ms']) {
    const v = headerValue(headers, name);
    if (v !== undefined) out[name] = v;
  }
  return out;
}

/** An OpenAI-style error object (from a JSON body or an in-stream error event) as a GatewayError, status preserved. */
export function openaiErrorFromPayload(status: number, payload: OpenAIErrorPayload | undefined, headers: Record<string, string | string[] | undefined> = {}): GatewayError {
  const message = typeof payload?.message === 'string' && payload.message ? scrubAccountIds(payload.message) : `Upstream returned ${status}.`;
  const type = typeof payload?.type === 'string' ? payload.type : undefined;
  const code = typeof payload?.code === 'string' ? payload.code : undefined;
  const param = typeof payload?.param === 'string' ? payload.param : null;
  const extraHeaders = passHeaders(headers);
  if (status === 401) {
    // Not the client's fault, so not a 401 to the client (its SDK would blame the client's key).
    // The provider's message can quote part of the gateway's key: never pass it on.
    return new GatewayError('SF_ERR_UPSTREAM_AUTH', { message: `The provider rejected the gateway's credentials (upstream status ${status}). Check the provider's api_key in the gateway configuration.`, retryable: false });
  }
  if (code === 'context_length_exceeded') {
    return new GatewayError('SF_ERR_CONTEXT_LENGTH_EXCEEDED', { status, message, param, upstreamType: type, upstreamCode: code, retryable: false });
  }
  if (status === 429) {
    // `insufficient_quota` is a 429 too, but the account is out of credit: waiting does not fix it.
    const retryable = code !== 'insufficient_quota' && type !== 'insufficient_quota';
    return new GatewayError('SF_ERR_UPSTREAM_RATE_LIMITED', { status, message, param, upstreamType: type, upstreamCode: code ?? null, headers: extraHeaders, retryable });
  }
  return new GatewayError('SF_ERR_UPSTREAM_ERROR', { status, message, param, upstreamType: type, upstreamCode: code ?? null, headers: extraHeaders });
}

/** An OpenAI-compatible upstream's error response as a GatewayError. */
export function openaiError(status: number, bodyText: string, headers: Record<string, string | string[] | undefined>): GatewayError {
  let payload: OpenAIErrorPayload | undefined;
  try {
    const parsed = JSON.parse(bodyText) as { error?: OpenAIErrorPayload | string; message?: string };
    if (parsed && typeof parsed.error === 'object') payload = parsed.error;
    else if (parsed && typeof parsed.error === 'string') payload = { message: parsed.error };
    else if (parsed && typeof parsed.message === 'string') payload = { message: parsed.message };
  } catch {
    payload = undefined;
  }
  return openaiErrorFromPayload(status, payload, headers);
}
