import type { SpendRecord } from './spend-record.js';

/** The formats `GET /api/spend/logs/export` writes. */
export type SpendExportFormat = 'csv' | 'jsonl';

/**
 * Every SpendRecord field, in the CSV's column order (docs/observability.md lists it). The
 * `satisfies` fails the build when SpendRecord gains a field this list lacks.
 */
const COLUMN_ORDER = {
  id: true, time: true, principal: true, key_id: true, team_id: true, model: true, provider: true, upstream_model: true,
  operation: true, stream: true, input_tokens: true, cached_input_tokens: true, output_tokens: true, cost_micros: true,
  usage_estimated: true, latency_ms: true, ttft_ms: true, status: true, error_code: true, cache_status: true,
  saved_cost_micros: true, fallback_chain: true, attempts: true, loop_id: true, loop_step: true, trace_id: true,
  mcp: true, guardrails: true,
} as const satisfies Record<keyof SpendRecord, true>;

const CSV_COLUMNS = Object.keys(COLUMN_ORDER) as Array<keyof SpendRecord>;

/**
 * A spreadsheet runs a cell starting with one of these as a formula (=, + and - start
 * expressions, @ a function; tab and CR are stripped by some importers, exposing what follows).
 * OWASP's CSV-injection advice: make such a cell text by putting a single quote in front.
 */
const FORMULA_START = /^[=+\-@\t\r]/;
/** RFC 4180: a field holding one of these goes in double quotes. */
const NEEDS_QUOTES = /[",\r\n]/;

function csvText(text: string): string {
  const guarded = FORMULA_START.test(text) ? `'${text}` : text;
  return NEEDS_QUOTES.test(guarded) ? `"${guarded.replace(/"/g, '""')}"` : guarded;
}

/**
 * One cell: null and absent values are empty, numbers and booleans as JSON writes them (never
 * guarded: `-5` is a number, not a formula), nested values (attempts, mcp, guardrails) as JSON
 * text, and every text cell through the formula guard and RFC 4180 quoting.
 */
function csvCell(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return csvText(typeof value === 'string' ? value : JSON.stringify(value));
}

/** The header row, CRLF-terminated as RFC 4180 says. */
export function csvHeader(): string {
  return `${CSV_COLUMNS.join(',')}\r\n`;
}

/** Rows as the export writes them: CSV lines (without the header), or one JSON object per line. */
export function encodeSpendRows(rows: SpendRecord[], format: SpendExportFormat): string {
  let out = '';
  if (format === 'jsonl') {
    // JSON.stringify escapes line breaks inside strings, so each record stays on one line.
    for (const row of rows) out += `${JSON.stringify(row)}\n`;
    return out;
  }
  for (const row of rows) out += `${CSV_COLUMNS.map((column) => csvCell(row[column])).join(',')}\r\n`;
  return out;
}
