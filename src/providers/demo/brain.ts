import { createHash } from 'node:crypto';
import type { Usage } from '../types.js';

/**
 * The demo models' one behaviour, independent of any wire format: the built-in `demo` provider
 * and the demo's local OpenAI, Anthropic and Gemini upstreams all answer through it, so the
 * same question gets the same answer whichever API it took.
 */

/** One conversation turn, reduced to what the demo answers from. */
export interface DemoTurn {
  /** Every text of the conversation (system prompt included), for the token count. */
  promptText: string;
  /** What came last: a user's text, or a tool's result. */
  last: { kind: 'user' | 'tool_result'; text: string };
  tools: Array<{ name: string; parameters?: unknown }>;
  /** The client forbade tool calls (`tool_choice: "none"` and its equivalents). */
  toolsForbidden: boolean;
}

export interface DemoToolCall {
  id: string;
  name: string;
  arguments: Record<string, unknown>;
}

export interface DemoAnswer {
  text: string | null;
  toolCalls: DemoToolCall[];
  usage: Usage;
}

/** Rough token count for demo usage: four characters a token. */
export function demoTokens(text: string): number {
  return Math.max(1, Math.ceil(text.length / 4));
}

/** A file name or path in the user's text (`welcome.txt`, `docs/a.md`), for a `path` argument. */
const PATH_IN_TEXT = /[\w./-]*\w\.[A-Za-z0-9]+\b/;

/**
 * Arguments for a demo tool call: every required property filled with a plausible value; a
 * `path` gets the file named in the user's text, so "Read welcome.txt" reads that file.
 */
function demoArguments(parameters: unknown, userText: string): Record<string, unknown> {
  const params = parameters as { properties?: Record<string, { type?: string }>; required?: string[] } | undefined;
  const args: Record<string, unknown> = {};
  for (const name of Array.isArray(params?.required) ? params.required : []) {
    const type = params?.properties?.[name]?.type;
    const text = name === 'path' ? (PATH_IN_TEXT.exec(userText)?.[0] ?? userText) : userText;
    args[name] = type === 'number' || type === 'integer' ? 1 : type === 'boolean' ? true : type === 'array' ? [] : type === 'object' ? {} : text;
  }
  return args;
}

/**
 * The tool the demo calls: one that reads a file when offered (an MCP filesystem server offers
 * a dozen tools, and reading is what the demo shows), else the first.
 */
function chooseTool(tools: DemoTurn['tools']): DemoTurn['tools'][number] | undefined {
  return tools.find((t) => /(^|_)read_text_file$/.test(t.name)) ?? tools.find((t) => /(^|_)read_file$/.test(t.name)) ?? tools[0];
}

/** The deterministic answer: a tool call when tools are offered to a fresh user turn, the tool's result after one, else an echo. */
export function demoAnswer(turn: DemoTurn): DemoAnswer {
  const input = demoTokens(turn.promptText);
  const usage = (output: number): Usage => ({ input_tokens: input, cached_input_tokens: 0, output_tokens: output });
  if (turn.last.kind === 'tool_result') {
    const text = `The tool returned: ${turn.last.text}`;
    return { text, toolCalls: [], usage: usage(demoTokens(text)) };
  }
  const tool = chooseTool(turn.tools);
  if (tool && !turn.toolsForbidden) {
    const args = demoArguments(tool.parameters, turn.last.text);
    const json = JSON.stringify(args);
    const id = createHash('sha256').update(tool.name + json).digest('hex').slice(0, 12);
    return { text: null, toolCalls: [{ id, name: tool.name, arguments: args }], usage: usage(demoTokens(json)) };
  }
  const text = `Demo echo: ${turn.last.text}`;
  return { text, toolCalls: [], usage: usage(demoTokens(text)) };
}

/** The pieces a demo stream sends: one word (with its trailing space) at a time. */
export function demoPieces(text: string): string[] {
  return text.match(/\S+\s*/g) ?? [];
}

/** Deterministic unit vector for a text, so demo embeddings are stable and comparable. */
export function demoVector(text: string, dims: number): number[] {
  const digest = createHash('sha256').update(text).digest();
  const v = Array.from({ length: dims }, (_, i) => (digest[i % digest.length]! - 127.5) / 127.5);
  const norm = Math.sqrt(v.reduce((s, x) => s + x * x, 0)) || 1;
  return v.map((x) => Number((x / norm).toFixed(6)));
}
