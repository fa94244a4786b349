import type { z } from 'zod';
import type { GatewayConfig } from '../config/schema.js';
import { secretKeyFrom } from '../crypto/secret-box.js';
import { configServerId, transportOf } from './server-schema.js';

/**
 * Rules for `mcp_servers:`, `mcp:` and `secrets:` that span entries: aliases and ids are unique,
 * stdio commands are on the allow-list when there is one, a secrets key is 32 bytes. Reported
 * like schema issues, so the start fails with file:line.
 */
export function mcpConfigIssues(config: GatewayConfig): z.core.$ZodIssue[] {
  const issues: z.core.$ZodIssue[] = [];
  const issue = (path: PropertyKey[], message: string, input: unknown) => issues.push({ code: 'custom', path, message, input });
  const aliases = new Set<string>();
  const ids = new Set<string>();
  const allowed = config.mcp.stdio_allowed_commands;
  config.mcp_servers.forEach((server, i) => {
    if (aliases.has(server.alias)) issue(['mcp_servers', i, 'alias'], `the alias "${server.alias}" is used by an earlier server`, server.alias);
    aliases.add(server.alias);
    const id = configServerId(server);
    if (ids.has(id)) issue(['mcp_servers', i, 'id'], `the id "${id}" is used by an earlier server`, id);
    ids.add(id);
    if (transportOf(server) === 'stdio' && allowed !== undefined && server.command !== undefined && !allowed.includes(server.command)) {
      issue(['mcp_servers', i, 'command'], `"${server.command}" is not in mcp.stdio_allowed_commands`, server.command);
    }
  });
  if (config.secrets.key !== undefined) {
    try {
      secretKeyFrom({ key: config.secrets.key, masterKey: '' });
    } catch (err) {
      issue(['secrets', 'key'], (err as Error).message, '[REDACTED]');
    }
  }
  return issues;
}
