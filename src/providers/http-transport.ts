import { Pool, errors as undiciErrors, type Dispatcher } from 'undici';
import { GatewayError } from '../errors/gateway-error.js';
import type { CancelSignal } from '../core/cancellation.js';
import type { UpstreamRequest } from './types.js';

export interface UpstreamResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Dispatcher.ResponseData['body'];
}

/**
 * Upstream HTTP through undici connection pools, one per origin, kept for the life of the
 * gateway. Global fetch is avoided on purpose: it costs several times the CPU per request.
 */
export class HttpTransport {
  private readonly pools = new Map<string, Pool>();

  private pool(origin: string): Pool {
    let pool = this.pools.get(origin);
    if (!pool) {
      pool = new Pool(origin, { connections: 256, keepAliveTimeout: 30_000 });
      this.pools.set(origin, pool);
    }
    return pool;
  }

  /** `timeoutMs` bounds the wait for response headers and for each gap between body chunks. */
  async send(req: UpstreamRequest, signal: CancelSignal, timeoutMs: number): Promise<UpstreamResponse> {
    const { origin, path } = splitUrl(req.url);
    try {
      const res = await this.pool(origin).request({
        method: req.method,
        path,
        headers: req.headers,
        body: req.body ?? null,
        signal,
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
      });
      return { status: res.statusCode, headers: res.headers, body: res.body };
    } catch (err) {
      throw transportError(err, signal);
    }
  }

  async close(): Promise<void> {
    await Promise.all([...this.pools.values()].map((p) => p.close().catch(() => undefined)));
    this.pools.clear();
  }
}

const splitCache = new Map<string, { origin: string; path: string }>();

/**
 * Origin and path of an upstream URL. Parsing a URL costs microseconds and the URLs repeat
 * (one per provider and endpoint), so results are remembered, up to a bound.
 */
function splitUrl(url: string): { origin: string; path: string } {
  let hit = splitCache.get(url);
  if (!hit) {
    const u = new URL(url);
    hit = { origin: u.origin, path: u.pathname + u.search };
    if (splitCache.size >= 1000) splitCache.clear();
    splitCache.set(url, hit);
  }
  return hit;
}

/** Maps undici failures to typed, retryable gateway errors without leaking URLs or headers. */
function transportError(err: unknown, signal?: CancelSignal): GatewayError {
  if (err instanceof GatewayError) return err;
  if (signal?.aborted) {
    return new GatewayError('SF_ERR_CLIENT_CLOSED', { cause: err });
  }
  if (err instanceof undiciErrors.HeadersTimeoutError || err instanceof undiciErrors.BodyTimeoutError || err instanceof undiciErrors.ConnectTimeoutError) {
    return new GatewayError('SF_ERR_UPSTREAM_TIMEOUT', { retryable: true, cause: err });
  }
  return new GatewayError('SF_ERR_UPSTREAM_UNREACHABLE', { retryable: true, cause: err });
}
