/**
 * Compiles a key's or team's allowed-model list. Entries are exact names or patterns with `*`
 * (any run of characters, including `/`): `gpt-4o`, `claude-*`, `openai/*`.
 * Returns null for an empty list, which allows every model.
 */
export function compileModelMatcher(patterns: readonly string[]): ((model: string) => boolean) | null {
  if (patterns.length === 0) return null;
  const exact = new Set<string>();
  const globs: RegExp[] = [];
  for (const p of patterns) {
    if (!p.includes('*')) exact.add(p);
    else globs.push(new RegExp(`^${p.split('*').map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`, 's'));
  }
  return (model) => exact.has(model) || globs.some((g) => g.test(model));
}
