import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { createRemoteJWKSet, jwtVerify, type JWTPayload } from 'jose';

export interface JwtMcpServer {
  /** `http://127.0.0.1:<port>/mcp`: also the audience tokens must carry. */
  url: string;
  /** Every bearer token presented (valid or not), for secret scans. */
  readonly tokens: string[];
  /** Requests answered 401. */
  unauthorized: number;
  /** From now on refuse tokens issued before this moment (as a server that revoked them would). */
  revokeIssuedBefore(epochSeconds: number): void;
  readonly requests: IncomingHttpHeaders[];
  close(): Promise<void>;
}

/**
 * A real MCP server (SDK McpServer over Streamable HTTP, stateless) behind JWT bearer auth:
 * signature checked against the issuer's JWKS, `iss` and `aud` (its own URL) checked with jose.
 * Anything else is a 401 with `WWW-Authenticate` pointing at its protected resource metadata
 * (RFC 9728). Tool `whoami` answers with the token's subject or client id. With `callNeeds`,
 * a `tools/call` whose token lacks that scope gets 403 `insufficient_scope` (step-up).
 */
export async function startJwtMcpServer(issuer: string, options: { callNeeds?: string } = {}): Promise<JwtMcpServer> {
  const jwks = createRemoteJWKSet(new URL(`${issuer}/jwks`));
  const tokens: string[] = [];
  const requests: IncomingHttpHeaders[] = [];
  let revokedBefore = 0;
  const http: Server = createServer();
  await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
  const origin = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
  const url = `${origin}/mcp`;
  const state: JwtMcpServer = {
    url,
    tokens,
    requests,
    unauthorized: 0,
    revokeIssuedBefore: (s) => (revokedBefore = s),
    close: () =>
      new Promise<void>((r) => {
        http.closeAllConnections();
        http.close(() => r());
      }),
  };
  const deny = (res: import('node:http').ServerResponse) => {
    state.unauthorized += 1;
    res.writeHead(401, { 'www-authenticate': `Bearer resource_metadata="${origin}/.well-known/oauth-protected-resource/mcp", scope="mcp:tools"`, 'content-type': 'application/json' }).end('{"error":"invalid_token"}');
  };
  http.on('request', (req, res) => {
    void (async () => {
      if (req.url?.startsWith('/.well-known/oauth-protected-resource')) {
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ resource: url, authorization_servers: [issuer], scopes_supported: ['mcp:tools'] }));
        return;
      }
      requests.push({ ...req.headers });
      const auth = req.headers.authorization ?? '';
      if (!auth.startsWith('Bearer ')) return deny(res);
      const token = auth.slice(7);
      tokens.push(token);
      let claims: JWTPayload;
      try {
        claims = (await jwtVerify(token, jwks, { issuer, audience: url })).payload;
      } catch {
        return deny(res);
      }
      if ((claims.iat ?? 0) < revokedBefore) return deny(res);
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      // Step-up (MCP authorization): tools/call needs `callNeeds` too, as a 403 insufficient_scope says.
      const method = chunks.length ? (JSON.parse(Buffer.concat(chunks).toString('utf8')) as { method?: string }).method : undefined;
      if (options.callNeeds && method === 'tools/call' && !String(claims['scope'] ?? '').split(' ').includes(options.callNeeds)) {
        res.writeHead(403, { 'www-authenticate': `Bearer error="insufficient_scope", scope="mcp:tools ${options.callNeeds}", resource_metadata="${origin}/.well-known/oauth-protected-resource/mcp"`, 'content-type': 'application/json' }).end('{"error":"insufficient_scope"}');
        return;
      }
      const mcp = new McpServer({ name: 'jwt-protected', version: '1.0.0' });
      const who = String(claims.sub ?? claims['client_id'] ?? 'unknown');
      mcp.registerTool('whoami', { description: 'Who the token says the caller is.' }, async () => ({ content: [{ type: 'text', text: `hello ${who}` }] }));
      const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true });
      res.on('close', () => {
        void transport.close();
        void mcp.close();
      });
      await mcp.connect(transport);
      await transport.handleRequest(req, res, chunks.length ? JSON.parse(Buffer.concat(chunks).toString('utf8')) : undefined);
    })().catch((err: unknown) => {
      if (!res.headersSent) res.writeHead(500).end(String(err));
    });
  });
  return state;
}
