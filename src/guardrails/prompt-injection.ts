import { z } from 'zod';
import { compileHintScan } from './hint-scan.js';
import type { GuardrailMode, TextCheck } from './types.js';

export const promptInjectionConfigSchema = z.strictObject({
  /** The text fires when its combined heuristic score reaches this (0-1). */
  threshold: z.number().min(0.05).max(1).default(0.7),
});
export type PromptInjectionConfig = z.output<typeof promptInjectionConfigSchema>;

interface Heuristic {
  /** Lower-case substrings one of which the text must contain before the regex is worth running. */
  hints: readonly string[];
  category: 'instruction_override' | 'system_prompt_extraction' | 'role_play_jailbreak' | 'fake_delimiter' | 'encoded_payload' | 'unicode_smuggling';
  weight: number;
  re: RegExp;
}

const VERBS_OVERRIDE = '(?:ignore|ignoring|disregard|forget|override|bypass|skip|drop|abandon|discard|neglect|set aside|stop following|do not follow|don\'t follow|no longer follow|ignorez|ignoriere|ignora|olvida|vergiss|oublie)';
const TARGET_OVERRIDE = '(?:instructions?|rules|prompts?|directions|directives|guidelines|guardrails|constraints|restrictions|programming|system message|system prompt|polic(?:y|ies)|safety (?:rules|guidelines)|content polic(?:y|ies)|anweisungen|instrucciones|consignes|istruzioni)';

const HEURISTICS: Heuristic[] = [
  { hints: ['ignor', 'disregard', 'forget', 'overrid', 'bypass', 'skip', 'drop', 'abandon', 'discard', 'neglect', 'set aside', 'follow', 'vergiss', 'oublie', 'olvida'], category: 'instruction_override', weight: 0.85, re: new RegExp(`\\b${VERBS_OVERRIDE}\\b[^.\\n]{0,60}?\\b(?:previous|prior|preceding|above|earlier|all|any|every|your|the|these|those|initial|original|system|developer|vorherigen|alle|toutes|les|todas|las|tutte|le|précédentes|anteriores|precedenti)\\b[^.\\n]{0,40}?\\b${TARGET_OVERRIDE}`, 'i') },
  { hints: ['instruction', 'directive', 'system prompt'], category: 'instruction_override', weight: 0.8, re: /\b(?:real|actual|true|override|secret|hidden|admin) (?:instructions?|directives?|system prompt)\s*[:\-]/i },
  { hints: ['instruction', 'directive', 'system prompt'], category: 'instruction_override', weight: 0.75, re: /\b(?:new|updated|revised) (?:instructions?|directives?|system prompt)\s*[:\-]\s*(?:you (?:must|will|are)|ignore|forget|forward|leak|reveal|respond|mark|approve|grant|send|disable|output)\b/i },
  { hints: ['from now on', 'henceforth', 'for the rest of'], category: 'instruction_override', weight: 0.7, re: /\b(?:from now on|henceforth|for the rest of this conversation),? (?:you (?:will|must|shall|are)|ignore|answer without|respond without|there are no)\b/i },
  { hints: ['your new', 'your real', 'your only', 'your true'], category: 'instruction_override', weight: 0.55, re: /\byour (?:new|real|only|true) (?:task|goal|purpose|instructions?|objective) (?:is|are)\b/i },
  { hints: ['system', 'instruction', 'prompt', 'hidden', 'developer'], category: 'system_prompt_extraction', weight: 0.85, re: /\b(?:reveal|show|print|repeat|output|display|tell me|leak|dump|give me|write out|spell out|recite|paste|copy|share|list|translate|summari[sz]e|what (?:is|are|was|were))\b[^.\n?]{0,40}?\b(?:your|the (?:above|hidden|initial|original|secret|full|exact|entire)|this conversation's|the)\b[^.\n?]{0,30}?\b(?:system prompt|system message|system instructions|initial instructions|instructions you were given|prompt above|hidden (?:instructions|prompt)|original (?:instructions|prompt)|developer (?:message|instructions)|configuration prompt|pre-?prompt|instructions verbatim)/i },
  { hints: ['above', 'before', 'preceding'], category: 'system_prompt_extraction', weight: 0.75, re: /\b(?:repeat|print|output|return) (?:everything|all(?: the text)?|the text|the words) (?:above|before|that came before|preceding)\b/i },
  { hints: ['begin your', 'start your'], category: 'system_prompt_extraction', weight: 0.7, re: /\b(?:begin|start) your (?:reply|answer|response) with ["']?(?:you are|my instructions|sure, here is the system)/i },
  { hints: ['dan', 'do anything', 'stan', 'dude', 'aim mode', 'jailbr'], category: 'role_play_jailbreak', weight: 0.9, re: /\b(?:DAN|Do Anything Now|STAN|DUDE mode|AIM mode)\b|\byou are (?:now )?jailbroken\b|\bjailbreak(?:ed)? (?:mode|prompt)\b/ },
  { hints: [' mode'], category: 'role_play_jailbreak', weight: 0.8, re: /\b(?:enable|activate|enter|switch to|you are (?:now )?in|you're (?:now )?in)\s+(?:the\s+)?(?:developer|dev|god|unfiltered|evil|opposite|jailbreak|unrestricted)\s+mode\b(?![^.\n?]*\b(?:android|chrome|iphone|ipad|ios|windows|mac|macos|phone|settings|extensions?|browser|game|bios|router)\b)/i },
  { hints: ['pretend', 'imagine', 'act as', 'roleplay', 'role-play', 'you are now', "you're now", 'behave as', 'simulate'], category: 'role_play_jailbreak', weight: 0.75, re: /\b(?:pretend|imagine|act as if|roleplay|role-play|act as|you are now|you're now|behave as|simulate)\b[^.\n]{0,60}?\b(?:no (?:restrictions|rules|limits|filters|guidelines|ethics|morals)|without (?:any )?(?:restrictions|filters|limitations|rules|guidelines|censorship|ethics|morals)|unrestricted|unfiltered|uncensored|amoral|evil|rogue|not bound by|free from (?:all )?(?:rules|restrictions|openai|anthropic))/i },
  { hints: ['you are no longer', 'you are not'], category: 'role_play_jailbreak', weight: 0.7, re: /\byou are (?:no longer|not) (?:an? )?(?:ai|assistant|chatgpt|claude|language model|bound|restricted|limited)\b/i },
  { hints: ['refuse', 'never say', 'never tell', 'answer every', 'answer any'], category: 'role_play_jailbreak', weight: 0.75, re: /\b(?:you must never refuse|you (?:cannot|can't|may not|must not) refuse|never (?:say|tell me) (?:no|you can't)|answer (?:every|any) question without)\b/i },
  { hints: ['character'], category: 'role_play_jailbreak', weight: 0.3, re: /\b(?:stay in character|never break character)\b/i },
  { hints: ['im_start', '|system|', 'inst]', '<<sys>>', '###', 'system', 'end of', '---'], category: 'fake_delimiter', weight: 0.75, re: /(?:<\|im_start\|>\s*system|<\|system\|>|\[\/?INST\]|<<SYS>>|###\s*(?:system|instruction)s?\s*:?\s*$|(?:^|[.!?]\s+|\s)system\s*:\s*(?:you (?:are|must)|ignore|new|disregard|forget)|<\/?system>|\bEND OF (?:USER )?(?:INPUT|PROMPT)\b|-{3,}\s*(?:new|admin|system) (?:instructions|prompt))/im },
  { hints: ['decode', 'base64', 'rot13', 'reverse'], category: 'encoded_payload', weight: 0.5, re: /\b(?:decode|base64|rot13|hex-?decode|reverse) (?:this|the following|it)\b[^.\n]{0,40}?\b(?:and|then) (?:follow|execute|run|do|obey|apply)\b/i },
];

/** Zero-width, bidi-control and Unicode tag characters: invisible text aimed at the model, not the reader. */
const INVISIBLE = /[\u200B-\u200F\u202A-\u202E\u2060-\u2064\u2066-\u2069\uFEFF]|\uDB40[\uDC00-\uDC7F]/g;
const TAG_CHARS = /\uDB40[\uDC00-\uDC7F]/;
/** Latin-looking letters from Cyrillic and Greek that spell out "ignore" to the model but not to a filter. */
const HOMOGLYPHS: Record<string, string> = { а: 'a', е: 'e', о: 'o', р: 'p', с: 'c', у: 'y', х: 'x', і: 'i', ј: 'j', ѕ: 's', ԁ: 'd', ո: 'n', ɡ: 'g', Α: 'A', Β: 'B', Ε: 'E', Ι: 'I', Ο: 'O', Ρ: 'P', Τ: 'T', Χ: 'X', ο: 'o', ι: 'i', Ѕ: 'S', І: 'I', О: 'O', Р: 'P', А: 'A', Е: 'E', С: 'C', Т: 'T', Н: 'H', К: 'K', М: 'M', В: 'B' };
const HOMOGLYPH_RE = new RegExp(`[${Object.keys(HOMOGLYPHS).join('')}]`, 'g');
/** A Latin letter touching a Cyrillic or Greek one inside a word: mixed-script spoofing. */
const MIXED_SCRIPT = /\p{Script=Latin}[\p{Script=Cyrillic}\p{Script=Greek}]|[\p{Script=Cyrillic}\p{Script=Greek}]\p{Script=Latin}/u;
const NON_ASCII = /[^\x00-\x7F]/;
/** Decoded text that reads as text (UTF-8 letters allowed), not binary. */
const PRINTABLE = /^[^\x00-\x08\x0E-\x1F\x7F\uFFFD]+$/;
const MIN_BASE64_RUN = 24;
/** Letters spaced out or dotted ("i g n o r e", "i.g.n.o.r.e") to slip past word matching. */
const SPACED = /\b(?:[A-Za-z][ ._-]){5,}[A-Za-z]\b/g;
const SPACED_HINT = /\b[A-Za-z][ ._-][A-Za-z][ ._-][A-Za-z][ ._-][A-Za-z]\b/;

/** The same text as the model will read it: invisible characters dropped, homoglyphs and fullwidth forms folded, spacing collapsed. */
function normalise(text: string): string {
  let out = NON_ASCII.test(text) ? text.normalize('NFKC').replace(INVISIBLE, '').replace(HOMOGLYPH_RE, (c) => HOMOGLYPHS[c] ?? c) : text;
  if (SPACED_HINT.test(out)) out = out.replace(SPACED, (m) => m.replace(/[ ._-]/g, ''));
  return out;
}

function isBase64Char(c: number): boolean {
  return (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || (c >= 48 && c <= 57) || c === 43 || c === 47;
}

/** Printable decoded base64 runs, which the heuristics read again. A hand loop: a regex for long runs rescans every word. */
function decodedPayloads(text: string): string[] {
  const out: string[] = [];
  let start = -1;
  for (let i = 0; i <= text.length && out.length < 8; i++) {
    if (i < text.length && isBase64Char(text.charCodeAt(i))) {
      if (start < 0) start = i;
      continue;
    }
    if (start >= 0 && i - start >= MIN_BASE64_RUN) {
      const decoded = Buffer.from(text.slice(start, i), 'base64').toString('utf8');
      if (decoded.length >= 12 && PRINTABLE.test(decoded)) out.push(decoded);
    }
    start = -1;
  }
  return out;
}

const scanHints = compileHintScan(HEURISTICS.flatMap((h) => h.hints));

function score(text: string, categories: Set<string>): number {
  let miss = 1;
  const present = scanHints(text.toLowerCase());
  if (present.size === 0) return 0;
  for (const h of HEURISTICS) {
    if (!h.hints.some((hint) => present.has(hint))) continue;
    if (h.re.test(text)) {
      miss *= 1 - h.weight;
      categories.add(h.category);
    }
  }
  return 1 - miss;
}

/** The combined score (0-1) and the heuristics that contributed, for the eval and for logs. */
export function promptInjectionScore(text: string): { score: number; categories: string[] } {
  const categories = new Set<string>();
  let miss = 1 - score(normalise(text), categories);
  if (NON_ASCII.test(text)) {
    if (TAG_CHARS.test(text)) {
      miss *= 0.1;
      categories.add('unicode_smuggling');
    } else if (MIXED_SCRIPT.test(text) && categories.size > 0) {
      miss *= 0.5;
      categories.add('unicode_smuggling');
    }
  }
  if (text.length >= 24) {
    for (const decoded of decodedPayloads(text)) {
      const inner = score(normalise(decoded), categories);
      if (inner > 0) {
        // Hiding an instruction in base64 is itself a signal.
        miss *= (1 - inner) * 0.5;
        categories.add('encoded_payload');
      }
    }
  }
  return { score: 1 - miss, categories: [...categories] };
}

/** Compiles a prompt-injection guardrail: weighted heuristics over the normalised and decoded text, one finding per heuristic that contributed, each over the whole text. */
export function compilePromptInjection(config: PromptInjectionConfig, mode: GuardrailMode): TextCheck {
  return (text) => {
    const { score: s, categories } = promptInjectionScore(text);
    if (s < config.threshold) return [];
    return categories.map((category) => ({ category, start: 0, end: text.length, action: mode }));
  };
}
