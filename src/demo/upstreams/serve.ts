import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Cancellation } from '../../core/cancellation.js';

/** A demo upstream listening on 127.0.0.1: what a provider's `base_url` points at in the demo. */
export interface DemoUpstream {
  /** `http://127.0.0.1:<port>` */
  url: string;
  close(): Promise<void>;
}

/** One request, its JSON body parsed; `cancel` fires when the gateway hangs up. */
export interface DemoRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  body: Record<string, unknown>;
  cancel: Cancellation;
}

export type DemoHandler = (req: DemoRequest, res: ServerResponse) => Promise<void>;

/** Bodies the demo upstreams read are small JSON; anything larger is not a demo request. */
const MAX_BODY_BYTES = 32 * 1024 * 1024;

async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new Error('body too large');
    chunks.push(chunk);
  }
  if (size === 0) return {};
  const parsed: unknown = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('the body must be a JSON object');
  return parsed as Record<string, unknown>;
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

export function startSse(res: ServerResponse): void {
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
}

/**
 * Starts a demo upstream on 127.0.0.1 (an ephemeral port). `badRequest` renders a request the
 * handler could not read in the upstream's own error shape, as the real API would.
 */
export async function startDemoUpstream(handler: DemoHandler, badRequest: (res: ServerResponse, status: number, message: string) => void): Promise<DemoUpstream> {
  const server = createServer((req, res) => {
    const cancel = new Cancellation();
    res.on('close', () => cancel.cancel());
    const url = new URL(req.url ?? '/', 'http://demo.local');
    readJson(req)
      .then((body) => handler({ method: req.method ?? 'GET', path: url.pathname, query: url.searchParams, body, cancel }, res))
      .catch((err: unknown) => {
        if (cancel.aborted) return;
        if (res.headersSent) res.destroy();
        else badRequest(res, 400, `The demo upstream could not read the request: ${(err as Error).message}`);
      });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
