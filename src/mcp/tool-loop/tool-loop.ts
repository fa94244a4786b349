/**
 * The MCP tool loop, independent of any wire format or transport: the model answers; when it asks
 * only for tools the gateway runs, they run and the conversation goes on with their results,
 * until the model answers without them, calls a tool the client must run, or `maxSteps` LLM
 * calls were made. The HTTP surfaces (chat completions, Responses) and the A2A agent runner
 * supply how one step runs and how a conversation is continued.
 */

/** A tool call the model asked for, in any dialect. */
export interface LoopToolCall {
  /** The call's id in the dialect (`tool_call_id`, `call_id`). */
  id: string;
  name: string;
  /** The arguments as the model wrote them (a JSON text). */
  arguments: string;
}

/** A tool's outcome as the model reads it: errors are results too, so the model can react. */
export interface LoopToolResult {
  callId: string;
  text: string;
  isError: boolean;
}

/** One LLM step's answer and the tool calls in it. */
export interface LoopStep<A> {
  answer: A;
  toolCalls: LoopToolCall[];
}

/**
 * Why the loop ended: `answered` (no tool calls), `client_tool` (a call of a tool the client
 * runs: the answer goes back to the client as the model sent it), `max_steps` (the model still
 * asked for gateway tools after the last allowed step: that answer goes back as it is).
 */
export type LoopStop = 'answered' | 'client_tool' | 'max_steps';

export interface ToolLoopOutcome<A> {
  /** Every step's answer, in order; the last is what the client gets. */
  answers: A[];
  stop: LoopStop;
}

export interface ToolLoopOptions<R, A> {
  request: R;
  /** LLM calls allowed, the first included (at least 1). */
  maxSteps: number;
  /** True for the names of tools the gateway runs. */
  isLoopTool(name: string): boolean;
  /** Runs one LLM step (in the gateway: through the whole pipeline, charged to the caller). */
  runStep(request: R, step: number): Promise<LoopStep<A>>;
  /** Runs one tool; tool failures come back as an `isError` result, never as a throw. */
  executeTool(call: LoopToolCall, step: number): Promise<LoopToolResult>;
  /** The request for the next step: the conversation with the step's answer and the results appended. */
  continueWith(request: R, step: LoopStep<A>, results: LoopToolResult[]): R;
}

export async function runToolLoop<R, A>(options: ToolLoopOptions<R, A>): Promise<ToolLoopOutcome<A>> {
  const answers: A[] = [];
  let request = options.request;
  for (let step = 1; ; step++) {
    const current = await options.runStep(request, step);
    answers.push(current.answer);
    if (current.toolCalls.length === 0) return { answers, stop: 'answered' };
    if (current.toolCalls.some((c) => !options.isLoopTool(c.name))) return { answers, stop: 'client_tool' };
    if (step >= options.maxSteps) return { answers, stop: 'max_steps' };
    // One after another: tools may depend on each other's side effects, and progress reads in order.
    const results: LoopToolResult[] = [];
    for (const call of current.toolCalls) results.push(await options.executeTool(call, step));
    request = options.continueWith(request, current, results);
  }
}
