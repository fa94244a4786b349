import type { IncomingHeaders, RequestLog } from '../core/request-log.js';
import type { Principal } from '../keys/principal.js';
import type { GatewayError } from '../errors/gateway-error.js';
import type { Cancellation } from '../core/cancellation.js';
import type { ProviderResponse } from '../providers/adapter.js';
import type { GatewayRequest } from '../providers/gateway-request.js';
import type { ModelDeployment } from '../providers/registry.js';
import type { RoutePlan } from '../routing/planner.js';
import type { SpendAttempt, SpendGuardrailHit } from '../spend/spend-record.js';
import type { Usage } from '../providers/types.js';


/** What the response cache did with a request (docs/caching.md). */
export interface CacheOutcome {
  /** `stored`: a miss whose answer was cached; `bypass`: the request said no-cache. */
  status: 'hit' | 'stored' | 'miss' | 'bypass';
  /** The entry's key: the request's own, or on a semantic hit the key of the answer served. */
  key: string;
  /** On a hit, what the answer cost when the provider made it. */
  savedCostMicros: number;
}

/**
 * Everything one request carries through the pipeline. Framework-free: stages never see
 * fastify objects, so they can be tested and reused by other surfaces.
 */
export interface GatewayContext {
  readonly id: string;
  /** Epoch ms at arrival (for the spend log). */
  readonly startedAt: number;
  /** performance.now() at arrival (for latency). */
  readonly startedHr: number;
  readonly operation: GatewayRequest['operation'];
  /** Which API the client called: `/v1`, `/cursor` (unknown models go to the default OpenAI-compatible provider) or `/anthropic`. */
  readonly surface: 'openai' | 'cursor' | 'anthropic';
  /** The body as received; validated into `request` by the validate-request stage. */
  readonly rawBody: unknown;
  /** The URL's query string with its `?` ('' when none): native passthrough keeps it (`?beta=true`). */
  readonly rawQuery: string;
  /** Null until validated: only stages after validate-request may rely on it. */
  request: GatewayRequest | null;
  /** The model name the client asked for ('' when absent or not a string), without a `[1m]` suffix once resolved. */
  requestedModel: string;
  /** The client asked for the 1M-token context window (a `[1m]` model suffix). */
  longContext: boolean;
  stream: boolean;
  readonly headers: IncomingHeaders;
  principal: Principal | null;
  /** The deployments this request may use, in order (set by resolve-model). */
  plan: RoutePlan | null;
  /** The deployment being tried (the plan's first until the route stage moves on). */
  deployment: ModelDeployment | null;
  /** The current attempt's timeout, when its route step overrides the provider's. */
  attemptTimeoutMs: number | undefined;
  /** performance.now() when the current attempt started, so each attempt's latency leaves out earlier attempts and backoff waits. */
  attemptStartedHr: number;
  /** Attempts that failed before the current one (retries, fallbacks), and targets skipped for cooling down. */
  readonly failedAttempts: SpendAttempt[];
  response: ProviderResponse | null;
  /** Final usage; for streams it is filled when the stream ends. */
  usage: Usage;
  /** What the whole request cost: failed attempts plus the answer. */
  costMicros: number;
  /** performance.now() when the first streamed frame left the pipeline. */
  firstByteHr: number | null;
  /** The status the request ended with (HTTP status, or the error's status for a stream that broke). */
  status: number;
  error: GatewayError | null;
  /** Null unless the cache stage handled the request; a hit leaves usage at zero, so it costs nothing. */
  cache: CacheOutcome | null;
  /** Guardrails that blocked, masked or flagged something in this request (docs/guardrails.md); absent when none did. */
  guardrailHits?: SpendGuardrailHit[];
  /** Set when this request is one LLM step of an MCP tool loop: its spend row names the loop and the step. */
  loop: { id: string; step: number } | null;
  /** The cross-agent trace (`X-A2A-Trace-Id`) an A2A task's LLM steps belong to; on their spend rows. */
  traceId?: string;
  /** Headers every stage may add; sent on success and on error alike. */
  readonly responseHeaders: Record<string, string>;
  /** Cancelled when the client goes away or the gateway shuts down. */
  readonly abort: Cancellation;
  readonly log: RequestLog;
}

export type Next = () => Promise<void>;

/** One step of the request onion; created by a factory that receives its dependencies. */
export interface Stage {
  readonly name: string;
  run(ctx: GatewayContext, next: Next): Promise<void>;
}
