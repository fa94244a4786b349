import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface GraphServer {
  url: string;
  /** Token requests seen, and group-list requests seen (with the bearer they carried). */
  tokenRequests: number;
  listRequests: number;
  close(): Promise<void>;
}

/**
 * A small Microsoft-Graph-like server: `POST /token` (client credentials, client_secret_basic
 * checked) and `GET /v1.0/users/{id}/transitiveMemberOf/microsoft.graph.group` paged with an
 * absolute `@odata.nextLink`, and `GET /v1.0/groups/{id}` (names from `names`), answering only
 * with the token it issued.
 */
export async function startGraphServer(options: { clientId: string; clientSecret: string; groups: Record<string, Array<{ id: string; displayName: string }>>; names?: Record<string, string>; pageSize?: number }): Promise<GraphServer> {
  const issued = new Set<string>();
  const pageSize = options.pageSize ?? 2;
  const state = { tokenRequests: 0, listRequests: 0 };
  const server = http.createServer((req, res) => {
    const send = (status: number, body: unknown) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    const url = new URL(req.url ?? '/', 'http://x');
    if (req.method === 'POST' && url.pathname === '/token') {
      state.tokenRequests++;
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        const form = new URLSearchParams(body);
        const expected = `Basic ${Buffer.from(`${options.clientId}:${options.clientSecret}`).toString('base64')}`;
        if (req.headers.authorization !== expected || form.get('grant_type') !== 'client_credentials') return send(401, { error: 'invalid_client' });
        const token = randomBytes(16).toString('hex');
        issued.add(token);
        send(200, { access_token: token, token_type: 'Bearer', expires_in: 3600 });
      });
      return;
    }
    const bearer = /^Bearer (\S+)$/.exec(req.headers.authorization ?? '')?.[1];
    const group = /^\/v1\.0\/groups\/([^/]+)$/.exec(url.pathname);
    if (req.method === 'GET' && group) {
      if (!bearer || !issued.has(bearer)) return send(401, { error: { code: 'InvalidAuthenticationToken' } });
      const id = decodeURIComponent(group[1]!);
      return send(200, { id, displayName: options.names?.[id] ?? null });
    }
    const m = /^\/v1\.0\/users\/([^/]+)\/transitiveMemberOf\/microsoft\.graph\.group$/.exec(url.pathname);
    if (req.method === 'GET' && m) {
      state.listRequests++;
      if (!bearer || !issued.has(bearer)) return send(401, { error: { code: 'InvalidAuthenticationToken' } });
      const all = options.groups[decodeURIComponent(m[1]!)] ?? [];
      const skip = Number(url.searchParams.get('$skiptoken') ?? '0');
      const page = all.slice(skip, skip + pageSize);
      const next = skip + pageSize < all.length ? `http://${req.headers.host}${url.pathname}?$skiptoken=${skip + pageSize}` : undefined;
      return send(200, { value: page.map((g) => ({ '@odata.type': '#microsoft.graph.group', ...g })), ...(next ? { '@odata.nextLink': next } : {}) });
    }
    send(404, { error: { code: 'Request_ResourceNotFound' } });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    get tokenRequests() {
      return state.tokenRequests;
    },
    get listRequests() {
      return state.listRequests;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  } as GraphServer;
}
