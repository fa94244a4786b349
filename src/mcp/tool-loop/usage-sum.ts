/**
 * Adds two usage objects of the same wire format field by field (numbers added, nested objects
 * such as `prompt_tokens_details` merged the same way), so a loop's answer reports what all its
 * steps used, in whatever shape the provider reports it.
 */
export function sumUsage(a: unknown, b: unknown): unknown {
  if (a === undefined || a === null) return b;
  if (b === undefined || b === null) return a;
  if (typeof a === 'number' && typeof b === 'number') return a + b;
  if (typeof a !== 'object' || typeof b !== 'object' || Array.isArray(a) || Array.isArray(b)) return b;
  const out: Record<string, unknown> = { ...(a as Record<string, unknown>) };
  for (const [key, value] of Object.entries(b as Record<string, unknown>)) out[key] = sumUsage(out[key], value);
  return out;
}

/** The JSON payload of an SSE frame (its `data:` lines), or undefined for a comment or `[DONE]`. */
export function framePayload(frame: string): { event: string | undefined; data: Record<string, unknown> } | undefined {
  let event: string | undefined;
  const data: string[] = [];
  for (const line of frame.split('\n')) {
    if (line.startsWith('event:')) event = line.slice(6).trim();
    else if (line.startsWith('data:')) data.push(line.slice(line.startsWith('data: ') ? 6 : 5));
  }
  if (data.length === 0) return undefined;
  const text = data.join('\n');
  if (text === '[DONE]') return undefined;
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null ? { event, data: value as Record<string, unknown> } : undefined;
  } catch {
    return undefined;
  }
}
