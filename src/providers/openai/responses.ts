import { GatewayError } from '../../errors/gateway-error.js';
import type { ProviderCall, ProviderResponse } from '../adapter.js';
import type { HttpTransport } from '../http-transport.js';
import { usageFromResponses, withServerToolCalls } from '../responses/response-object.js';
import type { Usage } from '../types.js';
import { parseUpstreamJson, readSseEvents, readText, SSE_DONE } from '../upstream-stream.js';
import { estimatedResponsesUsage, responsesAnswerBytes } from '../../spend/usage.js';
import { isRecord } from '../wire-utils.js';
import { openaiError, openaiErrorFromPayload } from './errors.js';
import { jsonText, type OpenAIUpstream } from './upstream.js';

/** The answer's reported usage, or the gateway's estimate when the server reported none. */
function reportedOrEstimated(body: Record<string, unknown>, answer: Record<string, unknown>): Usage {
  return isRecord(answer['usage']) ? usageFromResponses(answer['usage']) : estimatedResponsesUsage(body, responsesAnswerBytes(answer['output']));
}

/** Events after which a Responses stream has nothing more to say. */
const TERMINAL = new Set(['response.completed', 'response.incomplete']);

/**
 * The OpenAI Responses API, natively: `POST {base}/responses` with the client's body (model
 * replaced by the deployment's), the answer passed back as received. JSON answers are forwarded
 * as text; streams event by event, ending with `data: [DONE]` (the pipeline's clean-end marker,
 * which the Responses route does not send on) after response.completed or response.incomplete.
 * An upstream `response.failed` or `error` event ends the stream as a GatewayError, so the
 * request is recorded as failed and the client gets the gateway's error events.
 */
export function createNativeResponses(upstream: OpenAIUpstream, transport: HttpTransport, timeoutMs: number) {
  return async function responses(body: Record<string, unknown>, call: ProviderCall): Promise<ProviderResponse> {
    const res = await transport.send(
      { method: 'POST', url: `${upstream.base}/responses${upstream.query}`, headers: upstream.headers(call), body: JSON.stringify({ ...body, model: call.upstreamModel }) },
      call.signal,
      call.timeoutMs ?? timeoutMs,
    );
    if (res.status >= 400) throw openaiError(res.status, await readText(res, call.signal), res.headers);

    if (body['stream'] !== true) {
      const text = jsonText(await readText(res, call.signal));
      const parsed = parseUpstreamJson(text);
      return { kind: 'json', status: res.status, body: undefined, text, usage: isRecord(parsed) ? withServerToolCalls(reportedOrEstimated(body, parsed), parsed['output']) : reportedOrEstimated(body, {}) };
    }

    let usage: Usage | undefined;
    // Counted as the answer streams by, for servers that report no usage.
    let outputBytes = 0;
    async function* frames(): AsyncGenerator<string> {
      // Finished items, for a server whose closing event leaves out the output it already streamed.
      const items: unknown[] = [];
      for await (const event of readSseEvents(res, call.signal)) {
        const data = parseUpstreamJson(event.data);
        const type = isRecord(data) ? data['type'] : undefined;
        if (!isRecord(data) || typeof type !== 'string') throw new GatewayError('SF_ERR_UPSTREAM_BAD_RESPONSE', { message: 'The provider sent a Responses stream event without a type.' });
        if (type === 'error') throw openaiErrorFromPayload(502, data);
        const response = isRecord(data['response']) ? data['response'] : undefined;
        if (type === 'response.failed') throw openaiErrorFromPayload(502, response && isRecord(response['error']) ? response['error'] : undefined);
        if (type === 'response.output_item.done') items.push(data['item']);
        yield `event: ${type}\ndata: ${event.data}\n\n`;
        if (typeof data['delta'] === 'string') outputBytes += Buffer.byteLength(data['delta'], 'utf8');
        if (TERMINAL.has(type)) {
          const output = Array.isArray(response?.['output']) ? response['output'] : items;
          usage = withServerToolCalls(response && isRecord(response['usage']) ? usageFromResponses(response['usage']) : estimatedResponsesUsage(body, outputBytes), output);
          yield SSE_DONE;
          return;
        }
      }
      throw new GatewayError('SF_ERR_STREAM_INTERRUPTED');
    }
    return { kind: 'stream', status: res.status, frames: frames(), usage: () => usage ?? estimatedResponsesUsage(body, outputBytes) };
  };
}
