import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { ErrorCode, McpError, type ProgressNotification, type Progress } from '@modelcontextprotocol/sdk/types.js';
import type { z } from 'zod';

/** The longest delay setTimeout takes (about 24.8 days). */
const MAX_TIMER_MS = 2 ** 31 - 1;

export interface ProgressRequestOptions {
  timeoutMs: number;
  onprogress: (progress: Progress) => void;
  signal?: AbortSignal;
}

/**
 * Progress of one upstream connection's requests, routed by tokens of its own. It replaces the
 * SDK's routing, which forgets a request's handler the moment its response arrives while the
 * progress notification before it is still queued, and so drops the last progress of a result
 * that follows it at once. Here a request's sink lives until its caller has the result.
 */
export class ProgressRouter {
  private readonly sinks = new Map<string, (progress: Progress) => void>();
  private issued = 0;

  /** A `notifications/progress` of this connection (the client's handler for that method). */
  deliver(params: ProgressNotification['params']): void {
    const { progressToken, ...progress } = params;
    this.sinks.get(String(progressToken))?.(progress);
  }

  /**
   * Sends a request with a progress token. The timeout is kept here and restarts with each
   * progress notification (a long operation that keeps reporting is alive); when it fires, the
   * request is cancelled and fails with `RequestTimeout`, as the SDK's own timeout would.
   */
  async request<T extends z.ZodType>(client: Client, request: { method: string; params: Record<string, unknown> }, schema: T, options: ProgressRequestOptions): Promise<z.infer<T>> {
    const token = `smartflow-${++this.issued}`;
    const timeout = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    const arm = () => {
      clearTimeout(timer);
      timer = setTimeout(() => timeout.abort(new McpError(ErrorCode.RequestTimeout, 'Request timed out')), options.timeoutMs);
    };
    this.sinks.set(token, (progress) => {
      arm();
      options.onprogress(progress);
    });
    arm();
    try {
      const meta = { ...(request.params._meta as Record<string, unknown> | undefined), progressToken: token };
      const signal = options.signal ? AbortSignal.any([options.signal, timeout.signal]) : timeout.signal;
      // The SDK's own timer must not fire first: ours is the one progress restarts.
      return (await client.request({ method: request.method, params: { ...request.params, _meta: meta } } as never, schema, { timeout: MAX_TIMER_MS, signal })) as z.infer<T>;
    } finally {
      clearTimeout(timer);
      this.sinks.delete(token);
    }
  }
}
