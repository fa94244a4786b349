import { z } from 'zod';

/** `toolsearch:` in smartflow.yaml (docs/tool-search.md). */
export const toolSearchConfigSchema = z.strictObject({
  /** A model of this gateway (`models:`, the catalogue, or `provider/model`) that embeds tools and queries; unset: the built-in offline embedder. */
  embedding_model: z.string().min(1).max(200).optional(),
  /** Vector length asked of `embedding_model` (sent as `dimensions`). */
  dimensions: z.number().int().min(8).max(8192).default(1536),
  /** Share of the lexical (BM25F) score in the blend with embedding similarity. */
  lexical_weight: z.number().min(0).max(1).default(0.4),
  /** How often servers that failed to list, or reconnected, are indexed again. */
  refresh_interval_ms: z.number().int().min(1000).max(86_400_000).default(60_000),
});

export type ToolSearchConfig = z.infer<typeof toolSearchConfigSchema>;
