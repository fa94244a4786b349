import { z } from 'zod';

export const QUERY_MAX = 2000;
export const K_MAX = 100;

/** `GET /api/mcp/tools/search` query string. */
export const searchQuerySchema = z.strictObject({
  q: z.string('q (the search text) is required').trim().min(1, 'q must not be empty').max(QUERY_MAX, `q is at most ${QUERY_MAX} characters`),
  k: z.coerce.number('k must be a number').int('k must be an integer').min(1, `k must be between 1 and ${K_MAX}`).max(K_MAX, `k must be between 1 and ${K_MAX}`).default(10),
});

/** `POST /api/mcp/tools/reindex` query string. */
export const reindexQuerySchema = z.strictObject({
  server: z.string().min(1).max(200).optional(),
});
