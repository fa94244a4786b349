import { hash, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest, preHandlerAsyncHookHandler } from 'fastify';
import type { GatewayConfig } from '../config/schema.js';
import { GatewayError } from '../errors/gateway-error.js';
import { extractApiKey, type Authenticator } from '../keys/authenticator.js';
import { sendError } from './error-response.js';

export type MetricsAuth = 'open' | 'master_key' | 'token';

/** `metrics.auth` as configured, or the default: the token when one is set, else admins only. */
export function metricsAuthOf(settings: GatewayConfig['metrics']): MetricsAuth {
  return settings.auth ?? (settings.token !== undefined ? 'token' : 'master_key');
}

/**
 * preHandler for GET /metrics. The metrics name every model, provider and what each one cost, so
 * they are not open unless the operator says so. A scraper gets its own token (`metrics.token`)
 * rather than the master key; admins may always read them.
 */
export function metricsAccess(settings: GatewayConfig['metrics'], authenticator: Authenticator): preHandlerAsyncHookHandler {
  const auth = metricsAuthOf(settings);
  const expected = auth === 'token' && settings.token !== undefined ? hash('sha256', settings.token, 'buffer') : null;
  return async function (this: unknown, request: FastifyRequest, reply: FastifyReply) {
    if (auth === 'open') return;
    const presented = extractApiKey(request.headers);
    // Compared over digests: constant time whatever the lengths.
    if (expected && presented !== undefined && timingSafeEqual(hash('sha256', presented, 'buffer'), expected)) return;
    try {
      const principal = await authenticator.authenticate(request.headers);
      if (!principal.isAdmin) {
        throw new GatewayError('SF_ERR_FORBIDDEN', { message: `GET /metrics needs ${auth === 'token' ? 'the metrics token or ' : ''}the master key.` });
      }
    } catch (err) {
      await sendError(request, reply, err);
    }
  };
}
