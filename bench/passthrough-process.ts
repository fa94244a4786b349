import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Pool } from 'undici';
import { PASSTHROUGH_UPSTREAM_ENV, serveControl } from './protocol.js';

/**
 * The floor any Node.js proxy pays on this machine: node:http in, an undici Pool out (same
 * pool options as the gateway's transport), request body piped to the upstream unchanged,
 * status and content-type copied, response body streamed back. No validation, routing,
 * auth, logging or metrics. Run by bench/run.ts pinned to the gateway's core, with the same
 * control channel, so its CPU per request is measured the same way.
 *
 * `.pipe()` rather than `stream.pipeline()` for the response: on Node 20 pipeline() measured
 * about 90 µs more CPU per request here (it creates and aborts an AbortController per call,
 * among other things), which would make this no floor at all.
 */

// As in gateway-process.ts: tsx turns source maps on, the gateway's measured build runs without them.
process.setSourceMapsEnabled(false);
const upstreamUrl = process.env[PASSTHROUGH_UPSTREAM_ENV];
if (!upstreamUrl) {
  process.stderr.write(`${PASSTHROUGH_UPSTREAM_ENV} is not set (expected the fake upstream's base URL)\n`);
  process.exit(2);
}

// --- the pass-through itself ---
const pool = new Pool(upstreamUrl, { connections: 256, keepAliveTimeout: 30_000 });
const server = createServer((req, res) => {
  const headers: Record<string, string> = { 'content-type': req.headers['content-type'] ?? 'application/json' };
  if (req.headers['content-length']) headers['content-length'] = req.headers['content-length'];
  pool.request({ method: 'POST', path: req.url ?? '/', headers, body: req }).then(
    (up) => {
      const type = up.headers['content-type'];
      res.writeHead(up.statusCode, type === undefined ? {} : { 'content-type': type });
      up.body.on('error', () => res.destroy()).pipe(res);
    },
    () => {
      res.writeHead(502).end();
    },
  );
});
// --- end of the pass-through ---

// As the fake upstream: longer than any pause between benchmark phases, so clients keep their connections.
server.keepAliveTimeout = 60_000;
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
serveControl({ url }, async () => {
  server.closeAllConnections();
  await Promise.all([new Promise<void>((resolve) => server.close(() => resolve())), pool.close()]);
});
