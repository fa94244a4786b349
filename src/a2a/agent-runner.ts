import { performance } from 'node:perf_hooks';
import type { Cancellation } from '../core/cancellation.js';
import type { IncomingHeaders, RequestLog } from '../core/request-log.js';
import { GatewayError, toGatewayError } from '../errors/gateway-error.js';
import type { Principal } from '../keys/principal.js';
import { collectForwarded } from '../mcp/auth/forwarded-headers.js';
import type { ToolCatalog } from '../mcp/downstream/tool-catalog.js';
import type { McpServerRegistry } from '../mcp/registry.js';
import { ChatStreamStep, chatFunctionTools, continueChat } from '../mcp/tool-loop/chat-dialect.js';
import { framePayload } from '../mcp/tool-loop/usage-sum.js';
import { expandMcpTools } from '../mcp/tool-loop/expand-tools.js';
import { createLoopToolExecutor } from '../mcp/tool-loop/tool-executor.js';
import { runToolLoop } from '../mcp/tool-loop/tool-loop.js';
import type { UpstreamPool } from '../mcp/upstream/upstream-pool.js';
import type { GatewayContext } from '../pipeline/types.js';
import type { AgentProfile } from './agent-schema.js';
import { messageText, type A2aMessage, type TaskRecord, type TaskStep } from './task-model.js';
import { TaskStore } from './task-store.js';
import { ArtifactStreamer } from './artifact-streamer.js';
import { freshCallState } from '../pipeline/call-state.js';

export interface AgentRunnerDeps {
  /** The gateway's LLM pipeline: every step is budgeted, routed, cached and charged to the caller's key. */
  pipeline: (ctx: GatewayContext) => Promise<void>;
  registry: McpServerRegistry;
  upstreams: UpstreamPool;
  catalog: ToolCatalog;
  tasks: TaskStore;
  now: () => number;
  /** Called with the task after each status change the turn makes (push notifications). */
  onStatus?: (task: TaskRecord) => void;
}

/** What a turn runs with: the caller as authenticated, the request's headers (the pipeline authenticates them again) and the task's abort. */
export interface TurnCaller {
  principal: Principal;
  headers: IncomingHeaders;
  abort: Cancellation;
  log: RequestLog;
}

type Body = Record<string, unknown>;

/** The conversation so far as chat messages: earlier tasks of the context, then this task's history. */
function chatMessages(agent: AgentProfile, earlier: TaskRecord[], task: TaskRecord): Body[] {
  const messages: Body[] = agent.system_prompt ? [{ role: 'system', content: agent.system_prompt }] : [];
  for (const t of [...earlier, task]) {
    for (const m of t.history) messages.push({ role: m.role === 'agent' ? 'assistant' : 'user', content: messageText(m) });
  }
  return messages;
}

function contextOf(task: TaskRecord, body: Body, step: number, caller: TurnCaller, now: number): GatewayContext {
  const startedHr = performance.now();
  return {
    id: task.id,
    startedAt: now,
    startedHr,
    operation: 'chat',
    surface: 'openai',
    rawBody: body,
    rawQuery: '',
    request: null,
    requestedModel: typeof body['model'] === 'string' ? body['model'] : '',
    longContext: false,
    stream: body['stream'] === true,
    headers: caller.headers,
    ...freshCallState(startedHr),
    loop: { id: task.id, step },
    traceId: task.trace_id,
    responseHeaders: {},
    abort: caller.abort,
    log: caller.log,
  };
}

/**
 * Runs one turn of a hosted agent on a task: working → the MCP tool loop (each LLM step through
 * the whole pipeline, each tool through the ToolCatalog) → completed with the answer as an
 * artifact, or failed. A cancel aborts the step in flight; the task store then refuses the
 * runner's late writes, so the task stays canceled.
 */
export async function runAgentTurn(deps: AgentRunnerDeps, agent: AgentProfile, taskId: string, caller: TurnCaller): Promise<void> {
  const { tasks } = deps;
  const submitted = await tasks.get(taskId);
  if (!submitted) return;
  const task = await tasks.emit(taskId, [TaskStore.status(submitted, 'working', deps.now())]);
  // Canceled before it started: nothing to run.
  if (!task || task.status.state !== 'working') return;
  deps.onStatus?.(task);
  const record = async (step: TaskStep, cost = 0) => {
    // Kept even after a cancel: the audit shows what the aborted step did and cost.
    await tasks.update(taskId, (t) => ({ ...t, steps: [...t.steps, step], cost_micros: t.cost_micros + cost }), { evenIfTerminal: true });
  };
  let streamer: ArtifactStreamer | undefined;
  try {
    // Only this caller's earlier turns with this agent: a context id someone else used must not bring their conversation along.
    const earlier = (await tasks.list({ contextId: task.contextId, agent: task.agent, limit: 100 })).filter((t) => t.id !== task.id && t.key_id === task.key_id && t.principal === task.principal).reverse();
    const entries = agent.mcp.map((m, index) => ({ server: m.server, allowedTools: m.allowed_tools, maxSteps: undefined, index }));
    // The caller's `x-mcp-{alias}-{header}` go to the tool calls of this turn only (the LLM steps' provider headers drop them).
    const forwarded = collectForwarded(caller.headers);
    const tools = entries.length ? await expandMcpTools(caller.principal, entries, { registry: deps.registry, upstreams: deps.upstreams, log: caller.log, forwarded }) : [];
    const byName = new Map(tools.map((t) => [t.name, t]));
    const toolAbort = new AbortController();
    caller.abort.once('abort', () => toolAbort.abort());
    const execute = createLoopToolExecutor({ catalog: deps.catalog, principal: caller.principal, tools: byName, loopId: task.id, traceId: task.trace_id, signal: toolAbort.signal, forwarded });
    const offset = task.steps.filter((s) => s.type === 'llm').length;
    const body: Body = {
      model: agent.model,
      messages: chatMessages(agent, earlier, task),
      ...(agent.temperature === undefined ? {} : { temperature: agent.temperature }),
      ...(tools.length ? { tools: chatFunctionTools(tools) } : {}),
    };
    const isLoopTool = (name: string) => byName.has(name);
    streamer = new ArtifactStreamer(tasks, task, crypto.randomUUID());
    const answer = streamer;
    const chatStream: { id?: string } = {};
    const outcome = await runToolLoop<Body, ChatStreamStep>({
      request: body,
      maxSteps: agent.max_steps,
      isLoopTool,
      runStep: async (stepBody, step) => {
        if (caller.abort.aborted) throw new GatewayError('SF_ERR_CLIENT_CLOSED', { message: 'The task was canceled.' });
        const at = deps.now();
        // Streamed, so the answer reaches the task's stream as the model writes it.
        const ctx = contextOf(task, { ...stepBody, stream: true, stream_options: { include_usage: true } }, offset + step, caller, at);
        const t0 = performance.now();
        const filter = new ChatStreamStep(isLoopTool, step === 1, chatStream);
        let failure: unknown;
        try {
          await deps.pipeline(ctx);
          const response = ctx.response;
          if (response?.kind !== 'stream') throw new GatewayError('SF_ERR_INTERNAL', { message: 'A streamed agent step did not stream.' });
          for await (const frame of response.frames) for (const out of filter.push(frame)) answer.add(deltaText(out));
        } catch (err) {
          failure = err;
        }
        await record(
          {
            type: 'llm',
            step: offset + step,
            name: agent.model,
            started_at: new Date(at).toISOString(),
            duration_ms: Math.round(performance.now() - t0),
            status: failure ? 'error' : 'ok',
            input_tokens: ctx.usage.input_tokens,
            output_tokens: ctx.usage.output_tokens,
            cost_micros: ctx.costMicros,
            ...(failure ? { error: toGatewayError(failure).message } : {}),
          },
          ctx.costMicros,
        );
        if (failure) throw failure;
        return { answer: filter, toolCalls: filter.toolCalls() };
      },
      executeTool: async (call, step) => {
        const at = deps.now();
        const t0 = performance.now();
        const result = await execute(call, offset + step);
        await record({ type: 'tool', step: offset + step, name: call.name, started_at: new Date(at).toISOString(), duration_ms: Math.round(performance.now() - t0), status: result.isError ? 'error' : 'ok', ...(result.isError ? { error: result.text.slice(0, 500) } : {}) });
        if (caller.abort.aborted) throw new GatewayError('SF_ERR_CLIENT_CLOSED', { message: 'The task was canceled.' });
        return result;
      },
      continueWith: (stepBody, step, results) => continueChat(stepBody, step.toolCalls, step.answer.text(), results),
    });
    await answer.finish({ stop: outcome.stop, steps: outcome.answers.length });
    const text = outcome.answers[outcome.answers.length - 1]!.text() ?? '';
    const reply: A2aMessage = { kind: 'message', role: 'agent', messageId: crypto.randomUUID(), parts: [{ kind: 'text', text }], contextId: task.contextId, taskId: task.id };
    // Out of steps while the model still wanted tools: the task waits for the caller, who may send
    // another message with its taskId to give it another `max_steps`.
    const paused = outcome.stop === 'max_steps';
    const question: A2aMessage | undefined = paused
      ? { kind: 'message', role: 'agent', messageId: crypto.randomUUID(), parts: [{ kind: 'text', text: `The agent used its ${agent.max_steps} steps before it could answer; send another message on this task to let it go on.` }], contextId: task.contextId, taskId: task.id }
      : undefined;
    const ended = await tasks.emit(taskId, [TaskStore.status(task, paused ? 'input-required' : 'completed', deps.now(), question)], (t) => ({ history: [...t.history, ...(text ? [reply] : []), ...(question ? [question] : [])] }));
    if (ended) deps.onStatus?.(ended);
  } catch (err) {
    await streamer?.abandon();
    if (caller.abort.aborted) return;
    const error = toGatewayError(err);
    caller.log.warn({ a2a_task: taskId, trace_id: task.trace_id, err: error.message }, 'A2A task failed');
    const message: A2aMessage = { kind: 'message', role: 'agent', messageId: crypto.randomUUID(), parts: [{ kind: 'text', text: error.message }], contextId: task.contextId, taskId, metadata: { code: error.wireCode, status: error.status } };
    const failed = await tasks.emit(taskId, [TaskStore.status(task, 'failed', deps.now(), message)]);
    if (failed) deps.onStatus?.(failed);
  }
}

/** The text a client-bound chat frame adds to the answer. */
function deltaText(frame: string): string {
  const choices = framePayload(frame)?.data['choices'];
  const delta = Array.isArray(choices) ? (choices[0] as { delta?: { content?: unknown } } | undefined)?.delta : undefined;
  return typeof delta?.content === 'string' ? delta.content : '';
}
