import type { RequestHandlerExtra } from '@modelcontextprotocol/sdk/shared/protocol.js';
import type { ServerNotification, ServerRequest } from '@modelcontextprotocol/sdk/types.js';
import type { UpstreamCallOptions } from '../upstream/upstream-pool.js';

export type HandlerExtra = RequestHandlerExtra<ServerRequest, ServerNotification>;

/**
 * How a downstream request travels upstream: the client's cancellation (`notifications/cancelled`
 * aborts `extra.signal`) cancels the upstream request, and the upstream's progress comes back
 * under the token the client chose. The upstream connection uses its own tokens.
 */
export function forwardingOptions(extra: HandlerExtra): UpstreamCallOptions {
  const progressToken = extra._meta?.progressToken;
  if (progressToken === undefined) return { signal: extra.signal };
  return {
    signal: extra.signal,
    onprogress: (progress) => {
      extra.sendNotification({ method: 'notifications/progress', params: { ...progress, progressToken } }).catch(() => undefined);
    },
  };
}

/** A request's `_meta` for the upstream: everything but the progress token, which belongs to this session. */
export function upstreamMeta(meta: Record<string, unknown> | undefined): Record<string, unknown> | undefined {
  const { progressToken: _progress, ...rest } = meta ?? {};
  return Object.keys(rest).length ? rest : undefined;
}
