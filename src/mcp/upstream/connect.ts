import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { SSEClientTransport } from '@modelcontextprotocol/sdk/client/sse.js';
import type { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import type { RequestLog } from '../../core/request-log.js';
import { TokenRequestFailed } from '../auth/client-credentials.js';
import { bearerChallenge } from '../auth/oauth-discovery.js';
import type { McpServer } from '../registry.js';
import { LeanHttpClientTransport } from './lean-http-client-transport.js';
import { scrubSecrets } from './scrub.js';

/** The wire a connection ended up on (`auto` resolves to one of the HTTP ones). */
export type ConnectedTransport = 'stdio' | 'sse' | 'streamable-http';

export interface UpstreamConnection {
  client: Client;
  transport: ConnectedTransport;
  /** The child process of a stdio server; null otherwise. */
  pid: number | null;
  /** Ends the session (HTTP DELETE for Streamable HTTP; stdin close, SIGTERM, SIGKILL for stdio). */
  close(): Promise<void>;
}

/** Sets `Authorization` on each HTTP request of a connection, and gets a new value once when the server answers 401. */
export interface RequestAuthorizer {
  /** The value for the next request (`Bearer …`). */
  authorization(): Promise<string>;
  /** The server refused `sent`: the value to retry with once, or null not to retry. */
  rejected(sent: string): Promise<string | null>;
  /**
   * The server answered 403 `insufficient_scope` naming `scope` (MCP authorization, step-up):
   * the value to retry with once, null not to retry, or a thrown error saying what the caller
   * must do (a per-user consent cannot grow without the user).
   */
  insufficientScope?(sent: string, scope: string): Promise<string | null>;
}

export interface ConnectOptions {
  log: RequestLog;
  /** Bounds the handshake (initialize) as server.timeout_ms bounds every later call. */
  timeoutMs: number;
  /** Set for servers the gateway authenticates to itself (OAuth client credentials). */
  authorizer?: RequestAuthorizer | undefined;
}

type FetchLike = (url: string | URL, init?: RequestInit) => Promise<Response>;

const CLIENT_INFO = { name: 'smartflow', version: '0.1.0' };

/**
 * The SDK's client half (with its protocol engine, about 5 MiB of RSS with its dependencies) is
 * loaded at the first upstream connection, not at start: a gateway without MCP servers never needs it.
 */
async function newClient(): Promise<Client> {
  const { Client } = await import('@modelcontextprotocol/sdk/client/index.js');
  return new Client(CLIENT_INFO);
}

/**
 * The SDK's stdio transport starts from its own short list of inherited variables (PATH, HOME,
 * USER, SHELL, TERM, LOGNAME), never the whole process environment: the gateway's provider keys
 * must not reach a community tool server. The server's own `env` goes on top of that.
 */
async function stdioTransport(server: McpServer, log: RequestLog): Promise<StdioClientTransport> {
  if (!server.command) throw new Error(`MCP server "${server.alias}" has no command`);
  const { StdioClientTransport } = await import('@modelcontextprotocol/sdk/client/stdio.js');
  const transport = new StdioClientTransport({
    command: server.command,
    args: server.args,
    env: server.env,
    ...(server.cwd ? { cwd: server.cwd } : {}),
    // Piped, never inherited: the gateway's stdout/stderr carry its own structured logs.
    stderr: 'pipe',
  });
  let pending = '';
  transport.stderr?.on('data', (chunk: Buffer) => {
    const lines = (pending + chunk.toString('utf8')).split('\n');
    pending = lines.pop() ?? '';
    for (const line of lines) if (line.trim()) log.info({ mcp_server: server.alias, stderr: line.slice(0, 2000) }, 'mcp server stderr');
  });
  return transport;
}

/**
 * The SDK gives every POST of a connection the same long-lived AbortSignal, and undici adds an
 * abort listener to it per request that goes only when the request is garbage collected. On a
 * busy upstream thousands pile up: every request then copies the whole listener list, and past
 * 1,500 Node prints a MaxListenersExceededWarning to stderr on each one. A signal of its own
 * per request, following the connection's (`AbortSignal.any` holds it weakly), keeps closing
 * the connection aborting its requests without the pile.
 */
const fetchWithOwnSignal = (url: string | URL, init?: RequestInit): Promise<Response> =>
  fetch(url, init?.signal ? { ...init, signal: AbortSignal.any([init.signal]) } : init);

function withAuthorization(init: RequestInit | undefined, value: string): RequestInit {
  const headers = new Headers(init?.headers);
  headers.set('authorization', value);
  return { ...init, headers };
}

/**
 * Every HTTP request of the connection (the handshake, each POST, the SSE stream's GET) asks the
 * authorizer for its token at send time, so a refreshed token applies without reconnecting; a
 * 401 gets one new token and one retry, a 403 `insufficient_scope` one step-up and one retry.
 * The SDK sends string bodies, so a request can be resent.
 */
function authorizedFetch(base: FetchLike, authorizer: RequestAuthorizer | undefined): FetchLike {
  if (!authorizer) return base;
  return async (url, init) => {
    const first = await authorizer.authorization();
    const res = await base(url, withAuthorization(init, first));
    const challenge = res.status === 403 ? bearerChallenge(res.headers.get('www-authenticate')) : {};
    const stepUpScope = challenge['error'] === 'insufficient_scope' ? challenge['scope'] : undefined;
    if (res.status !== 401 && !(stepUpScope && authorizer.insufficientScope)) return res;
    const next = stepUpScope ? await authorizer.insufficientScope!(first, stepUpScope) : await authorizer.rejected(first);
    if (next === null) return res;
    await res.body?.cancel().catch(() => undefined);
    return base(url, withAuthorization(init, next));
  };
}

function httpUrl(server: McpServer): URL {
  if (!server.url) throw new Error(`MCP server "${server.alias}" has no url`);
  return new URL(server.url);
}

async function open(client: Client, transport: StdioClientTransport | SSEClientTransport | LeanHttpClientTransport, timeoutMs: number): Promise<void> {
  try {
    await client.connect(transport, { timeout: timeoutMs });
  } catch (err) {
    await client.close().catch(() => undefined);
    throw err;
  }
}

async function connectStreamable(server: McpServer, timeoutMs: number, authorizer: RequestAuthorizer | undefined): Promise<UpstreamConnection> {
  const client = await newClient();
  const transport = new LeanHttpClientTransport(httpUrl(server), { headers: server.headers, authorizer });
  await open(client, transport, timeoutMs);
  return {
    client,
    transport: 'streamable-http',
    pid: null,
    async close() {
      // The spec asks clients to end their session; servers may answer 405, which is fine.
      await transport.terminateSession().catch(() => undefined);
      await client.close();
    },
  };
}

async function connectSse(server: McpServer, timeoutMs: number, authorizer: RequestAuthorizer | undefined): Promise<UpstreamConnection> {
  const client = await newClient();
  const headers = server.headers;
  const streamFetch = authorizedFetch((url, init) => fetch(url, init), authorizer);
  const { SSEClientTransport } = await import('@modelcontextprotocol/sdk/client/sse.js');
  const transport = new SSEClientTransport(httpUrl(server), {
    requestInit: { headers },
    fetch: authorizedFetch(fetchWithOwnSignal, authorizer),
    // The GET that opens the stream goes through eventSourceInit, not requestInit.
    eventSourceInit: { fetch: (url, init) => streamFetch(url, { ...init, headers: { ...(init?.headers as Record<string, string>), ...headers } }) },
  });
  await open(client, transport, timeoutMs);
  return { client, transport: 'sse', pid: null, close: () => client.close() };
}

/**
 * Opens an initialized client for one server. `auto` tries Streamable HTTP first and falls back
 * to the 2024-11-05 HTTP+SSE transport when that fails, as the spec's backwards-compatibility
 * section describes.
 */
export async function connectUpstream(server: McpServer, options: ConnectOptions): Promise<UpstreamConnection> {
  switch (server.transport) {
    case 'stdio': {
      const client = await newClient();
      const transport = await stdioTransport(server, options.log);
      await open(client, transport, options.timeoutMs);
      return { client, transport: 'stdio', pid: transport.pid, close: () => client.close() };
    }
    case 'sse':
      return connectSse(server, options.timeoutMs, options.authorizer);
    case 'streamable-http':
      return connectStreamable(server, options.timeoutMs, options.authorizer);
    case 'auto':
      try {
        return await connectStreamable(server, options.timeoutMs, options.authorizer);
      } catch (err) {
        // No token means no token on SSE either: the real cause, not a fallback's failure, is the answer.
        if (err instanceof TokenRequestFailed) throw err;
        options.log.info({ mcp_server: server.alias, err: scrubSecrets(err instanceof Error ? err.message : String(err), server) }, 'streamable http failed, trying the legacy sse transport');
        return connectSse(server, options.timeoutMs, options.authorizer);
      }
  }
}
