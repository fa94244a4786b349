import { z } from 'zod';

/** Agent ids are URL path segments (`/a2a/{id}`): lower-case slugs. */
export const AGENT_ID = /^[a-z][a-z0-9-]{0,63}$/;

const skillSchema = z.strictObject({
  id: z.string().min(1).max(128),
  name: z.string().min(1).max(200),
  description: z.string().max(4000).default(''),
  tags: z.array(z.string().min(1).max(100)).max(50).default([]),
  examples: z.array(z.string().max(2000)).max(50).optional(),
});

/** An MCP server (alias, or `*` for every server the caller's key may use) and optionally which of its tools. */
const mcpAccessSchema = z.strictObject({
  server: z.union([z.literal('*'), z.string().regex(/^[a-z][a-z0-9-]{0,31}$/, 'an MCP server alias')]),
  allowed_tools: z.array(z.string().min(1).max(128)).max(1000).optional(),
});

/**
 * An agent hosted elsewhere: the gateway proxies its JSON-RPC endpoint (the one its card names),
 * rewrites the card's URL to its own and adds `headers` (credentials, stored encrypted).
 */
const remoteSchema = z.strictObject({
  card_url: z.url({ protocol: /^https?$/ }).max(2048),
  headers: z.record(z.string().regex(/^[A-Za-z0-9-]{1,128}$/, 'a header name'), z.string().max(8192)).default({}),
});

const fields = {
  name: z.string().min(1).max(200),
  description: z.string().max(4000).default(''),
  /** Any model or fallback chain of the gateway; required unless `remote` is set. */
  model: z.string().max(200).default(''),
  remote: remoteSchema.optional(),
  system_prompt: z.string().max(100_000).default(''),
  mcp: z.array(mcpAccessSchema).max(50).default([]),
  skills: z.array(skillSchema).max(100).default([]),
  /** LLM calls per task turn, the first included. */
  max_steps: z.number().int().min(1).max(50).default(8),
  temperature: z.number().min(0).max(2).optional(),
};

const needsModel = (profile: { model: string; remote?: unknown }, ctx: z.RefinementCtx) => {
  if (profile.model === '' && profile.remote === undefined) ctx.addIssue({ code: 'custom', path: ['model'], message: 'a hosted agent needs a model (or set remote for an agent hosted elsewhere)' });
};

export const createAgentSchema = z.strictObject({ id: z.string().regex(AGENT_ID, 'a lower-case slug (a-z, 0-9, -), starting with a letter'), ...fields }).superRefine(needsModel);

/** PUT replaces the whole profile (the id stays the URL's). */
export const replaceAgentSchema = z.strictObject(fields).superRefine(needsModel);

export type AgentProfile = z.output<typeof createAgentSchema>;
export type AgentInput = z.input<typeof createAgentSchema>;
