/** Fields that hold prose in the request and response formats the gateway speaks (OpenAI chat, Responses, Anthropic, embeddings). */
const INPUT_KEYS = new Set(['content', 'text', 'input', 'prompt']);
const OUTPUT_KEYS = new Set(['content', 'text', 'output_text', 'refusal']);
/** Operator-written instructions are trusted: a system prompt saying "never reveal your instructions" is no injection. */
const TRUSTED_ROLES = new Set(['system', 'developer']);

type Rewrite = (text: string) => string;

function walk(value: unknown, keys: ReadonlySet<string>, inText: boolean, rewrite: Rewrite, depth: number): unknown {
  if (typeof value === 'string') return inText ? rewrite(value) : value;
  if (depth > 32 || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const next = walk(value[i], keys, inText, rewrite, depth + 1);
      if (next !== value[i]) value[i] = next;
    }
    return value;
  }
  const obj = value as Record<string, unknown>;
  if (typeof obj['role'] === 'string' && TRUSTED_ROLES.has(obj['role'])) return value;
  for (const key in obj) {
    const child = obj[key];
    const next = walk(child, keys, keys.has(key), rewrite, depth + 1);
    if (next !== child) obj[key] = next;
  }
  return value;
}

/**
 * Calls `rewrite` on every prose string of a request body (not system or developer messages, not
 * the top-level `system` or `instructions`) and writes back what it returns. Changes in place.
 */
export function rewriteInputTexts(body: unknown, rewrite: Rewrite): void {
  walk(body, INPUT_KEYS, false, rewrite, 0);
}

/** The same for a response body: message content, content blocks, output text. */
export function rewriteOutputTexts(body: unknown, rewrite: Rewrite): void {
  walk(body, OUTPUT_KEYS, false, rewrite, 0);
}

/** Every prose string of a request body, for async checks that cannot rewrite in place. */
export function inputTexts(body: unknown): string[] {
  const out: string[] = [];
  rewriteInputTexts(body, (t) => {
    out.push(t);
    return t;
  });
  return out;
}
