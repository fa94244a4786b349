/**
 * DNS-rebinding protection for the MCP endpoint: a request carrying a browser `Origin` is
 * accepted only from the gateway's own host or an origin in `mcp.allowed_origins`. Requests
 * without `Origin` (desktop clients, curl, server-side SDKs) pass.
 */
export function createOriginCheck(allowedOrigins: readonly string[]): (origin: string | undefined, host: string | undefined) => boolean {
  const allowed = new Set(allowedOrigins.map((o) => o.toLowerCase().replace(/\/+$/, '')));
  return (origin, host) => {
    if (origin === undefined) return true;
    const normalised = origin.toLowerCase();
    if (allowed.has(normalised)) return true;
    let url: URL;
    try {
      url = new URL(normalised);
    } catch {
      return false;
    }
    return host !== undefined && (url.protocol === 'http:' || url.protocol === 'https:') && url.host === host.toLowerCase();
  };
}
