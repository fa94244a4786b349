/**
 * What a translation left out because the target provider has no equivalent: a tool type, a
 * message role, a content block, a top-level field. Translators push one entry per thing left
 * out (`tools[3].type=image_generation`, `messages[1].role=critic`, `prompt_cache_key`); the
 * gateway answers with them in `x-smartflow-dropped`, so a client can see that its request was
 * served without them instead of being refused (docs/passthrough.md).
 */
export const DROPPED_HEADER = 'x-smartflow-dropped';

/** Headers have a size limit at every proxy on the way; past this many characters the rest is counted, not listed. */
const MAX_HEADER_CHARS = 1_000;

/** An entry for `path`, with the client's own value (a type or role name) when it says what was dropped. */
export function droppedEntry(path: string, value?: unknown): string {
  return typeof value === 'string' ? `${path}=${value}` : path;
}

/**
 * The header value: entries joined by `, `, each reduced to characters that are safe in a header
 * (client-chosen names must not be able to start a new header line), cut at the size limit with
 * `(+N more)`. Undefined when nothing was dropped.
 */
export function droppedHeader(entries: readonly string[]): string | undefined {
  if (entries.length === 0) return undefined;
  let out = '';
  for (let i = 0; i < entries.length; i++) {
    const entry = entries[i]!.replace(/[^\w.[\]=:/@-]/g, '?').slice(0, 200);
    const next = out === '' ? entry : `${out}, ${entry}`;
    if (next.length > MAX_HEADER_CHARS) return `${out}, (+${entries.length - i} more)`;
    out = next;
  }
  return out;
}
