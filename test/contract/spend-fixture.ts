import type { SpendRecord } from '../../src/spend/spend-record.js';

/**
 * Sixty spend records over about fifteen seconds, ending twenty-odd seconds ago. The times are
 * recent because the Redis backend bounds its scan by the stream's append time.
 * Every filter value occurs, three records share each time, and ids are not in time order, so
 * the id tiebreak among equal times is visible.
 */
export function spendFixture(base = Date.now() - 30_000): SpendRecord[] {
  return Array.from({ length: 60 }, (_, i) => ({
    id: `req-${String((i * 37) % 100).padStart(2, '0')}`,
    time: base + Math.floor(i / 3) * 250,
    principal: i % 5 === 0 ? 'master' : `key-${i % 3}`,
    key_id: i % 5 === 0 ? null : `key-${i % 3}`,
    team_id: i % 4 === 0 ? null : 'team-1',
    model: ['gpt-x', 'claude-y', 'gemini-z'][i % 3] ?? 'gpt-x',
    provider: i % 6 === 0 ? null : 'openai',
    upstream_model: i % 6 === 0 ? null : 'gpt-x-2025',
    operation: i % 8 === 0 ? 'embeddings' : 'chat',
    stream: i % 2 === 0,
    input_tokens: i * 10,
    cached_input_tokens: i,
    output_tokens: i * 3,
    cost_micros: i * 1_234,
    usage_estimated: i % 11 === 0,
    latency_ms: 100 + i + 0.125, // the gateway records milliseconds with microsecond decimals
    ttft_ms: i % 2 === 0 ? 20.5 + i : null,
    status: [200, 200, 201, 429, 500, 400, 200][i % 7] ?? 200,
    error_code: i % 7 >= 3 && i % 7 <= 5 ? 'upstream_error' : null,
    cache_status: i % 9 === 0 ? 'hit' : null,
    saved_cost_micros: i % 9 === 0 ? 777 : 0,
    fallback_chain: i % 10 === 0 ? 'main' : null,
    attempts: i % 10 === 0 ? [{ provider: 'openai', upstream_model: 'gpt-x-2025', status: 503, error_code: 'upstream_error', latency_ms: 12.5, cost_micros: 0 }] : null,
    loop_id: i % 8 === 0 ? `loop-${i}` : null,
    loop_step: i % 8 === 0 ? 1 + (i % 3) : null,
    trace_id: i % 8 === 0 ? `trace-${i}` : null,
    // MCP tool-call rows carry their own details; every other row has none (the field is absent).
    ...(i % 13 === 0 ? { mcp: { server_id: `mcp_srv_${i}`, bytes_in: 10 + i, bytes_out: 1000 + i } } : {}),
    // Rows where a guardrail fired say which and what it did; the others have no such field.
    ...(i % 11 === 0 ? { guardrails: [{ guardrail: 'pii-mask', stage: 'pre' as const, action: 'mask' as const, categories: ['email', 'phone'] }] } : {}),
  }));
}

/** One record with the given fields; the rest are plain defaults (a successful chat request that cost nothing). */
export function spendRecord(fields: Pick<SpendRecord, 'id' | 'time'> & Partial<SpendRecord>): SpendRecord {
  const key_id = fields.key_id ?? null;
  return {
    principal: key_id ?? 'master',
    key_id,
    team_id: null,
    model: 'gpt-x',
    provider: 'openai',
    upstream_model: 'gpt-x-2025',
    operation: 'chat',
    stream: false,
    input_tokens: 0,
    cached_input_tokens: 0,
    output_tokens: 0,
    cost_micros: 0,
    usage_estimated: false,
    latency_ms: 100,
    ttft_ms: null,
    status: 200,
    error_code: null,
    cache_status: null,
    saved_cost_micros: 0,
    fallback_chain: null,
    attempts: null,
    loop_id: null,
    loop_step: null,
    trace_id: null,
    ...fields,
  };
}

/** The order every backend returns: time descending, then id descending. */
export function newestFirst(rows: SpendRecord[]): SpendRecord[] {
  return [...rows].sort((x, y) => y.time - x.time || (x.id < y.id ? 1 : x.id > y.id ? -1 : 0));
}

/** A fixed permutation, so failures reproduce. */
export function shuffle<T>(rows: T[]): T[] {
  return rows
    .map((row, i) => ({ row, k: (i * 7919) % 31 }))
    .sort((p, q) => p.k - q.k)
    .map((p) => p.row);
}
