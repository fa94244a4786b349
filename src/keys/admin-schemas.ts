import { z } from 'zod';
import { cacheNamespace } from '../cache/cache-config.js';
import { MCP_SERVER_ENTRY, MCP_TOOL_ENTRY } from './mcp-access.js';

/** zod schemas for the virtual-key and team admin APIs. Money is USD on the wire, micro-USD inside. */

const alias = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'an alias is 1-64 letters, digits, ".", "_" or "-", starting with a letter or digit');
export const teamId = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'a team id is 1-64 letters, digits, ".", "_" or "-", starting with a letter or digit');
const models = z.array(z.string().min(1).max(200)).max(1000);
const mcpServers = z.array(z.string().regex(MCP_SERVER_ENTRY, 'an MCP server alias, a server id (mcp_…) or "*"')).max(1000);
const mcpTools = z.array(z.string().regex(MCP_TOOL_ENTRY, 'a "server/tool" pattern: an alias, id or "*", "/", and a tool name that may hold "*"')).max(1000);
const period = z.enum(['daily', 'weekly', 'monthly', 'lifetime'], 'budget_period must be one of daily, weekly, monthly, lifetime');
const usd = z.number('max_budget must be a number of USD').finite().nonnegative('max_budget cannot be negative').max(1e9);
const perMinute = z.number().int().positive().max(1e12);
const tags = z.array(z.string().min(1).max(64)).max(64);
const metadata = z
  .record(z.string(), z.unknown())
  .refine((m) => JSON.stringify(m).length <= 16_384, 'metadata is limited to 16 KiB of JSON');
const time = z.iso.datetime({ offset: true }).transform((s) => Date.parse(s));

export const createKeySchema = z.strictObject({
  alias: alias.optional(),
  team_id: teamId.optional(),
  user_id: z.string().min(1).max(256).optional(),
  models: models.default([]),
  max_budget: usd.optional(),
  budget_period: period.default('lifetime'),
  rpm: perMinute.optional(),
  tpm: perMinute.optional(),
  tags: tags.default([]),
  metadata: metadata.default({}),
  cache: z.boolean().optional(),
  cache_namespace: cacheNamespace.optional(),
  allow_byok: z.boolean().default(false),
  expires_at: time.optional(),
  mcp_servers: mcpServers.default([]),
  mcp_tools: mcpTools.default([]),
});

export const updateKeySchema = z.strictObject({
  alias: alias.nullable().optional(),
  team_id: teamId.nullable().optional(),
  user_id: z.string().min(1).max(256).nullable().optional(),
  models: models.optional(),
  max_budget: usd.nullable().optional(),
  budget_period: period.optional(),
  rpm: perMinute.nullable().optional(),
  tpm: perMinute.nullable().optional(),
  tags: tags.optional(),
  metadata: metadata.optional(),
  cache: z.boolean().nullable().optional(),
  cache_namespace: cacheNamespace.nullable().optional(),
  allow_byok: z.boolean().optional(),
  expires_at: time.nullable().optional(),
  mcp_servers: mcpServers.optional(),
  mcp_tools: mcpTools.optional(),
});

export const createTeamSchema = z.strictObject({
  id: teamId.optional(),
  name: z.string().min(1).max(200),
  models: models.default([]),
  max_budget: usd.optional(),
  budget_period: period.default('lifetime'),
  rpm: perMinute.optional(),
  tpm: perMinute.optional(),
  metadata: metadata.default({}),
  cache_namespace: cacheNamespace.optional(),
  mcp_servers: mcpServers.default([]),
  mcp_tools: mcpTools.default([]),
});

export const updateTeamSchema = z.strictObject({
  name: z.string().min(1).max(200).optional(),
  models: models.optional(),
  max_budget: usd.nullable().optional(),
  budget_period: period.optional(),
  rpm: perMinute.nullable().optional(),
  tpm: perMinute.nullable().optional(),
  metadata: metadata.optional(),
  cache_namespace: cacheNamespace.nullable().optional(),
  mcp_servers: mcpServers.optional(),
  mcp_tools: mcpTools.optional(),
});

export const pageQuerySchema = z.strictObject({
  limit: z.string().regex(/^\d+$/).transform(Number).pipe(z.number().int().min(1).max(1000)).default(100),
  cursor: z.string().max(512).optional(),
});

export type CreateKeyInput = z.infer<typeof createKeySchema>;
export type UpdateKeyInput = z.infer<typeof updateKeySchema>;
export type CreateTeamInput = z.infer<typeof createTeamSchema>;
export type UpdateTeamInput = z.infer<typeof updateTeamSchema>;

/** USD on the wire to integer micro-USD. */
export function toMicros(value: number): number {
  return Math.round(value * 1_000_000);
}

/** Integer micro-USD to USD on the wire. */
export function toUsd(micros: number): number {
  return micros / 1_000_000;
}
