import type { OpenAIUsage, Usage } from '../providers/types.js';
import { tokenCount } from '../providers/wire-utils.js';

const USAGE_KEY = '"usage":';
const PROMPT_TOKENS = /"prompt_tokens"\s*:\s*(\d+)/;
const COMPLETION_TOKENS = /"completion_tokens"\s*:\s*(\d+)/;
const CACHED_TOKENS = /"cached_tokens"\s*:\s*(\d+)/;

/**
 * The `usage` object of an OpenAI-format JSON answer, read without parsing the whole body:
 * the answer is forwarded as received, so usage is all the gateway needs from it. Falls back
 * to a full parse when the text does not look as expected.
 */
export function usageFromOpenAIText(text: string): Usage {
  const at = text.lastIndexOf(USAGE_KEY);
  if (at !== -1) {
    let i = at + USAGE_KEY.length;
    while (text.charCodeAt(i) === 32) i++;
    if (text.charCodeAt(i) === 123 /* { */) {
      const end = matchingBrace(text, i);
      if (end !== -1) {
        // Three numbers out of a ~150-character object: regexes beat JSON.parse here.
        const usage = text.slice(i, end + 1);
        const prompt = PROMPT_TOKENS.exec(usage);
        const completion = COMPLETION_TOKENS.exec(usage);
        if (prompt || completion) {
          return {
            input_tokens: prompt ? Number(prompt[1]) : 0,
            cached_input_tokens: Number(CACHED_TOKENS.exec(usage)?.[1] ?? 0),
            output_tokens: completion ? Number(completion[1]) : 0,
          };
        }
      }
    }
  }
  try {
    return usageFromOpenAI((JSON.parse(text) as { usage?: OpenAIUsage }).usage);
  } catch {
    return usageFromOpenAI(undefined);
  }
}

/** Index of the brace closing the object that opens at `start`, skipping braces inside strings; -1 if none. */
function matchingBrace(text: string, start: number): number {
  let depth = 0;
  let inString = false;
  for (let i = start; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 92 /* \ */) i++;
      else if (c === 34 /* " */) inString = false;
    } else if (c === 34) inString = true;
    else if (c === 123) depth++;
    else if (c === 125 && --depth === 0) return i;
  }
  return -1;
}

/** OpenAI usage (chat or embeddings) in the gateway's vocabulary; tolerant of missing fields. */
export function usageFromOpenAI(u: Partial<OpenAIUsage> | null | undefined): Usage {
  if (!u || typeof u !== 'object') return { input_tokens: 0, cached_input_tokens: 0, output_tokens: 0 };
  const details = u.prompt_tokens_details;
  return {
    input_tokens: tokenCount(u.prompt_tokens),
    cached_input_tokens: tokenCount(details && typeof details === 'object' ? details.cached_tokens : 0),
    output_tokens: tokenCount(u.completion_tokens),
  };
}
