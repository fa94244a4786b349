/** Credentials and hop-by-hop headers that are never forwarded, whatever a pattern says. */
const NEVER_FORWARD = new Set([
  'authorization',
  'proxy-authorization',
  'x-api-key',
  'api-key',
  'x-goog-api-key',
  'cookie',
  'host',
  'content-length',
  'content-type',
  'connection',
  'transfer-encoding',
  'keep-alive',
  'upgrade',
]);

/** Compiled `forward_headers` patterns: exact names, or prefixes written as `x-foo-*`. */
export interface HeaderForwarder {
  pick(headers: Record<string, string | string[] | undefined>): Record<string, string>;
}

export function createHeaderForwarder(patterns: string[]): HeaderForwarder {
  const exact = new Set<string>();
  const prefixes: string[] = [];
  for (const p of patterns) {
    const lower = p.toLowerCase();
    if (lower.endsWith('*')) prefixes.push(lower.slice(0, -1));
    else exact.add(lower);
  }
  if (exact.size === 0 && prefixes.length === 0) return { pick: () => ({}) };
  return {
    pick(headers) {
      const out: Record<string, string> = {};
      for (const name in headers) {
        // `x-mcp-*` carry credentials for one MCP server (mcp/auth/forwarded-headers.ts): never for a provider.
        if (NEVER_FORWARD.has(name) || name.startsWith('x-mcp-')) continue;
        if (!exact.has(name) && !prefixes.some((p) => name.startsWith(p))) continue;
        const v = headers[name];
        if (v !== undefined) out[name] = Array.isArray(v) ? v.join(', ') : v;
      }
      return out;
    },
  };
}
