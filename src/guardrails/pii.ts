import { isIPv6 } from 'node:net';
import { z } from 'zod';
import { cardIssuerValid, ibanValid, IBAN_LENGTHS, luhnValid, ssnValid } from './pii-validators.js';
import { compileHintScan } from './hint-scan.js';
import type { Finding, GuardrailMode, TextCheck } from './types.js';

export const PII_ENTITIES = ['email', 'phone', 'credit_card', 'iban', 'us_ssn', 'ip_address', 'api_key'] as const;
export type PiiEntity = (typeof PII_ENTITIES)[number];

const modeSchema = z.enum(['block', 'mask', 'flag']);
export const piiConfigSchema = z.strictObject({
  /** Which entities to look for (default: all). */
  entities: z.array(z.enum(PII_ENTITIES)).min(1).default([...PII_ENTITIES]),
  /** Per-entity action over the guardrail's mode (e.g. block cards, mask emails). */
  entity_actions: z.partialRecord(z.enum(PII_ENTITIES), modeSchema).default({}),
  /** Values never reported: exact strings (case-insensitive), or `@domain` for every address at that domain. */
  allow_list: z.array(z.string().min(1).max(200)).max(1000).default([]),
});
export type PiiConfig = z.output<typeof piiConfigSchema>;

type Span = [start: number, end: number];
/** What every detector's prefilter asks, computed once per text. */
interface TextFacts {
  digitRun: boolean;
  /** The hint words (phone cues, secret names, SSN labels) the text contains. */
  hints: ReadonlySet<string>;
}
type Detector = (text: string, facts: TextFacts) => Span[];

const EMAIL = /(?<![\w.%+-])[A-Za-z0-9][A-Za-z0-9._%+-]{0,63}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?)*\.[A-Za-z]{2,24}(?![A-Za-z0-9-])/g;
/** Not part of a longer digit run (an IBAN's digit groups, a long reference number). */
const CARD = /\d(?:[ -]?\d){11,18}(?!\d|[ -]\d)/g;
const IBAN_START = /[A-Z]{2}\d{2}(?=[ ]?[A-Z0-9])/g;
const SSN = /(\d{3})([- ])(\d{2})\2(\d{4})(?![\d-])/g;
const SSN_BARE = /(?:ssn|social security(?: number| no\.?)?|soc\. sec\.)\D{0,20}(?<!\d)(\d{3})(\d{2})(\d{4})(?!\d)/gi;
const IPV4 = /(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?!\.?\d)/g;
const IPV6 = /(?<![0-9A-Fa-f:])[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}(?![0-9A-Fa-f:])/g;
/** International numbers start with `+`; North American ones have their well-known shape. */
const PHONE_INTL = /(?<![\w+])\+[1-9]\d{0,2}(?:[ .-]?\(?\d{1,4}\)?){1,2}(?:[ .-]?\d{2,4}){2,4}(?!\d)/g;
const PHONE_NANP = /(?:\([2-9]\d{2}\) ?|[2-9]\d{2}[-. ])[2-9]\d{2}[-. ]\d{4}(?![\d-])/g;
/** French national format: 0X XX XX XX XX. */
const PHONE_FR = /0[1-9](?:[ .]\d{2}){4}(?!\d)/g;
/** Other national formats only next to a word that says it is a phone number, in several languages. */
const PHONE_CUE = /(?:phone|tel\.?|telephone|mobile|cell|fax|call(?: me)?(?: at| on)?|whats ?app|telefon(?:nummer)?|handy|téléphone|portable|teléfono|móvil|celular|telefono|cellulare|電話|携帯|전화)\s*(?:number|no\.?|nr\.?|num[eé]ro|número)?\s*[:：]?\s*(0\d{1,4}[ /.-]?\d{2,5}(?:[ .-]?\d{2,5}){0,3})(?!\d)/gi;
const API_KEYS = new RegExp(
  [
    String.raw`sk-(?:ant-|proj-|live-|test-|svcacct-)?[A-Za-z0-9_-]{20,}`,
    String.raw`(?:AKIA|ASIA)[0-9A-Z]{16}(?![0-9A-Za-z])`,
    String.raw`gh[pousr]_[A-Za-z0-9]{30,}`,
    String.raw`github_pat_[A-Za-z0-9_]{40,}`,
    String.raw`xox[abprs]-[A-Za-z0-9-]{10,}`,
    String.raw`AIza[0-9A-Za-z_-]{35}`,
    String.raw`(?:sk|rk|pk)_(?:live|test)_[0-9A-Za-z]{16,}`,
    String.raw`glpat-[A-Za-z0-9_-]{20,}`,
    String.raw`eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}`,
    String.raw`-----BEGIN (?:RSA |EC |OPENSSH |DSA |ENCRYPTED )?PRIVATE KEY-----`,
  ].join('|'),
  'g',
);
/**
 * Cheap tests that rule most texts out before the detectors' regexes run: nearly every detector
 * needs a run of digits, and the rest a literal marker. Leading lookbehinds are checked by hand
 * (`after`) because they stop the regex engine from skipping ahead to a candidate's first character.
 */
/** Seven digits or more, single separators allowed: the fewest any card, SSN or phone number has. */
const DIGIT_RUN = /\d(?:[ .()\/-]?\d){6}/;
const PHONE_CUE_HINTS = ['phone', 'tel', 'télé', 'mobile', 'cell', 'fax', 'call', 'whats', 'handy', 'portable', 'teléfono', 'móvil', 'celular', 'cellulare', '電話', '携帯', '전화'];
const IBAN_HINT = /[A-Z]{2}\d{2}/;
const DOTTED_DIGITS = /\d\.\d/;
const IPV6_HINT = /::|[0-9A-Fa-f]{1,4}:[0-9A-Fa-f]{1,4}:/;
const KEY_HINT = /sk-|AKIA|ASIA|gh[pousr]_|github_pat_|xox[abprs]-|AIza|[spr]k_(?:live|test)_|glpat-|eyJ|-----BEGIN/;
const SECRET_HINTS = ['password', 'passwd', 'pwd', 'secret', 'apikey', 'api_key', 'api-key', 'token', 'private_key', 'private-key'];
const SSN_HINTS = ['ssn', 'social sec', 'soc. sec'];
const after = (t: string, i: number, not: RegExp) => i === 0 || !not.test(t[i - 1]!);
const NOT_AFTER_CARD = /[\d-]/;
const NOT_AFTER_ALNUM = /[A-Za-z0-9]/;
const NOT_AFTER_IP = /[\d.]/;
const NOT_AFTER_KEY = /[\w-]/;
const NOT_AFTER_DIGIT = /\d/;

/** `password = hunter2hunter2`: the value after a secret-sounding name. */
const SECRET_ASSIGNMENT = /\b(?:password|passwd|pwd|secret|client_secret|api[_-]?key|access[_-]?token|auth[_-]?token|private[_-]?key)\b["']?\s*[:=]\s*["']?([^\s"',;]{8,})/gi;

function spans(re: RegExp, text: string, accept?: (m: RegExpExecArray) => Span | null): Span[] {
  const out: Span[] = [];
  re.lastIndex = 0;
  for (let m = re.exec(text); m !== null; m = re.exec(text)) {
    const span = accept ? accept(m) : ([m.index, m.index + m[0].length] as Span);
    if (span) out.push(span);
  }
  return out;
}

const IBAN_CHAR = /^[A-Z0-9]$/;

function ibanSpans(text: string): Span[] {
  const out: Span[] = [];
  IBAN_START.lastIndex = 0;
  for (let m = IBAN_START.exec(text); m !== null; m = IBAN_START.exec(text)) {
    const expected = IBAN_LENGTHS[m[0].slice(0, 2)];
    if (expected === undefined || !after(text, m.index, NOT_AFTER_ALNUM)) continue;
    // Walk the exact length the country prescribes, allowing single spaces between characters.
    let compact = m[0];
    let i = m.index + 4;
    while (compact.length < expected && i < text.length) {
      let c = text[i]!;
      if (c === ' ') {
        c = text[i + 1] ?? '';
        i++;
      }
      if (!IBAN_CHAR.test(c)) break;
      compact += c;
      i++;
    }
    if (compact.length !== expected) continue;
    if (i < text.length && /[A-Za-z0-9]/.test(text[i]!)) continue;
    if (ibanValid(compact)) out.push([m.index, i]);
  }
  return out;
}

const DETECTORS: Record<PiiEntity, Detector> = {
  email: (t) => (t.includes('@') ? spans(EMAIL, t) : []),
  credit_card: (t, f) =>
    f.digitRun
      ? spans(CARD, t, (m) => {
          // Not the tail of a longer digit run ("SE59 4313 2884 ..." is an IBAN, not a card).
          if (!after(t, m.index, NOT_AFTER_CARD) || (m.index >= 2 && t[m.index - 1] === ' ' && NOT_AFTER_DIGIT.test(t[m.index - 2]!))) return null;
          const digits = m[0].replace(/[ -]/g, '');
          return digits.length >= 12 && digits.length <= 19 && cardIssuerValid(digits) && luhnValid(digits) ? [m.index, m.index + m[0].length] : null;
        })
      : [],
  iban: (t) => (IBAN_HINT.test(t) ? ibanSpans(t) : []),
  us_ssn: (t, f) => [
    ...(f.digitRun ? spans(SSN, t, (m) => (after(t, m.index, NOT_AFTER_CARD) && ssnValid(m[1]!, m[3]!, m[4]!) ? [m.index, m.index + m[0].length] : null)) : []),
    ...(SSN_HINTS.some((h) => f.hints.has(h))
      ? spans(SSN_BARE, t, (m) => {
          if (!ssnValid(m[1]!, m[2]!, m[3]!)) return null;
          const end = m.index + m[0].length;
          return [end - 9, end];
        })
      : []),
  ],
  ip_address: (t) => [
    ...(DOTTED_DIGITS.test(t) ? spans(IPV4, t, (m) => (after(t, m.index, NOT_AFTER_IP) ? [m.index, m.index + m[0].length] : null)) : []),
    ...(IPV6_HINT.test(t) ? spans(IPV6, t, (m) => (isIPv6(m[0]) ? [m.index, m.index + m[0].length] : null)) : []),
  ],
  phone: (t, f) => {
    const intl = t.includes('+')
      ? spans(PHONE_INTL, t, (m) => {
          const n = m[0].replace(/\D/g, '').length;
          return n >= 8 && n <= 15 ? [m.index, m.index + m[0].length] : null;
        })
      : [];
    if (!f.digitRun) return intl;
    const cued = !PHONE_CUE_HINTS.some((h) => f.hints.has(h)) ? [] : spans(PHONE_CUE, t, (m) => {
      const number = m[1]!;
      const n = number.replace(/\D/g, '').length;
      if (n < 7 || n > 13) return null;
      const end = m.index + m[0].length;
      return [end - number.length, end];
    });
    const bounded = (m: RegExpExecArray): Span | null => (after(t, m.index, NOT_AFTER_CARD) ? [m.index, m.index + m[0].length] : null);
    return [...intl, ...spans(PHONE_NANP, t, bounded), ...spans(PHONE_FR, t, bounded), ...cued];
  },
  api_key: (t, f) => [
    ...(KEY_HINT.test(t) ? spans(API_KEYS, t, (m) => (after(t, m.index, NOT_AFTER_KEY) ? [m.index, m.index + m[0].length] : null)) : []),
    ...(SECRET_HINTS.some((h) => f.hints.has(h))
      ? spans(SECRET_ASSIGNMENT, t, (m) => {
          const end = m.index + m[0].length;
          return [end - m[1]!.length, end];
        })
      : []),
  ],
};

/** Drops spans contained in an earlier, longer one (an IP inside a URL-ish secret, a phone inside a card). */
function dedupe(findings: Finding[]): Finding[] {
  if (findings.length < 2) return findings;
  findings.sort((a, b) => a.start - b.start || b.end - a.end);
  const out: Finding[] = [];
  let reach = -1;
  for (const f of findings) {
    if (f.end <= reach) continue;
    out.push(f);
    reach = Math.max(reach, f.end);
  }
  return out;
}

/** Compiles a PII guardrail: checksum-verified structured identifiers, with an allow-list. */
export function compilePii(config: PiiConfig, mode: GuardrailMode): TextCheck {
  const allowExact = new Set(config.allow_list.filter((a) => !a.startsWith('@')).map((a) => a.toLowerCase()));
  const allowDomains = config.allow_list.filter((a) => a.startsWith('@')).map((a) => a.toLowerCase());
  const allowed = (value: string) => {
    const lower = value.toLowerCase();
    return allowExact.has(lower) || allowDomains.some((d) => lower.endsWith(d));
  };
  const checks = config.entities.map((entity) => ({ entity, detect: DETECTORS[entity], action: config.entity_actions[entity] ?? mode }));
  const hasAllowList = config.allow_list.length > 0;
  const scanHints = compileHintScan([...PHONE_CUE_HINTS, ...SECRET_HINTS, ...SSN_HINTS]);
  return (text) => {
    const findings: Finding[] = [];
    const facts: TextFacts = { digitRun: DIGIT_RUN.test(text), hints: scanHints(text.toLowerCase()) };
    for (const { entity, detect, action } of checks) {
      for (const [start, end] of detect(text, facts)) {
        if (hasAllowList && allowed(text.slice(start, end))) continue;
        findings.push({ category: entity, start, end, action });
      }
    }
    return dedupe(findings);
  };
}
