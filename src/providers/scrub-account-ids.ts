/**
 * Upstream error text goes to clients (and logs), but providers write the operator's account
 * details into it: OpenAI's rate-limit message names the organization (`org-…`) and project
 * (`proj_…`), its 401 quotes part of the key, Google quotes request URLs with `?key=`, Azure
 * names subscriptions, resource groups and resources, Anthropic names the organization by UUID
 * ("for your organization (<uuid>)", "(org: <uuid>, model: …)") and workspaces as `wrkspc_…`.
 * A client of the gateway has no business with any of them, so they are masked, keeping the kind
 * of id so the message still reads. Request ids (`req_…`, a UUID after "request") stay: they are
 * the caller's own, and what a provider's support asks for.
 */

/** An id body: long, or shorter with a digit in it, so that words such as "org-wide" stay. */
const ID = String.raw`(?:[A-Za-z0-9]{20,}|(?=[A-Za-z]*\d)[A-Za-z0-9]{8,})`;

const UUID = '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}';

/**
 * A word naming an account-like owner, then what providers put between it and the id: `_id`,
 * a possessive, and a few of spaces, colons, equals signs, commas, quotes, opening brackets.
 */
const OWNER_WORD = String.raw`\b((?:organi[sz]ations?|orgs?|workspaces?|projects?|accounts?|users?|tenants?|subscriptions?)(?:[ _-]?ids?)?(?:['’]s)?[\s:=,"'(\[]{0,6})`;

const RULES: ReadonlyArray<[RegExp, string]> = [
  [new RegExp(String.raw`\b(org|user)-${ID}`, 'g'), '$1-[REDACTED]'],
  [new RegExp(String.raw`\bproj_${ID}`, 'g'), 'proj_[REDACTED]'],
  // Anthropic's prefixed ids: workspaces, organizations, users, API keys.
  [new RegExp(String.raw`\b(wrkspc|org|organization|user|apikey)_${ID}`, 'g'), '$1_[REDACTED]'],
  // A UUID that an owner word introduces (Anthropic's organization, Azure's subscription, ...).
  [new RegExp(`${OWNER_WORD}${UUID}`, 'gi'), '$1[REDACTED]'],
  // API keys, also as the masked fragments providers echo (`sk-proj-****…abcd`).
  [/\bsk-[A-Za-z0-9_*-]{4,}/g, 'sk-[REDACTED]'],
  [/AIza[0-9A-Za-z_-]{20,}/g, '[REDACTED]'],
  [/\bkey=[^&\s"'<>)]+/gi, 'key=[REDACTED]'],
  // Azure resource ids and endpoints.
  [/\/subscriptions\/[^/\s"']+/gi, '/subscriptions/[REDACTED]'],
  [/\/resourceGroups\/[^/\s"']+/gi, '/resourceGroups/[REDACTED]'],
  [/\/accounts\/[^/\s"']+/gi, '/accounts/[REDACTED]'],
  [/\b[a-z0-9][a-z0-9-]*\.(openai|cognitiveservices|services\.ai)\.azure\.com/gi, '[REDACTED].$1.azure.com'],
];

/** The text with account identifiers masked. */
export function scrubAccountIds(text: string): string {
  let out = text;
  for (const [pattern, replacement] of RULES) out = out.replace(pattern, replacement);
  return out;
}
