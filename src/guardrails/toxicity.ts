import { z } from 'zod';
import { compileHintScan } from './hint-scan.js';
import type { Finding, GuardrailMode, TextCheck } from './types.js';

export const TOXICITY_CATEGORIES = ['insult', 'profanity', 'threat', 'harassment', 'hate', 'self_harm'] as const;
export type ToxicityCategory = (typeof TOXICITY_CATEGORIES)[number];

export const toxicityConfigSchema = z.strictObject({
  categories: z.array(z.enum(TOXICITY_CATEGORIES)).min(1).default([...TOXICITY_CATEGORIES]),
  /** A text fires when its score in one category reaches this (0-1; one strong term scores 0.6-1). */
  threshold: z.number().min(0.05).max(1).default(0.5),
});
export type ToxicityConfig = z.output<typeof toxicityConfigSchema>;

interface Term {
  category: ToxicityCategory;
  weight: number;
  re: RegExp;
  /** Lower-case words one of which the text must contain before the pattern runs. */
  hints: readonly string[];
}

/** Whole words only (word boundaries keep "Scunthorpe", "assessment", "skills" and "classic" clean); weights are per hit. */
const LEXICON: Array<[ToxicityCategory, number, string[]]> = [
  ['insult', 0.6, ['idiot', 'idiots', 'idiotic', 'moron', 'morons', 'moronic', 'imbecile', 'cretin', 'dumbass', 'dimwit', 'halfwit', 'nitwit', 'numbskull', 'loser', 'losers', 'scumbag', 'dirtbag', 'lowlife', 'degenerate', 'buffoon', 'clown', 'pathetic', 'worthless', 'useless piece']],
  ['insult', 0.35, ['stupid', 'dumb', 'brainless', 'clueless', 'incompetent', 'ignorant', 'disgusting', 'ugly', 'fat', 'trash', 'garbage', 'dense']],
  ['profanity', 0.6, ['fuck', 'fucking', 'fucked', 'fucker', 'motherfucker', 'shit', 'shitty', 'bullshit', 'asshole', 'assholes', 'bastard', 'bitch', 'bitches', 'dickhead', 'prick', 'cunt', 'wanker', 'twat', 'douchebag', 'piss off', 'scheisse', 'scheiße', 'arschloch', 'putain', 'merde', 'connard', 'mierda', 'cabrón', 'pendejo', 'cazzo', 'stronzo']],
  ['profanity', 0.25, ['damn', 'crap', 'hell', 'bloody', 'suck']],
  ['harassment', 0.6, ['screw you', 'screw your']],
];

/** Phrases where the words only count together; target-directed ("you") so "kill the process" stays clean. */
const PATTERNS: Array<[ToxicityCategory, number, RegExp, string[]]> = [
  ['threat', 1, /\b(?:i(?:'ll| will| am going to|'m going to|'m gonna| gonna)|we(?:'ll| will)) (?:\w+ ){0,2}(?:kill|murder|hurt|beat|stab|shoot|strangle|destroy|end|find|burn|rape) you\b/i, ['you', 'watch your', 'sleep with']],
  ['threat', 1, /\byou(?:'re| are) (?:going to |gonna )?(?:dead|die|regret (?:this|it))\b/i, ['you', 'watch your', 'sleep with']],
  ['threat', 0.9, /\b(?:watch your back|i know where you live|sleep with one eye open|you(?:'ll| will) pay for (?:this|that))\b/i, ['you', 'watch your', 'sleep with']],
  ['threat', 0.8, /\bi (?:hope|wish) (?:you|they) (?:die|get hurt|get cancer|burn)\b/i, ['you', 'watch your', 'sleep with']],
  ['harassment', 0.7, /\b(?:shut (?:the fuck )?up|nobody (?:likes|cares about|wants) you|go away and die|get lost|you (?:disgust|sicken) me)\b/i, ['shut', 'nobody', 'go away', 'get lost', 'you']],
  ['harassment', 0.6, /\byou(?:'re| are) (?:such )?(?:an? )?(?:\w+ )?(?:waste of (?:space|air|oxygen)|joke|failure|disgrace|embarrassment)\b/i, ['shut', 'nobody', 'go away', 'get lost', 'you']],
  ['insult', 0.6, /\btoo (?:dumb|stupid) to (?:live|function|exist)\b/i, ['you', 'too dumb', 'too stupid']],
  ['insult', 0.6, /\byou(?:'re| are) (?:so |such an? |an? |really )*(?:stupid|dumb|ugly|fat|useless|worthless|pathetic|disgusting|retarded)\b/i, ['you', 'too dumb', 'too stupid']],
  ['hate', 1, /\b(?:all|every|those|these) (?:\w+ )?(?:immigrants|foreigners|muslims|jews|christians|blacks|whites|asians|gays|women|men|mexicans|arabs|refugees) (?:are|should be) (?:\w+ )?(?:animals|vermin|parasites|subhuman|scum|rats|cockroaches|inferior|exterminated|deported|killed|banned|trash)\b/i, ['all ', 'every ', 'those ', 'these ', 'go back', 'kind ']],
  ['hate', 0.9, /\b(?:go back to (?:your|where you came from)|(?:your|their) kind (?:doesn't|don't|do not) belong)\b/i, ['all ', 'every ', 'those ', 'these ', 'go back', 'kind ']],
  ['self_harm', 1, /\b(?:kill (?:yo)?urself|kys|go die|drink bleach|you should (?:just )?die|end your (?:own )?life)\b/i, ['kill', 'kys', 'die', 'bleach', 'end your', 'hurt myself', 'end it']],
  ['self_harm', 0.9, /\bi (?:want|wanna|am going|'m going) to (?:kill myself|end (?:it all|my life)|hurt myself)\b/i, ['kill', 'kys', 'die', 'bleach', 'end your', 'hurt myself', 'end it']],
];

/** Words that, within five words before a hit, turn it around: "you're not stupid". */
/** Letters and digits of the Latin scripts: the `u` flag's \\p{L} would slow every scan down several times. */
const WORD_CHAR = /[A-Za-z0-9_\u00C0-\u024F]/;
const NEGATION = /\b(?:not|never|no|isn't|aren't|wasn't|weren't|don't|doesn't|didn't|nobody|no one|nobody's|hardly|nicht|kein|pas|jamais|no es)\s+(?:\S+\s+){0,4}$/i;
/** Quoting or asking about a word is not using it: "what does 'idiot' mean", "the word 'damn'". */
const MENTION = /(?:\bthe (?:word|term|phrase)|\bwhat does|\bdefinition of|\bmeaning of|\bis it rude to say|\btranslate)\s+["'“‘]?$/i;

/**
 * The whole lexicon as one regex with a capture group per (category, weight) entry, so a text is
 * scanned once; the patterns follow, each behind its hint words.
 */
function compileLexicon(categories: ReadonlySet<ToxicityCategory>): { lexicon: { re: RegExp; groups: Array<{ category: ToxicityCategory; weight: number }> } | null; patterns: Term[] } {
  const groups: Array<{ category: ToxicityCategory; weight: number }> = [];
  const sources: string[] = [];
  for (const [category, weight, words] of LEXICON) {
    if (!categories.has(category)) continue;
    groups.push({ category, weight });
    sources.push(`(${words.map((w) => w.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace(/ /g, '\\s+')).join('|')})`);
  }
  // `\b` first: alternatives are tried at word starts only. Its ASCII notion of a word misses accented letters, so the start is checked again by hand.
  const lexicon = sources.length ? { re: new RegExp(`\\b(?:${sources.join('|')})(?![A-Za-z0-9_\\u00C0-\\u024F])`, 'gi'), groups } : null;
  const patterns: Term[] = [];
  for (const [category, weight, re, hints] of PATTERNS) if (categories.has(category)) patterns.push({ category, weight, re: new RegExp(re.source, 'gi'), hints });
  return { lexicon, patterns };
}

/** Compiles a toxicity guardrail: lexicon and phrase scoring per category, with negation and word-boundary care. */
export function compileToxicity(config: ToxicityConfig, mode: GuardrailMode): TextCheck {
  const { lexicon, patterns } = compileLexicon(new Set(config.categories));
  const scanHints = compileHintScan(patterns.flatMap((p) => p.hints));
  return (text) => {
    const scores = new Map<ToxicityCategory, number>();
    const hits: Finding[] = [];
    const hit = (category: ToxicityCategory, weight: number, m: RegExpExecArray) => {
      const before = text.slice(Math.max(0, m.index - 40), m.index);
      if (NEGATION.test(before) || MENTION.test(before)) return;
      // Scores add up like independent evidence: two mild words are more than one, never above 1.
      const prior = scores.get(category) ?? 0;
      scores.set(category, 1 - (1 - prior) * (1 - weight));
      hits.push({ category, start: m.index, end: m.index + m[0].length, action: mode });
    };
    if (lexicon) {
      lexicon.re.lastIndex = 0;
      for (let m = lexicon.re.exec(text); m !== null; m = lexicon.re.exec(text)) {
        if (m.index > 0 && WORD_CHAR.test(text[m.index - 1]!)) continue;
        const g = lexicon.groups[m.slice(1).findIndex((v) => v !== undefined)]!;
        hit(g.category, g.weight, m);
      }
    }
    const present = scanHints(text.toLowerCase());
    for (const term of patterns) {
      if (!term.hints.some((h) => present.has(h))) continue;
      term.re.lastIndex = 0;
      for (let m = term.re.exec(text); m !== null; m = term.re.exec(text)) hit(term.category, term.weight, m);
    }
    const firing = new Set<string>();
    for (const [category, score] of scores) if (score >= config.threshold - 1e-9) firing.add(category);
    return firing.size === 0 ? [] : hits.filter((h) => firing.has(h.category));
  };
}
