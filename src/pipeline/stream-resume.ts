import { performance } from 'node:perf_hooks';
import { toGatewayError } from '../errors/gateway-error.js';
import type { ProviderResponse } from '../providers/adapter.js';
import type { RouteStep } from '../routing/planner.js';
import { costMicros } from '../spend/pricing.js';
import { promptLimit } from '../spend/estimate.js';
import { DeliveredAnswer, unfinishedStreamUsage } from '../spend/usage.js';
import type { GatewayContext } from './types.js';

export type StreamResponse = Extract<ProviderResponse, { kind: 'stream' }>;

/**
 * Tries `steps` from the front, taking each off as it is tried, until one answers with a first
 * frame; records each failure. Null when none did. Provided by the route stage, which owns the
 * attempt bookkeeping.
 */
export type FirstThatStreams = (steps: RouteStep[]) => Promise<StreamResponse | null>;

/** The text a chat chunk frame adds to the answer; null when the frame carries a tool call (which a prefill cannot continue). */
function contentOf(frame: string): string | null {
  if (!frame.startsWith('data: {')) return '';
  if (frame.includes('"tool_calls"')) return null;
  try {
    const chunk = JSON.parse(frame.slice(6)) as { choices?: Array<{ delta?: { content?: unknown } }> };
    const content = chunk.choices?.[0]?.delta?.content;
    return typeof content === 'string' ? content : '';
  } catch {
    return '';
  }
}

/**
 * `stream_resume`: when the stream breaks after content went out, the `later` steps are asked
 * to continue it, with the text so far as an assistant prefill. The client sees one stream; an
 * SSE comment line marks where it was resumed (SDKs ignore comments). Answers that were making a
 * tool call are not resumed: half a tool call cannot be prefilled.
 *
 * A seam moves the broken attempt into `ctx.failedAttempts` (with what it cost) and makes the
 * resuming target the request's deployment. When no later step takes over, the broken attempt is
 * put back as the request's own: it is what the client received, and it is charged once, at its
 * own deployment's price, like any stream that broke.
 */
export function resumableStream(ctx: GatewayContext, first: StreamResponse, later: RouteStep[], firstThatStreams: FirstThatStreams): StreamResponse {
  let current = first;
  const request = ctx.request;
  async function* frames(): AsyncGenerator<string> {
    let partial = '';
    // Only chat streams: a Responses stream cannot take a prefill (the next target would start a second response).
    let resumable = request?.operation === 'chat';
    let delivered = new DeliveredAnswer('chat');
    for (;;) {
      try {
        for await (const frame of current.frames) {
          delivered.add(frame);
          const content = resumable ? contentOf(frame) : '';
          if (content === null) resumable = false;
          else partial += content;
          yield frame;
        }
        return;
      } catch (err) {
        const gerr = toGatewayError(err);
        if (!resumable || later.length === 0 || ctx.abort.aborted || request?.operation !== 'chat') throw gerr;
        const broken = ctx.deployment!;
        const brokenStartedHr = ctx.attemptStartedHr;
        const brokenAttempt = {
          provider: broken.provider.name,
          upstream_model: broken.upstreamModel,
          status: gerr.status,
          error_code: gerr.wireCode,
          latency_ms: Math.round((performance.now() - brokenStartedHr) * 1000) / 1000,
          cost_micros: costMicros(unfinishedStreamUsage(current.usage(), ctx.request ?? request, delivered, promptLimit(broken)), broken.price),
        };
        ctx.failedAttempts.push(brokenAttempt);
        delivered = new DeliveredAnswer('chat');
        ctx.request = { operation: 'chat', body: { ...request.body, messages: [...request.body.messages, { role: 'assistant', content: partial }] } };
        const resumed = await firstThatStreams(later);
        if (!resumed) {
          ctx.failedAttempts.splice(ctx.failedAttempts.indexOf(brokenAttempt), 1);
          ctx.deployment = broken;
          ctx.attemptStartedHr = brokenStartedHr;
          ctx.request = request;
          throw gerr;
        }
        yield `: smartflow stream_resume: ${broken.id} broke after ${partial.length} characters; continued on ${ctx.deployment!.id}\n\n`;
        current = resumed;
      }
    }
  }
  return { ...first, frames: frames(), usage: () => current.usage() };
}
