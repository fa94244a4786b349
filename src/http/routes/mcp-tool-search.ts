import type { FastifyInstance } from 'fastify';
import { reindexQuerySchema, searchQuerySchema } from '../../toolsearch/search-input.js';
import type { ToolSearchIndex } from '../../toolsearch/tool-search-index.js';
import { parseInput } from '../parse.js';
import { needs, OPEN_TO_ANY_KEY, principalOf } from '../plugins/authenticate.js';

/** `GET /api/mcp/tools/search`: any valid key; results hold only tools the key may use. */
export function registerToolSearchRoutes(app: FastifyInstance, deps: { index: ToolSearchIndex }): void {
  app.get('/api/mcp/tools/search', OPEN_TO_ANY_KEY, async (request) => {
    const { q, k } = parseInput(searchQuerySchema, request.query);
    const data = await deps.index.search(principalOf(request), q, k);
    return { object: 'list', query: q, data };
  });
}

/** The admin side: `POST /api/mcp/tools/reindex` (all, or `?server=`) and `GET /api/mcp/tools/index`. */
export function registerToolIndexRoutes(app: FastifyInstance, deps: { index: ToolSearchIndex }): void {
  app.post('/api/mcp/tools/reindex', needs('mcp_servers:write', { allowEmptyBody: true }), async (request) => {
    const { server } = parseInput(reindexQuerySchema, request.query);
    await deps.index.reindex(server);
    return deps.index.status();
  });
  app.get('/api/mcp/tools/index', needs('mcp_servers:read'), async () => deps.index.status());
}
