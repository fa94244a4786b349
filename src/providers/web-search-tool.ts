import { isRecord } from './wire-utils.js';

/** OpenAI's spellings of its hosted web search tool, in chat `tools` and Responses `tools` alike. */
const WEB_SEARCH_TYPES = new Set(['web_search', 'web_search_preview', 'web_search_preview_2025_03_11', 'web_search_2025_08_26']);

/** What an OpenAI web search tool asks for, in the terms other providers' search tools take. */
export interface WebSearchRequest {
  /** `filters.allowed_domains`: search only these sites. */
  allowedDomains?: string[];
  /** `user_location` (approximate: city, region, country, timezone). */
  userLocation?: Record<string, unknown>;
}

/**
 * Reads an OpenAI web search tool: undefined when `tool` is not one, `offline` when it forbids
 * live access (`external_web_access: false`, Codex's cached mode), which no other provider's
 * search can honour, so translators drop it rather than search the live web against the
 * client's wish.
 */
export function readWebSearchTool(tool: Record<string, unknown>): WebSearchRequest | 'offline' | undefined {
  if (typeof tool['type'] !== 'string' || !WEB_SEARCH_TYPES.has(tool['type'])) return undefined;
  if (tool['external_web_access'] === false) return 'offline';
  const out: WebSearchRequest = {};
  const filters = tool['filters'];
  if (isRecord(filters) && Array.isArray(filters['allowed_domains'])) out.allowedDomains = filters['allowed_domains'].filter((d): d is string => typeof d === 'string');
  if (isRecord(tool['user_location'])) out.userLocation = tool['user_location'];
  return out;
}
