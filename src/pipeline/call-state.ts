import type { GatewayContext } from './types.js';

/** What the pipeline fills in as one LLM call runs: empty at its start. */
export function freshCallState(startedHr: number) {
  return {
    principal: null,
    plan: null,
    deployment: null,
    attemptTimeoutMs: undefined,
    attemptStartedHr: startedHr,
    failedAttempts: [],
    response: null,
    usage: { input_tokens: 0, cached_input_tokens: 0, output_tokens: 0 },
    costMicros: 0,
    firstByteHr: null,
    status: 200,
    error: null,
    cache: null,
  } satisfies Partial<GatewayContext>;
}
