import type { McpServer } from '../registry.js';

/** `*` matches any run of characters; everything else is literal. */
function glob(pattern: string): (name: string) => boolean {
  if (!pattern.includes('*')) return (name) => name === pattern;
  const re = new RegExp(`^${pattern.split('*').map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`, 's');
  return (name) => re.test(name);
}

/**
 * A server's `allowed_tools` (empty: every tool) and `denied_tools` (always wins), applied to
 * lists and calls alike so a hidden tool cannot be called by guessing its name.
 */
export function compileToolFilter(server: Pick<McpServer, 'allowed_tools' | 'denied_tools'>): (tool: string) => boolean {
  const allowed = server.allowed_tools.map(glob);
  const denied = server.denied_tools.map(glob);
  return (tool) => (allowed.length === 0 || allowed.some((m) => m(tool))) && !denied.some((m) => m(tool));
}
