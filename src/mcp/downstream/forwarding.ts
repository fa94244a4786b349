import type { RequestHandlerExtra } from '@modelcontextprotocol/sdk/shared/protocol.js';
import type { ServerNotification, ServerRequest } from '@modelcontextprotocol/sdk/types.js';
import { collectForwarded, type ForwardedHeaders } from '../auth/forwarded-headers.js';
import type { UpstreamCallOptions } from '../upstream/upstream-pool.js';

export type HandlerExtra = RequestHandlerExtra<ServerRequest, ServerNotification>;

/**
 * Runs a downstream request upstream: the client's cancellation (`notifications/cancelled` aborts
 * `extra.signal`) cancels the upstream request, and the upstream's progress comes back under the
 * token the client chose (the upstream connection uses its own tokens). The result waits for the
 * progress notifications already on their way, so the last one cannot overtake it (a client drops
 * progress that arrives after the result).
 */
export async function forwarded<T>(extra: HandlerExtra, run: (options: UpstreamCallOptions) => Promise<T>): Promise<T> {
  const progressToken = extra._meta?.progressToken;
  const headers = forwardedOf(extra);
  if (progressToken === undefined) return run({ signal: extra.signal, forwarded: headers });
  let sent: Promise<unknown> = Promise.resolve();
  const onprogress: UpstreamCallOptions['onprogress'] = (progress) => {
    sent = sent.then(() => extra.sendNotification({ method: 'notifications/progress', params: { ...progress, progressToken } })).catch(() => undefined);
  };
  try {
    return await run({ signal: extra.signal, onprogress, forwarded: headers });
  } finally {
    await sent;
  }
}

/** The `x-mcp-*` headers of the HTTP request that carried this message (a POST to /mcp or /message). */
export function forwardedOf(extra: Pick<HandlerExtra, 'requestInfo'>): ForwardedHeaders {
  return collectForwarded(extra.requestInfo?.headers);
}

/** A request's `_meta` for the upstream: everything but the progress token, which belongs to this session. */
export function upstreamMeta(meta: Record<string, unknown> | undefined): Record<string, unknown> | undefined {
  const { progressToken: _progress, ...rest } = meta ?? {};
  return Object.keys(rest).length ? rest : undefined;
}
