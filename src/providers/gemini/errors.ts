import { GatewayError } from '../../errors/gateway-error.js';
import { scrubAccountIds } from '../scrub-account-ids.js';
import { headerValue, isRecord } from '../wire-utils.js';

/** Google's error envelope: `{ error: { code, message, status, details } }`. */
interface GoogleErrorBody {
  code?: unknown;
  message?: unknown;
  status?: unknown;
  details?: unknown;
}

/**
 * Pulls the `error` object out of a Google error body. The JSON-array form appears when a
 * streaming call fails without `alt=sse`; tolerate it rather than lose the message.
 */
function parseGoogleError(parsed: unknown): GoogleErrorBody | undefined {
  const root = Array.isArray(parsed) ? (parsed[0] as unknown) : parsed;
  if (!isRecord(root) || !isRecord(root['error'])) return undefined;
  return root['error'];
}

/** RetryInfo's `retryDelay` ("12s", "0.5s") -> whole seconds for a Retry-After header, rounded up. */
function retryDelaySeconds(details: unknown): string | undefined {
  if (!Array.isArray(details)) return undefined;
  for (const d of details) {
    if (!isRecord(d) || typeof d['retryDelay'] !== 'string') continue;
    const m = /^(\d+(?:\.\d+)?)s$/.exec(d['retryDelay'].trim());
    if (m?.[1] !== undefined) return String(Math.ceil(Number(m[1])));
  }
  return undefined;
}

const CONTEXT_PATTERN = /input token count.*exceeds|exceeds the maximum number of tokens|context (?:window|length)|too many tokens|prompt is too long/i;

/**
 * Gemini HTTP error (or in-stream `error` object) -> GatewayError. The upstream status is kept
 * so clients and the retry logic see what Google said; 429 and context-window errors get their
 * own codes because clients handle them specially. Retry-After comes from the header or, since
 * Google usually sends none, from the RetryInfo detail.
 */
export function geminiError(status: number, bodyText: string, headers: Record<string, string | string[] | undefined>): GatewayError {
  let parsed: unknown;
  try {
    parsed = JSON.parse(bodyText);
  } catch {
    parsed = undefined;
  }
  const err = parseGoogleError(parsed);
  const rawMessage = typeof err?.message === 'string' && err.message !== '' ? err.message : undefined;
  // Google puts the gateway's API key into some messages (request URLs with `?key=`): masked with the account ids.
  const message = rawMessage === undefined ? `Gemini returned HTTP ${status}.` : scrubAccountIds(rawMessage);
  const upstreamType = typeof err?.status === 'string' && err.status !== '' ? err.status.toLowerCase() : undefined;

  const outHeaders: Record<string, string> = {};
  const retryAfter = headerValue(headers, 'retry-after') ?? retryDelaySeconds(err?.details);
  if (retryAfter !== undefined) outHeaders['retry-after'] = retryAfter;

  // Google answers a bad key with 400 API_KEY_INVALID (or 401): the gateway's key, not the client's.
  if (status === 401 || /API_KEY_INVALID|API key not valid/i.test(bodyText)) {
    return new GatewayError('SF_ERR_UPSTREAM_AUTH', { message: `The provider rejected the gateway's credentials (upstream status ${status}): ${message}`, retryable: false });
  }
  if (status === 429) {
    return new GatewayError('SF_ERR_UPSTREAM_RATE_LIMITED', { status, message, headers: outHeaders });
  }
  if (status === 400 && rawMessage !== undefined && CONTEXT_PATTERN.test(rawMessage)) {
    return new GatewayError('SF_ERR_CONTEXT_LENGTH_EXCEEDED', { status, message, headers: outHeaders });
  }
  const opts = { status, message, headers: outHeaders, ...(upstreamType !== undefined ? { upstreamType } : {}) };
  return new GatewayError('SF_ERR_UPSTREAM_ERROR', opts);
}
