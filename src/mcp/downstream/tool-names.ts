/**
 * Tool names on the aggregated `/mcp` endpoint: `{alias}_{tool}`. Aliases match
 * `^[a-z][a-z0-9-]{0,31}$` and never hold `_`, so the first `_` always splits them back.
 */
export function prefixedToolName(alias: string, tool: string): string {
  return `${alias}_${tool}`;
}

/** `{alias, tool}` from a prefixed name, or null when it has no prefix. */
export function splitToolName(name: string): { alias: string; tool: string } | null {
  const at = name.indexOf('_');
  if (at <= 0 || at === name.length - 1) return null;
  return { alias: name.slice(0, at), tool: name.slice(at + 1) };
}
