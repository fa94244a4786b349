import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';

export interface HeaderRecordingMcpServer {
  /** The Streamable HTTP endpoint, `http://127.0.0.1:<port>/mcp`. */
  url: string;
  /** The headers of every HTTP request the server received, in order. */
  readonly requests: IncomingHttpHeaders[];
  /** Sockets open to the server now. */
  connections(): Promise<number>;
  close(): Promise<void>;
}

/**
 * A real MCP server (the SDK's McpServer over its Streamable HTTP server transport, stateless:
 * a fresh server per request) that records the HTTP headers of every request it receives.
 * Its one tool, `whoami`, answers with the server's `name` and nothing it received, so a test
 * can tell which upstream a call reached without any header value travelling back.
 */
export async function startHeaderRecordingMcpServer(name: string): Promise<HeaderRecordingMcpServer> {
  const requests: IncomingHttpHeaders[] = [];
  const http: Server = createServer((req, res) => {
    requests.push({ ...req.headers });
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void (async () => {
        const mcp = new McpServer({ name: `recorder-${name}`, version: '1.0.0' });
        mcp.registerTool('whoami', { description: 'Says which test server answered.' }, async () => ({ content: [{ type: 'text', text: `I am ${name}` }] }));
        const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true });
        res.on('close', () => {
          void transport.close();
          void mcp.close();
        });
        await mcp.connect(transport);
        const body = chunks.length ? (JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown) : undefined;
        await transport.handleRequest(req, res, body);
      })().catch((err: unknown) => {
        if (!res.headersSent) res.writeHead(500).end(String(err));
      });
    });
  });
  await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
  const { port } = http.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/mcp`,
    requests,
    connections: () => new Promise<number>((r, j) => http.getConnections((err, n) => (err ? j(err) : r(n)))),
    close: () =>
      new Promise<void>((r) => {
        http.closeAllConnections();
        http.close(() => r());
      }),
  };
}
