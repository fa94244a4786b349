/** One row of the spend log: what one request cost and how it went. Money in integer micro-USD. */
export interface SpendRecord {
  /** Request id (also the `x-request-id` response header). */
  id: string;
  /** Epoch milliseconds when the request arrived. */
  time: number;
  /** Who made the request: `master` or a virtual key id. */
  principal: string;
  /** Virtual key id, when one was used; null for the master key. */
  key_id: string | null;
  team_id: string | null;
  /** The model name the client asked for. */
  model: string;
  provider: string | null;
  upstream_model: string | null;
  /** `chat`, `embeddings`, ... */
  operation: string;
  stream: boolean;
  input_tokens: number;
  cached_input_tokens: number;
  output_tokens: number;
  cost_micros: number;
  /**
   * True when the provider reported no usage (a server that omits it, a stream cut off, a client
   * that left before the answer) and the token counts, and so the cost, are the gateway's own
   * estimate (docs/observability.md).
   */
  usage_estimated: boolean;
  latency_ms: number;
  /** Time to first streamed byte; null for non-streaming requests and failures before the first byte. */
  ttft_ms: number | null;
  status: number;
  error_code: string | null;
  /** Response-cache outcome: `hit`, `stored` (a miss that was cached), `miss`, `bypass`; null when caching did not apply. */
  cache_status: 'hit' | 'stored' | 'miss' | 'bypass' | null;
  /** On a cache hit, what the answer cost when the provider made it (the hit itself costs 0). */
  saved_cost_micros: number;
  /** The fallback chain the request walked, if any. */
  fallback_chain: string | null;
  /** Every upstream attempt, when there was more than one (retries, fallbacks); null otherwise. */
  attempts: SpendAttempt[] | null;
  /**
   * The MCP tool loop this row belongs to (the request id of the client's call), linking its LLM
   * steps and the tool calls they made (docs/mcp.md, "Tool loop"); null outside a loop.
   */
  loop_id: string | null;
  /** The LLM step (1, 2, ...) this row is, or, on an `mcp.call` row, the step that asked for the call. */
  loop_step: number | null;
  /**
   * The trace the row belongs to: an A2A task's `X-A2A-Trace-Id` on its LLM steps and tool calls,
   * the carrying request's id on other MCP tool calls; null otherwise.
   */
  trace_id: string | null;
  /** MCP tool calls (operation `mcp.call`) only; absent on every other row. */
  mcp?: SpendMcpCall;
  /** What guardrails did to the request (docs/guardrails.md): present only when one blocked, masked or flagged something. */
  guardrails?: SpendGuardrailHit[];
}

/** One guardrail that fired on a request: where, with which action, and what it found. */
export interface SpendGuardrailHit {
  guardrail: string;
  /** `pre`: the input (or an MCP tool call's arguments); `post`: the output (or the tool's result). */
  stage: 'pre' | 'post';
  action: 'block' | 'mask' | 'flag';
  categories: string[];
}

/** What an MCP tool call row adds to the common columns. */
export interface SpendMcpCall {
  /** The server's stable id (`provider` holds its alias at the time of the call). */
  server_id: string | null;
  /** The call's `arguments` as JSON, in bytes. */
  bytes_in: number;
  /** The result as JSON, in bytes; 0 when the call failed. The row's `trace_id` is the request that carried the call. */
  bytes_out: number;
}

/** One call to a provider within a request that retried or fell back, or a target it skipped. */
export interface SpendAttempt {
  provider: string;
  upstream_model: string;
  /** The attempt's HTTP status (or its error's); 0 for a skipped target, which was not called. */
  status: number;
  error_code: string | null;
  /** This attempt's own time, without the waits between attempts. */
  latency_ms: number;
  cost_micros: number;
  /** Why the target was not called: `cooling down until <ISO time>`, or that the caller's own key may not go to it. Absent for calls made. */
  skipped?: string;
}

export interface SpendQuery {
  /** Inclusive lower bound, epoch ms. */
  from?: number;
  /** Exclusive upper bound, epoch ms. */
  to?: number;
  model?: string;
  key_id?: string;
  /** `master`, a key id, or `anonymous`. */
  principal?: string;
  /** Exact status code, or `success` (< 400) / `error` (>= 400). */
  status?: number | 'success' | 'error';
  limit: number;
  /** Opaque cursor from a previous page. */
  cursor?: string;
}

export interface SpendPage {
  rows: SpendRecord[];
  /** Present when more rows match; pass back as `cursor`. */
  next_cursor: string | null;
}

/**
 * Totals of the spend log grouped by virtual key or by team. Whole UTC days in the range are read
 * from the daily rollups, which outlive the raw rows (`spend_log.rollup_retention_days`); the
 * partial days at its edges from the raw rows.
 */
export interface SpendSummaryQuery {
  group_by: 'key' | 'team';
  /** Inclusive lower bound on record time, epoch ms. */
  from?: number;
  /** Exclusive upper bound on record time, epoch ms. */
  to?: number;
}

/** What a group of spend rows adds up to: a summary row, a daily rollup. */
export interface SpendTotals {
  requests: number;
  /** Requests that ended with a status >= 400. */
  errors: number;
  input_tokens: number;
  cached_input_tokens: number;
  output_tokens: number;
  cost_micros: number;
  /** Epoch ms of the newest request in the group. */
  last_used: number;
}

/** Zero totals for a group whose first row is at `time`. */
export function emptyTotals(time: number): SpendTotals {
  return { requests: 0, errors: 0, input_tokens: 0, cached_input_tokens: 0, output_tokens: 0, cost_micros: 0, last_used: time };
}

/** Adds one spend row to a group's totals. */
export function addRecordToTotals(totals: SpendTotals, r: SpendRecord): void {
  totals.requests += 1;
  if (r.status >= 400) totals.errors += 1;
  totals.input_tokens += r.input_tokens;
  totals.cached_input_tokens += r.cached_input_tokens;
  totals.output_tokens += r.output_tokens;
  totals.cost_micros += r.cost_micros;
  totals.last_used = Math.max(totals.last_used, r.time);
}

/** Adds another group's totals (a rollup into a summary, one part of a range into another). */
export function addTotals(totals: SpendTotals, more: SpendTotals): void {
  totals.requests += more.requests;
  totals.errors += more.errors;
  totals.input_tokens += more.input_tokens;
  totals.cached_input_tokens += more.cached_input_tokens;
  totals.output_tokens += more.output_tokens;
  totals.cost_micros += more.cost_micros;
  totals.last_used = Math.max(totals.last_used, more.last_used);
}

export interface SpendSummaryRow extends SpendTotals {
  /** The key id or team id; null groups the requests made without one (master key, unauthenticated). */
  id: string | null;
}

/** A spend summary and the range it covers. */
export interface SpendSummary {
  /** Most expensive first; ties by id in byte order, the null group last. */
  rows: SpendSummaryRow[];
  /**
   * The bounds the totals cover (absent: unbounded). They are the query's, except where the raw
   * rows of a partial day at an edge of the range are gone (retention, the Redis cap): that whole
   * UTC day is then counted from its rollups and the bound moves out to its midnight.
   */
  from?: number;
  to?: number;
}
