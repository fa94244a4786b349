/**
 * A small real MCP server (the SDK's own McpServer over stdio) for what server-everything cannot
 * show: a tool that waits until it is cancelled and counts the cancellations it saw, log messages
 * at chosen levels on demand, a prompt added at run time (the SDK then sends
 * `notifications/prompts/list_changed`), a tool added at run time (`notifications/tools/list_changed`),
 * a count of the `tools/list` requests it answered, and resources carrying fields no spec knows yet.
 * Run: `node --import tsx test/helpers/mcp-probe-server.ts`.
 */
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { z } from 'zod';

const server = new McpServer({ name: 'probe', version: '1.0.0' }, { capabilities: { logging: {} } });
let cancellations = 0;
let finished = 0;

const text = (t: string) => ({ content: [{ type: 'text' as const, text: t }] });

server.registerTool('wait-for-cancel', { description: 'Reports progress once, then waits until the request is cancelled (30 s at most).' }, async (extra) => {
  const token = extra._meta?.progressToken;
  if (token !== undefined) await extra.sendNotification({ method: 'notifications/progress', params: { progressToken: token, progress: 1, message: 'waiting' } });
  const aborted = await new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => resolve(false), 30_000);
    extra.signal.addEventListener('abort', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
  if (aborted) cancellations += 1;
  else finished += 1;
  return text(aborted ? 'cancelled' : 'finished');
});

server.registerTool('cancellations', { description: 'How many wait-for-cancel requests were cancelled and how many finished.' }, async () => text(JSON.stringify({ cancellations, finished })));

server.registerTool('emit-logs', { description: 'Sends one log message per level, in order.', inputSchema: { levels: z.array(z.enum(['debug', 'info', 'notice', 'warning', 'error', 'critical', 'alert', 'emergency'])) } }, async ({ levels }) => {
  for (const level of levels) await server.sendLoggingMessage({ level, logger: 'probe-logger', data: `a ${level} message` });
  return text(`sent ${levels.length}`);
});

server.registerTool('add-prompt', { description: 'Registers a prompt named by the argument.', inputSchema: { name: z.string() } }, async ({ name }) => {
  server.registerPrompt(name, { description: 'added at run time' }, () => ({ messages: [{ role: 'user', content: { type: 'text', text: `prompt ${name}` } }] }));
  return text(`added ${name}`);
});

server.registerTool('add-tool', { description: 'Registers a tool named by the argument.', inputSchema: { name: z.string() } }, async ({ name }) => {
  server.registerTool(name, { description: 'added at run time' }, async () => text(`tool ${name}`));
  return text(`added ${name}`);
});

let toolLists = 0;
server.registerTool('tool-lists', { description: 'How many tools/list requests this server answered.' }, async () => text(String(toolLists)));

server.registerResource(
  'future',
  'probe://item/future',
  { mimeType: 'text/plain', description: 'A resource with fields from tomorrow', icons: [{ src: 'https://example.com/i.png' }], annotations: { audience: ['user'], priority: 0.5 }, _meta: { 'probe/tag': 'kept' } },
  async (uri) => ({ contents: [{ uri: uri.href, mimeType: 'text/plain', text: 'from the future', _meta: { 'probe/content': 1 } }], 'x-future-result': 'kept' }),
);

server.registerPrompt('greeting', { description: 'Greets someone', argsSchema: { who: z.string() } }, ({ who }) => ({
  messages: [
    { role: 'user', content: { type: 'text', text: `Hello ${who}` } },
    { role: 'user', content: { type: 'resource_link', uri: 'probe://item/future', name: 'future' } },
  ],
}));

// Counts the listings by wrapping the handler McpServer installed (the SDK offers no hook for it).
const handlers = (server.server as unknown as { _requestHandlers: Map<string, (...args: unknown[]) => unknown> })._requestHandlers;
const listTools = handlers.get('tools/list')!;
handlers.set('tools/list', (...args) => {
  toolLists += 1;
  return listTools(...args);
});

await server.connect(new StdioServerTransport());
