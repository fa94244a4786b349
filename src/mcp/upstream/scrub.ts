import type { McpServer } from '../registry.js';

/**
 * An error message about a server without its credentials: header and env values (which may
 * be tokens) and URL query strings (which often carry them) are replaced, so the message may go
 * to the log, the health endpoint or a client.
 */
export function scrubSecrets(message: string, server: Pick<McpServer, 'headers' | 'env'> & Partial<Pick<McpServer, 'auth'>>): string {
  let out = message.replace(/(https?:\/\/[^\s"'?#]+)\?[^\s"']*/g, '$1?[REDACTED]');
  for (const value of [...Object.values(server.headers), ...Object.values(server.env), ...(server.auth?.client_secret ? [server.auth.client_secret] : []), ...(server.auth && 'private_key' in server.auth && server.auth.private_key ? [server.auth.private_key] : [])]) {
    if (value.length >= 4) out = out.split(value).join('[REDACTED]');
  }
  return out.slice(0, 500);
}
