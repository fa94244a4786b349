import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { SSEServerTransport } from '@modelcontextprotocol/sdk/server/sse.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';

export interface RecordedCall {
  /** The JSON-RPC method of the POST (`tools/call`, `resources/read`, …); `GET` for the SSE stream. */
  method: string;
  headers: IncomingHttpHeaders;
}

export interface FeatureRecordingMcpServer {
  /** `…/mcp` (Streamable HTTP) or `…/sse` (legacy HTTP+SSE). */
  url: string;
  readonly calls: RecordedCall[];
  close(): Promise<void>;
}

function features(name: string): McpServer {
  const mcp = new McpServer({ name: `features-${name}`, version: '1.0.0' });
  mcp.registerTool('whoami', { description: 'Names the server.' }, async () => ({ content: [{ type: 'text', text: `I am ${name}` }] }));
  mcp.registerResource('note', 'test://note', { mimeType: 'text/plain' }, async (uri) => ({ contents: [{ uri: uri.href, text: `note of ${name}` }] }));
  mcp.registerPrompt('greet', { description: 'A greeting.' }, async () => ({ messages: [{ role: 'user', content: { type: 'text', text: `greetings from ${name}` } }] }));
  return mcp;
}

const methodsOf = (body: unknown): string[] => (Array.isArray(body) ? body : [body]).map((m) => String((m as { method?: unknown })?.method ?? 'response'));

/**
 * A real MCP server (SDK McpServer: one tool, one resource, one prompt) over Streamable HTTP
 * (stateless) or the legacy HTTP+SSE transport, recording the headers of every HTTP request with
 * the JSON-RPC method it carried, so a test can see what reached which server on which method.
 */
export async function startFeatureRecordingMcpServer(name: string, mode: 'streamable-http' | 'sse'): Promise<FeatureRecordingMcpServer> {
  const calls: RecordedCall[] = [];
  const sse = new Map<string, SSEServerTransport>();
  const http: Server = createServer((req, res) => {
    void (async () => {
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      const body: unknown = chunks.length ? JSON.parse(Buffer.concat(chunks).toString('utf8')) : undefined;
      if (mode === 'sse' && req.method === 'GET') {
        calls.push({ method: 'GET', headers: { ...req.headers } });
        const transport = new SSEServerTransport('/message', res);
        sse.set(transport.sessionId, transport);
        res.on('close', () => sse.delete(transport.sessionId));
        await features(name).connect(transport);
        return;
      }
      for (const method of methodsOf(body)) calls.push({ method, headers: { ...req.headers } });
      if (mode === 'sse') {
        const transport = sse.get(new URL(req.url ?? '/', 'http://x').searchParams.get('sessionId') ?? '');
        if (!transport) return void res.writeHead(404).end();
        await transport.handlePostMessage(req, res, body);
        return;
      }
      const mcp = features(name);
      const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true });
      res.on('close', () => {
        void transport.close();
        void mcp.close();
      });
      await mcp.connect(transport);
      await transport.handleRequest(req, res, body);
    })().catch((err: unknown) => {
      if (!res.headersSent) res.writeHead(500).end(String(err));
    });
  });
  await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
  const { port } = http.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/${mode === 'sse' ? 'sse' : 'mcp'}`,
    calls,
    close: () =>
      new Promise<void>((r) => {
        http.closeAllConnections();
        http.close(() => r());
      }),
  };
}
