import type { LoopTool } from './expand-tools.js';
import type { LoopStep, LoopStop, LoopToolCall, LoopToolResult } from './tool-loop.js';
import { framePayload, sumUsage } from './usage-sum.js';

/**
 * The tool loop in the Responses API format: MCP tools offered as (non-strict) function tools,
 * `function_call` output items read as calls, and the conversation continued by appending the
 * step's output items and one `function_call_output` per result to `input`.
 */

type ResponsesBody = Record<string, unknown>;
type Item = Record<string, unknown>;

export function responsesFunctionTools(tools: LoopTool[]): unknown[] {
  // strict: false, since the Responses API defaults to strict schemas, which MCP inputSchemas rarely are.
  return tools.map((t) => ({ type: 'function', name: t.name, ...(t.description === undefined ? {} : { description: t.description }), parameters: t.parameters, strict: false }));
}

function outputOf(response: Record<string, unknown>): Item[] {
  return Array.isArray(response['output']) ? (response['output'] as Item[]) : [];
}

function callsOf(output: Item[]): LoopToolCall[] {
  return output.filter((i) => i['type'] === 'function_call').map((i) => ({ id: String(i['call_id'] ?? ''), name: String(i['name'] ?? ''), arguments: typeof i['arguments'] === 'string' ? i['arguments'] : '' }));
}

/** A non-streamed Response as one loop step. */
export function responsesStepOf(response: Record<string, unknown>): LoopStep<Record<string, unknown>> {
  return { answer: response, toolCalls: callsOf(outputOf(response)) };
}

/** `input` as a list of items (a plain string is one user message). */
function inputItems(input: unknown): Item[] {
  if (typeof input === 'string') return [{ type: 'message', role: 'user', content: input }];
  return Array.isArray(input) ? (input as Item[]) : [];
}

/** The step's output items (reasoning, calls) go back as input, followed by each call's output. */
export function continueResponses(body: ResponsesBody, output: Item[], results: LoopToolResult[]): ResponsesBody {
  const outputs = results.map((r) => ({ type: 'function_call_output', call_id: r.callId, output: r.isError ? `Error: ${r.text}` : r.text }));
  return { ...body, input: [...inputItems(body['input']), ...output, ...outputs] };
}

/** The loop's answer: the last step's Response with the usage of every step. */
export function finalResponse(answers: Array<Record<string, unknown>>): Record<string, unknown> {
  const last = answers[answers.length - 1]!;
  const usage = answers.reduce<unknown>((sum, a) => sumUsage(sum, a['usage']), undefined);
  return usage === undefined ? last : { ...last, usage };
}

/** Sequence numbers across the steps of one client stream, and the Response id its `response.created` announced. */
export interface SequenceCounter {
  next: number;
  responseId?: string;
}

function frameOf(type: string, data: Record<string, unknown>, seq: SequenceCounter): string {
  return `event: ${type}\ndata: ${JSON.stringify({ ...data, sequence_number: seq.next++ })}\n\n`;
}

/**
 * One streamed step of a Responses stream: events go to the client renumbered into one sequence;
 * `response.created`/`in_progress` only from the first step; the events of MCP `function_call`
 * items and every step's `response.completed` are held back, as only the last step ends the stream.
 */
export class ResponsesStreamStep {
  private readonly heldItems = new Set<string>();
  private readonly heldOutputs = new Set<number>();
  private readonly held: Array<{ type: string; data: Record<string, unknown> }> = [];
  private completed: Record<string, unknown> | undefined;

  constructor(
    private readonly isLoopTool: (name: string) => boolean,
    private readonly first: boolean,
    private readonly seq: SequenceCounter,
  ) {}

  push(frame: string): string[] {
    const parsed = framePayload(frame);
    if (!parsed) return frame.startsWith(':') ? [frame] : [];
    const data = parsed.data;
    const type = parsed.event ?? String(data['type'] ?? '');
    if (type === 'response.completed') {
      this.completed = (data['response'] as Record<string, unknown> | undefined) ?? {};
      return [];
    }
    if ((type === 'response.created' || type === 'response.in_progress') && !this.first) return [];
    const announced = (data['response'] as { id?: unknown } | undefined)?.id;
    if (type === 'response.created' && typeof announced === 'string') this.seq.responseId ??= announced;
    const item = data['item'] as Item | undefined;
    if (type === 'response.output_item.added' && item?.['type'] === 'function_call' && this.isLoopTool(String(item['name'] ?? ''))) {
      if (typeof item['id'] === 'string') this.heldItems.add(item['id']);
      if (typeof data['output_index'] === 'number') this.heldOutputs.add(data['output_index']);
    }
    const itemId = typeof data['item_id'] === 'string' ? data['item_id'] : typeof item?.['id'] === 'string' ? item['id'] : undefined;
    const held = (itemId !== undefined && this.heldItems.has(itemId)) || (typeof data['output_index'] === 'number' && this.heldOutputs.has(data['output_index']) && type.startsWith('response.output_item'));
    if (held) {
      this.held.push({ type, data });
      return [];
    }
    return [frameOf(type, data, this.seq)];
  }

  /** The step's Response (from its `response.completed`), or undefined when it never completed. */
  response(): Record<string, unknown> | undefined {
    return this.completed;
  }

  toolCalls(): LoopToolCall[] {
    return callsOf(outputOf(this.completed ?? {}));
  }

  output(): Item[] {
    return outputOf(this.completed ?? {});
  }

  /** The events that end the client's stream: held-back calls when they go back to the client, then one `response.completed` with the summed usage. */
  closing(stop: LoopStop, usage: unknown): string[] {
    const out = stop === 'answered' ? [] : this.held.map((e) => frameOf(e.type, e.data, this.seq));
    // The id the client saw in response.created, not the last step's own.
    const response = { ...(this.completed ?? {}), ...(this.seq.responseId === undefined ? {} : { id: this.seq.responseId }), ...(usage === undefined ? {} : { usage }) };
    out.push(frameOf('response.completed', { type: 'response.completed', response }, this.seq));
    return out;
  }
}
