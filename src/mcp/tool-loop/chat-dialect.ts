import type { OpenAIChatCompletion, OpenAIMessage, OpenAIToolCall } from '../../providers/types.js';
import { SSE_DONE, sseFrame } from '../../providers/upstream-stream.js';
import type { LoopTool } from './expand-tools.js';
import type { LoopStep, LoopStop, LoopToolCall, LoopToolResult } from './tool-loop.js';
import { framePayload, sumUsage } from './usage-sum.js';

/**
 * The tool loop in the Chat Completions format: MCP tools offered as function tools, the model's
 * `tool_calls` read from `choices[0]`, and the conversation continued with the assistant message
 * and one `tool` message per result.
 */

type Body = Record<string, unknown>;

export function chatFunctionTools(tools: LoopTool[]): unknown[] {
  return tools.map((t) => ({ type: 'function', function: { name: t.name, ...(t.description === undefined ? {} : { description: t.description }), parameters: t.parameters } }));
}

function firstMessage(completion: Body): { content?: unknown; tool_calls?: OpenAIToolCall[] } | undefined {
  return (completion as Partial<OpenAIChatCompletion>).choices?.[0]?.message;
}

/** A non-streamed completion as one loop step (the first choice: the loop continues one conversation). */
export function chatStepOf(completion: Body): LoopStep<Body> {
  const calls = firstMessage(completion)?.tool_calls ?? [];
  return { answer: completion, toolCalls: calls.map((c) => ({ id: c.id, name: c.function.name, arguments: c.function.arguments })) };
}

/** The text of a non-streamed completion's answer, for the assistant turn of the next step. */
export function chatTextOf(completion: Body): string | null {
  const content = firstMessage(completion)?.content;
  return typeof content === 'string' ? content : null;
}

/** The assistant turn that asked for the calls, then each call's result. */
export function continueChat(body: Body, calls: LoopToolCall[], content: string | null, results: LoopToolResult[]): Body {
  const messages = Array.isArray(body['messages']) ? (body['messages'] as OpenAIMessage[]) : [];
  const assistant: OpenAIMessage = { role: 'assistant', content, tool_calls: calls.map((c) => ({ id: c.id, type: 'function', function: { name: c.name, arguments: c.arguments } })) };
  const tools: OpenAIMessage[] = results.map((r) => ({ role: 'tool', tool_call_id: r.callId, content: r.isError ? `Error: ${r.text}` : r.text }));
  return { ...body, messages: [...messages, assistant, ...tools] };
}

/** The loop's answer: the last step's completion with the usage of every step. */
export function finalChatCompletion(answers: Body[]): Body {
  const last = answers[answers.length - 1]!;
  const usage = answers.reduce<unknown>((sum, a) => sumUsage(sum, a['usage']), undefined);
  return usage === undefined ? last : { ...last, usage };
}

interface PendingCall {
  id: string;
  name: string;
  arguments: string;
  /** The loop runs it: its deltas are held back from the client. */
  held: boolean;
}

/**
 * One streamed step, frame by frame: content (and calls of the client's own tools) goes to the
 * client as it arrives; deltas of MCP tool calls, the finish chunk, the usage chunk and
 * `[DONE]` are held back, since only the last step may end the client's stream.
 */
export class ChatStreamStep {
  private readonly calls = new Map<number, PendingCall>();
  private readonly held: string[] = [];
  private finishChunk: Record<string, unknown> | undefined;
  private usageChunk: Record<string, unknown> | undefined;
  private content = '';

  /**
   * `stream.id` is the id of the client's stream: the first step's chunk id, which later steps'
   * chunks take too, so the client sees one completion.
   */
  constructor(
    private readonly isLoopTool: (name: string) => boolean,
    private readonly first: boolean,
    private readonly stream: { id?: string },
  ) {}

  /** The frames to send the client now for one frame of the step. */
  push(frame: string): string[] {
    const parsed = framePayload(frame)?.data;
    if (!parsed) return frame === SSE_DONE ? [] : [frame];
    if (typeof parsed['id'] === 'string') this.stream.id ??= parsed['id'];
    const payload = this.stream.id === undefined ? parsed : { ...parsed, id: this.stream.id };
    const choices = Array.isArray(payload['choices']) ? (payload['choices'] as Array<Record<string, unknown>>) : [];
    if (choices.length === 0) {
      if (payload['usage']) this.usageChunk = payload;
      return payload['usage'] ? [] : [frame];
    }
    const choice = choices[0]!;
    const delta = { ...((choice['delta'] as Record<string, unknown> | undefined) ?? {}) };
    if (typeof delta['content'] === 'string') this.content += delta['content'];
    const kept: unknown[] = [];
    const heldCalls: unknown[] = [];
    for (const tc of Array.isArray(delta['tool_calls']) ? (delta['tool_calls'] as Array<Record<string, unknown>>) : []) {
      const index = typeof tc['index'] === 'number' ? tc['index'] : 0;
      const fn = (tc['function'] as { name?: string; arguments?: string } | undefined) ?? {};
      let call = this.calls.get(index);
      if (!call) {
        call = { id: String(tc['id'] ?? ''), name: fn.name ?? '', arguments: '', held: this.isLoopTool(fn.name ?? '') };
        this.calls.set(index, call);
      }
      call.arguments += fn.arguments ?? '';
      (call.held ? heldCalls : kept).push(tc);
    }
    if (heldCalls.length) this.held.push(sseFrame({ ...payload, choices: [{ ...choice, delta: { tool_calls: heldCalls }, finish_reason: null }] }));
    if (kept.length) delta['tool_calls'] = kept;
    else delete delta['tool_calls'];
    if (choice['finish_reason']) {
      this.finishChunk = { ...payload, choices: [{ ...choice, delta: {} }] };
      if (payload['usage']) this.usageChunk = { ...payload, choices: [] };
    }
    // A later step's opening role delta would repeat the first one.
    if (!this.first && delta['role'] !== undefined && !delta['content']) delete delta['role'];
    if (!Object.values(delta).some((v) => v !== undefined && v !== null && v !== '')) return [];
    const out: Record<string, unknown> = { ...payload, choices: [{ ...choice, delta, finish_reason: null }] };
    if (out['usage'] !== undefined) out['usage'] = null;
    return [sseFrame(out)];
  }

  toolCalls(): LoopToolCall[] {
    return [...this.calls.values()].map((c) => ({ id: c.id, name: c.name, arguments: c.arguments }));
  }

  /** The text the step streamed, for the assistant turn of the next step. */
  text(): string | null {
    return this.content === '' ? null : this.content;
  }

  usage(): unknown {
    return this.usageChunk?.['usage'];
  }

  /**
   * The frames that end the client's stream after the last step: the held-back MCP calls when
   * the answer goes back with them (`client_tool`, `max_steps`), the finish chunk, the summed
   * usage when the client asked for usage, and `[DONE]`.
   */
  closing(stop: LoopStop, usage: unknown): string[] {
    const out = stop === 'answered' ? [] : [...this.held];
    if (this.finishChunk) out.push(sseFrame(this.finishChunk['usage'] === undefined ? this.finishChunk : { ...this.finishChunk, usage: null }));
    if (this.usageChunk && usage !== undefined) out.push(sseFrame({ ...this.usageChunk, usage }));
    out.push(SSE_DONE);
    return out;
  }
}
