import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { CallToolRequestSchema, ListToolsRequestSchema } from '@modelcontextprotocol/sdk/types.js';

/**
 * The bench's MCP server with many tools (`node --import tsx bench/mcp-many-tools-server.ts
 * [count]`, STDIO, default 1,000): realistic tool entries (a description, a small input schema,
 * annotations) built once, answered in one `tools/list` page, so listing costs the server next
 * to nothing and the gateway's own work shows. Every tool echoes its arguments.
 */
const count = Number(process.argv[2] ?? 1000);
const tools = Array.from({ length: count }, (_, i) => {
  const name = `tool_${String(i).padStart(4, '0')}`;
  return {
    name,
    title: `Tool ${i}`,
    description: `Looks up record ${i} in the bench catalogue and returns it with its history, owner and current status.`,
    inputSchema: {
      type: 'object' as const,
      properties: { id: { type: 'string', description: 'Record id' }, limit: { type: 'integer', minimum: 1, maximum: 100 }, verbose: { type: 'boolean' } },
      required: ['id'],
    },
    annotations: { readOnlyHint: true },
  };
});

const server = new Server({ name: 'bench-many-tools', version: '1.0.0' }, { capabilities: { tools: {} } });
server.setRequestHandler(ListToolsRequestSchema, () => ({ tools }));
server.setRequestHandler(CallToolRequestSchema, (request) => ({ content: [{ type: 'text', text: JSON.stringify(request.params.arguments ?? {}) }] }));
await server.connect(new StdioServerTransport());
