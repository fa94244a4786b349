import { Agent, createServer, request as httpRequest, type IncomingMessage, type OutgoingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import { rmSync } from 'node:fs';
import type { Logger } from '../log/logger.js';
import { WORKER_PARAM, workerOfSessionId } from './session-id.js';
import { internalSocketPath, type WorkerIdentity } from './worker-identity.js';

type RequestListener = (req: IncomingMessage, res: ServerResponse) => void;

/** Connection-level headers of one hop; the forwarded request and answer get their own. */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'proxy-connection', 'te', 'trailer']);

const WORKER_HINT = `${WORKER_PARAM}=`;

/** The worker that owns the MCP session a request continues, if the request names one. */
export function ownerOf(req: IncomingMessage): number | undefined {
  const sid = req.headers['mcp-session-id'];
  if (typeof sid === 'string') return workerOfSessionId(sid);
  // Legacy SSE: POST /message?sf_worker=N&sessionId=… (session-id.ts withWorkerHint).
  const url = req.url ?? '';
  const at = url.indexOf(WORKER_HINT);
  if (at < 0 || (url[at - 1] !== '?' && url[at - 1] !== '&')) return undefined;
  const digits = /^\d{1,9}/.exec(url.slice(at + WORKER_HINT.length));
  return digits ? Number(digits[0]) : undefined;
}

function withoutHopByHop(headers: IncomingMessage['headers']): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) if (value !== undefined && !HOP_BY_HOP.has(name)) out[name] = value;
  return out;
}

/** The JSON-RPC answer for a session whose worker is gone: MCP clients start a new session on 404. */
function sessionGone(res: ServerResponse): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ jsonrpc: '2.0', error: { code: -32001, message: 'Session not found' }, id: null }));
}

export interface SessionForwarding {
  close(): Promise<void>;
}

/**
 * Makes a worker's MCP sessions reachable from every worker. The public server's request
 * listener is wrapped: a request that continues another worker's session is forwarded, bytes
 * as they come in both directions (SSE streams included), to that worker's internal socket;
 * everything else is served here. The internal socket hands requests straight to this worker's
 * own listener (never forwarding again), so the owner authenticates and checks the session as
 * for any request. Other requests pay one header lookup.
 */
export async function installSessionForwarding(server: Server, self: WorkerIdentity, log: Logger): Promise<SessionForwarding> {
  const listeners = server.listeners('request') as RequestListener[];
  const serveHere: RequestListener = (req, res) => {
    for (const listener of listeners) listener.call(server, req, res);
  };
  const agent = new Agent({ keepAlive: true });

  const forward = (owner: number, req: IncomingMessage, res: ServerResponse): void => {
    const upstream = httpRequest({ socketPath: internalSocketPath(self.dir, owner), agent, method: req.method, path: req.url, headers: withoutHopByHop(req.headers) }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, withoutHopByHop(answer.headers));
      // SSE: each event goes out as it arrives.
      res.flushHeaders();
      answer.pipe(res);
      answer.on('error', () => res.destroy());
    });
    upstream.on('error', (err: NodeJS.ErrnoException) => {
      // No socket: the owner died or was restarted, and its sessions with it.
      if (err.code === 'ENOENT' || err.code === 'ECONNREFUSED') sessionGone(res);
      else {
        log.warn({ err, owner }, 'could not forward an MCP request to its worker');
        if (!res.headersSent) res.writeHead(502).end();
        else res.destroy();
      }
    });
    // The client went away (e.g. closed its SSE stream): so does the forwarded request.
    res.on('close', () => upstream.destroy());
    req.pipe(upstream);
  };

  server.removeAllListeners('request');
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const owner = ownerOf(req);
    if (owner === undefined || owner === self.id) serveHere(req, res);
    else forward(owner, req, res);
  });

  const path = internalSocketPath(self.dir, self.id);
  if (process.platform !== 'win32') rmSync(path, { force: true });
  const internal = createServer(serveHere);
  await new Promise<void>((resolve, reject) => {
    internal.once('error', reject);
    // exclusive: the worker's own socket, not one the cluster primary opens and shares.
    internal.listen({ path, exclusive: true }, () => resolve());
  });

  return {
    close() {
      agent.destroy();
      internal.closeAllConnections();
      return new Promise<void>((resolve) => internal.close(() => resolve()));
    },
  };
}
