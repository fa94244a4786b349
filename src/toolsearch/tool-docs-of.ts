import type { McpServer } from '../mcp/registry.js';
import type { UpstreamTool } from '../mcp/upstream/upstream-pool.js';
import type { ToolDoc } from './tool-doc.js';

/** A parameter description longer than this adds little but noise (and embedding cost). */
const MAX_PARAM_DESCRIPTION = 200;

/** The searchable text of a server's tools: name, description, top-level parameters with their descriptions. */
export function toolDocsOf(server: McpServer, tools: readonly UpstreamTool[]): ToolDoc[] {
  return tools.map((tool) => {
    const properties = (tool.inputSchema as { properties?: unknown } | undefined)?.properties;
    const params =
      properties && typeof properties === 'object'
        ? Object.entries(properties as Record<string, unknown>).map(([name, schema]) => {
            const description = (schema as { description?: unknown } | null)?.description;
            return { name, description: typeof description === 'string' ? description.slice(0, MAX_PARAM_DESCRIPTION) : '' };
          })
        : [];
    return {
      key: `${server.id}/${tool.name}`,
      serverId: server.id,
      server: server.alias,
      serverDescription: server.description ?? '',
      tool: tool.name,
      description: typeof tool.description === 'string' ? tool.description : '',
      params,
    };
  });
}
