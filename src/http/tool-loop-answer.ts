import { collectForwarded } from '../mcp/auth/forwarded-headers.js';
import { performance } from 'node:perf_hooks';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { GatewayError, toGatewayError } from '../errors/gateway-error.js';
import type { Authenticator } from '../keys/authenticator.js';
import type { McpServerRegistry } from '../mcp/registry.js';
import type { ToolCatalog } from '../mcp/downstream/tool-catalog.js';
import type { UpstreamPool } from '../mcp/upstream/upstream-pool.js';
import { ChatStreamStep, chatFunctionTools, chatStepOf, chatTextOf, continueChat, finalChatCompletion } from '../mcp/tool-loop/chat-dialect.js';
import { expandMcpTools, type LoopTool } from '../mcp/tool-loop/expand-tools.js';
import { ResponsesStreamStep, continueResponses, finalResponse, responsesFunctionTools, responsesStepOf, type SequenceCounter } from '../mcp/tool-loop/responses-dialect.js';
import { splitMcpToolEntries } from '../mcp/tool-loop/tool-entries.js';
import { createLoopToolExecutor } from '../mcp/tool-loop/tool-executor.js';
import { runToolLoop, type LoopStep, type LoopToolCall, type LoopToolResult } from '../mcp/tool-loop/tool-loop.js';
import { sumUsage } from '../mcp/tool-loop/usage-sum.js';
import type { SpendLog } from '../spend/spend-log.js';
import type { GatewayContext } from '../pipeline/types.js';
import { createStepContext } from './context.js';
import { sendError } from './error-response.js';
import { FrameChannel } from './frame-channel.js';
import { responsesClientFrames } from './responses-stream.js';
import { sendResponse } from './send-response.js';

/** What the routes need to run the MCP tool loop (docs/mcp.md, "Tool loop"). */
export interface ToolLoopDeps {
  authenticator: Authenticator;
  registry: McpServerRegistry;
  upstreams: UpstreamPool;
  catalog: ToolCatalog;
  spendLog: SpendLog;
  /** `mcp.tool_loop_max_steps`: LLM calls per loop unless the request sets `max_steps`. */
  maxSteps: number;
  now: () => number;
}

type Dialect = 'chat' | 'responses';
type Body = Record<string, unknown>;

const STEPS_HEADER = 'x-smartflow-mcp-steps';
const STOP_HEADER = 'x-smartflow-mcp-stop';

/** The first step's body: MCP entries replaced by their tools as function tools. */
function firstBody(body: Body, rest: unknown[], tools: LoopTool[], dialect: Dialect): Body {
  const all = [...rest, ...(dialect === 'chat' ? chatFunctionTools(tools) : responsesFunctionTools(tools))];
  const { tools: _tools, ...without } = body;
  return all.length ? { ...without, tools: all } : without;
}

/** `: ...` lines: SSE comments that clients ignore and proxies see as traffic while a tool runs. Tool names come from servers: a line break must not start an event. */
const comment = (text: string) => `: ${text.replace(/[\r\n]+/g, ' ')}\n\n`;

/**
 * Answers a chat completion or Responses request whose tools include MCP entries: expands them,
 * then runs the tool loop with every LLM step through the whole pipeline (each step budgeted,
 * cached, routed and charged to the caller's key) and the tools through the ToolCatalog.
 */
export async function answerWithToolLoop(
  request: FastifyRequest,
  reply: FastifyReply,
  outer: GatewayContext,
  pipeline: (ctx: GatewayContext) => Promise<void>,
  deps: ToolLoopDeps,
  dialect: Dialect,
  /** Names the provider family for `X-Smartflow-Passthrough` (/cursor), from the latest step. */
  passthrough?: (ctx: GatewayContext) => string,
): Promise<void> {
  let setup;
  try {
    setup = await prepare(outer, deps, dialect);
  } catch (err) {
    if (passthrough) outer.responseHeaders['x-smartflow-passthrough'] = passthrough(outer);
    recordRefusal(outer, toGatewayError(err), deps.spendLog);
    sendError(request, reply, err, outer.responseHeaders, 'openai');
    return;
  }
  const { body, tools, maxSteps, principal } = setup;
  const byName = new Map(tools.map((t) => [t.name, t]));
  const isLoopTool = (name: string) => byName.has(name);
  const execute = createLoopToolExecutor({ catalog: deps.catalog, principal, tools: byName, loopId: outer.id, forwarded: collectForwarded(outer.headers) });
  let costMicros = 0;
  // What every step used, in the gateway's own terms (the client's usage is the providers' summed).
  const addUsage = (ctx: GatewayContext) => {
    const u = outer.usage;
    outer.usage = { input_tokens: u.input_tokens + ctx.usage.input_tokens, cached_input_tokens: u.cached_input_tokens + ctx.usage.cached_input_tokens, output_tokens: u.output_tokens + ctx.usage.output_tokens };
    costMicros += ctx.costMicros;
  };
  const runPipelineStep = async (stepBody: Body, step: number): Promise<GatewayContext> => {
    const ctx = createStepContext(outer, stepBody, step, deps.now);
    try {
      await pipeline(ctx);
    } finally {
      Object.assign(outer.responseHeaders, ctx.responseHeaders);
      if (passthrough) outer.responseHeaders['x-smartflow-passthrough'] = passthrough(ctx);
    }
    return ctx;
  };

  if (!outer.stream) {
    let steps = 0;
    try {
      const outcome = await runToolLoop<Body, Body>({
        request: body,
        maxSteps,
        isLoopTool,
        executeTool: execute,
        runStep: async (stepBody, step) => {
          const ctx = await runPipelineStep(stepBody, step);
          steps = step;
          addUsage(ctx);
          const answer = jsonBody(ctx);
          return dialect === 'chat' ? chatStepOf(answer) : responsesStepOf(answer);
        },
        continueWith: (stepBody, step, results) =>
          dialect === 'chat'
            ? continueChat(stepBody, step.toolCalls, chatTextOf(step.answer), results)
            : continueResponses(stepBody, outputItems(step.answer), results),
      });
      const final = dialect === 'chat' ? finalChatCompletion(outcome.answers) : finalResponse(outcome.answers);
      outer.response = { kind: 'json', status: 200, body: final, usage: outer.usage };
      outer.responseHeaders[STEPS_HEADER] = String(outcome.answers.length);
      outer.responseHeaders[STOP_HEADER] = outcome.stop;
      outer.responseHeaders['x-smartflow-cost-micros'] = String(costMicros);
    } catch (err) {
      outer.responseHeaders[STEPS_HEADER] = String(steps);
      sendError(request, reply, err, outer.responseHeaders, 'openai');
      return;
    }
    await sendResponse(request, reply, outer, 'openai');
    return;
  }

  const channel = new FrameChannel();
  const seq: SequenceCounter = { next: 0 };
  const chatStream: { id?: string } = {};
  let usage: unknown;
  type StreamAnswer = ChatStreamStep | ResponsesStreamStep;
  const runStep = async (stepBody: Body, step: number): Promise<LoopStep<StreamAnswer>> => {
    const ctx = await runPipelineStep(stepBody, step);
    const response = ctx.response;
    if (response?.kind !== 'stream') throw new GatewayError('SF_ERR_INTERNAL', { message: 'A streamed tool-loop step did not stream.' });
    const filter = dialect === 'chat' ? new ChatStreamStep(isLoopTool, step === 1, chatStream) : new ResponsesStreamStep(isLoopTool, step === 1, seq);
    for await (const frame of response.frames) for (const out of filter.push(frame)) await channel.push(out);
    // The stream has ended, so the record-spend stage has settled this step's usage and cost.
    addUsage(ctx);
    const stepUsage = filter instanceof ChatStreamStep ? filter.usage() : filter.response()?.['usage'];
    usage = sumUsage(usage, stepUsage);
    return { answer: filter, toolCalls: filter.toolCalls() };
  };
  const executeTool = async (call: LoopToolCall, step: number): Promise<LoopToolResult> => {
    await channel.push(comment(`mcp tool ${call.name} running`));
    const started = performance.now();
    const result = await execute(call, step);
    await channel.push(comment(`mcp tool ${call.name} ${result.isError ? 'failed' : 'done'} in ${Math.round(performance.now() - started)} ms`));
    return result;
  };
  void (async () => {
    try {
      const outcome = await runToolLoop<Body, StreamAnswer>({
        request: body,
        maxSteps,
        isLoopTool,
        runStep,
        executeTool,
        continueWith: (stepBody, step, results) =>
          step.answer instanceof ChatStreamStep
            ? continueChat(stepBody, step.toolCalls, step.answer.text(), results)
            : continueResponses(stepBody, step.answer.output(), results),
      });
      const last = outcome.answers[outcome.answers.length - 1]!;
      await channel.push(comment(`mcp steps ${outcome.answers.length} (${outcome.stop})`));
      for (const frame of last.closing(outcome.stop, usage)) await channel.push(frame);
      channel.end();
    } catch (err) {
      channel.fail(err);
    }
  })();
  // The status line waits for the first frame, so a first step that fails keeps its own status.
  const frames = dialect === 'responses' ? responsesClientFrames(channel, outer.log) : channel;
  outer.response = { kind: 'stream', status: 200, frames, usage: () => outer.usage };
  await sendResponse(request, reply, outer, 'openai');
}

/**
 * A request refused before its first step (bad key, bad entry, unknown or denied server) is still
 * a row of the spend log, as the pipeline records every request it refuses.
 */
function recordRefusal(outer: GatewayContext, err: GatewayError, spendLog: ToolLoopDeps['spendLog']): void {
  spendLog.record({
    id: outer.id,
    time: outer.startedAt,
    principal: outer.principal?.id ?? 'anonymous',
    key_id: outer.principal?.keyId ?? null,
    team_id: outer.principal?.teamId ?? null,
    model: outer.requestedModel,
    provider: null,
    upstream_model: null,
    operation: outer.operation,
    stream: outer.stream,
    input_tokens: 0,
    cached_input_tokens: 0,
    output_tokens: 0,
    cost_micros: 0,
    usage_estimated: false,
    latency_ms: Math.round((performance.now() - outer.startedHr) * 1000) / 1000,
    ttft_ms: null,
    status: err.status,
    error_code: err.wireCode,
    cache_status: null,
    saved_cost_micros: 0,
    fallback_chain: null,
    attempts: null,
    loop_id: outer.id,
    loop_step: null,
    trace_id: null,
  });
}

async function prepare(outer: GatewayContext, deps: ToolLoopDeps, dialect: Dialect) {
  // Authenticated first, as the pipeline would: strangers learn nothing about the servers.
  const principal = await deps.authenticator.authenticate(outer.headers);
  outer.principal = principal;
  const raw = outer.rawBody as Body;
  const { entries, rest } = splitMcpToolEntries(raw['tools'] as unknown[]);
  const tools = await expandMcpTools(principal, entries, { registry: deps.registry, upstreams: deps.upstreams, log: outer.log, forwarded: collectForwarded(outer.headers) });
  const requested = entries.map((e) => e.maxSteps).filter((n): n is number => n !== undefined);
  const maxSteps = requested.length ? Math.min(...requested) : deps.maxSteps;
  return { principal, tools, maxSteps, body: firstBody(raw, rest, tools, dialect) };
}

function jsonBody(ctx: GatewayContext): Body {
  const response = ctx.response;
  if (response?.kind !== 'json') throw new GatewayError('SF_ERR_INTERNAL', { message: 'A tool-loop step did not answer with JSON.' });
  const body = response.body ?? (response.text === undefined ? undefined : JSON.parse(response.text));
  return (body ?? {}) as Body;
}

function outputItems(response: Body): Body[] {
  return Array.isArray(response['output']) ? (response['output'] as Body[]) : [];
}
