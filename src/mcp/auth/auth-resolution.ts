import type { IncomingHttpHeaders } from 'node:http';
import type { McpServer } from '../registry.js';
import { collectForwarded, headersForAlias } from './forwarded-headers.js';

/**
 * How each server's auth resolves for a request, for the admin debug header
 * `x-smartflow-mcp-auth`: `alias=way[+way]` joined by `; `, where a way is `none`, `static`,
 * `forwarded`, `forwarded-ignored` (stdio), `client_credentials` or `user_token`. Names only,
 * never a value.
 */
export function describeAuthResolution(servers: McpServer[], headers: IncomingHttpHeaders): string {
  const forwarded = collectForwarded(headers);
  const aliases = servers.map((s) => s.alias);
  return servers
    .map((server) => {
      const ways: string[] = [];
      const own = Object.keys(headersForAlias(forwarded, server.alias, aliases));
      if (own.length) ways.push(server.transport === 'stdio' ? 'forwarded-ignored' : 'forwarded');
      if (Object.keys(server.headers).length) ways.push('static');
      if (server.auth?.type === 'oauth2_client_credentials') ways.push('client_credentials');
      if (server.auth?.type === 'oauth2_authorization_code') ways.push('user_token');
      return `${server.alias}=${ways.length ? ways.join('+') : 'none'}`;
    })
    .join('; ');
}
