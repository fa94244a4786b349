import type { GatewayRequest } from '../providers/gateway-request.js';
import type { ModelDeployment } from '../providers/registry.js';
import type { OpenAIChatRequest, OpenAIMessage } from '../providers/types.js';
import { attachmentTokens } from './attachments.js';

/** The most a request can use, reserved against budgets and token rate limits before it is sent. */
export interface WorstCase {
  inputTokens: number;
  outputTokens: number;
  /** Billable server tool calls it may make, by kind. */
  serverToolCalls: Record<string, number>;
}

/** What bounds a request on the deployment it may go to. */
export interface WorstCaseLimits {
  /** Output tokens per choice when the request sets no limit. */
  maxOutputTokens: number;
  /** The model's context window (no prompt can be longer); undefined when unknown. */
  inputLimit: number | undefined;
  /** Calls reserved per billable server tool declared without `max_uses`. */
  maxServerToolCalls: number;
  /** Server tool kinds the deployment bills per call; tools of other kinds cost only their tokens. */
  billableTools: ReadonlySet<string>;
}

/**
 * Tokenizers in use need at least two UTF-8 bytes per token on ordinary text (English runs at
 * about four, CJK at about three), so bytes / 2 stays above the real count without a tokenizer.
 */
export const BYTES_PER_TOKEN = 2;
/** Role markers and separators every chat format adds per message (OpenAI's is 3-4, plus the role). */
const TOKENS_PER_MESSAGE = 8;
/** The tokens that prime the assistant's reply. */
const TOKENS_PER_REPLY = 3;

export function textTokens(text: string): number {
  return Math.ceil(Buffer.byteLength(text, 'utf8') / BYTES_PER_TOKEN);
}

/** Tokens of a JSON value the provider reads as text (tool definitions, schemas), by its size; 0 when absent. */
function jsonTokens(value: unknown): number {
  return value === undefined || value === null ? 0 : textTokens(JSON.stringify(value));
}

/**
 * Tokens of prompt content of any shape (a tool result's blocks, a native input item): the
 * attachments anywhere inside by their bounds, the rest by its JSON size. A document nested in
 * a tool result is billed by its pages like one at the top level, so it is bounded the same way.
 */
function structuredTokens(value: unknown): number {
  if (value === undefined || value === null) return 0;
  let attachments = 0;
  const json = JSON.stringify(value, (_key, v: unknown) => {
    if (typeof v === 'object' && v !== null && !Array.isArray(v)) {
      const bound = attachmentTokens(v as Record<string, unknown>);
      if (bound !== undefined) {
        attachments += bound;
        return undefined;
      }
    }
    return v;
  });
  return attachments + (json === undefined ? 0 : textTokens(json));
}

/** Tokens of a content part list or Anthropic block list (or a string): attachments by their bound, the rest by size. */
function contentTokens(content: unknown): number {
  if (typeof content === 'string') return textTokens(content);
  if (!Array.isArray(content)) return 0;
  let tokens = 0;
  for (const part of content as Array<Record<string, unknown>>) {
    if (typeof part !== 'object' || part === null) continue;
    if (part['type'] === 'text' && typeof part['text'] === 'string') tokens += textTokens(part['text']);
    else tokens += structuredTokens(part);
  }
  return tokens;
}

/**
 * A message's content, plus every other field it carries (tool calls, a legacy `function_call`,
 * the name) by size: the provider reads them all as prompt.
 */
function messageTokens(message: OpenAIMessage): number {
  const { role: _role, content, ...rest } = message;
  let tokens = TOKENS_PER_MESSAGE + contentTokens(content);
  for (const value of Object.values(rest)) tokens += typeof value === 'string' ? textTokens(value) : jsonTokens(value);
  return tokens;
}

/** An upper bound on a chat request's prompt tokens, before any cap by the context window. */
export function chatInputTokens(body: OpenAIChatRequest): number {
  let tokens = TOKENS_PER_REPLY;
  for (const message of body.messages) tokens += messageTokens(message);
  // `functions` is the legacy form of `tools`, still forwarded and billed alike.
  tokens += jsonTokens(body.tools) + jsonTokens(body['functions']) + jsonTokens(body.response_format);
  return tokens;
}

/**
 * An upper bound on a Responses API request's prompt tokens from the body the provider
 * receives natively: items and tools its chat translation leaves out are billed all the same.
 */
function responsesInputTokens(body: Record<string, unknown>): number {
  return TOKENS_PER_REPLY + structuredTokens(body['instructions']) + structuredTokens(body['input']) + jsonTokens(body['tools']) + jsonTokens(body['text']);
}

/** Above any real `max_uses`; keeps a silly one from making the reservation an unsafe number. */
const MAX_DECLARED_USES = 100_000;

/** The server tool kind a tool type names: `web_search_20250305`, `web_search_preview` and `web_search_preview_2025_03_11` are all `web_search`. */
export function serverToolKind(type: string): string {
  return type.replace(/_(\d{8}|\d{4}_\d{2}_\d{2})$/, '').replace(/_preview$/, '');
}

/**
 * The billable server tools a request declares, each at its `max_uses` or the configured
 * number of calls. Function and custom tools run on the client and cost only their tokens.
 */
function serverToolCalls(tools: unknown, limits: WorstCaseLimits): Record<string, number> {
  const calls: Record<string, number> = {};
  if (!Array.isArray(tools)) return calls;
  for (const tool of tools as unknown[]) {
    if (typeof tool !== 'object' || tool === null) continue;
    const t = tool as Record<string, unknown>;
    if (typeof t['type'] !== 'string') continue;
    const kind = serverToolKind(t['type']);
    if (!limits.billableTools.has(kind)) continue;
    const maxUses = t['max_uses'];
    const n = typeof maxUses === 'number' && Number.isSafeInteger(maxUses) && maxUses > 0 ? Math.min(maxUses, MAX_DECLARED_USES) : limits.maxServerToolCalls;
    calls[kind] = (calls[kind] ?? 0) + n;
  }
  return calls;
}

/** The bound of an attachment of unknown size when the model's context window is unknown too: above any mainstream model's window. */
const UNKNOWN_WINDOW = 2_000_000;

function capped(tokens: number, limit: number | undefined): number {
  if (limit !== undefined) return Math.min(tokens, limit);
  return Number.isFinite(tokens) ? tokens : UNKNOWN_WINDOW;
}

/** The context window of a model with a long-context tier: its prompts may reach it through the 1M beta. */
const LONG_CONTEXT_WINDOW = 1_000_000;

/** The longest prompt a deployment takes (its long-context tier included); undefined when unknown. */
export function promptLimit(d: ModelDeployment): number | undefined {
  return d.price?.long_context ? Math.max(d.contextWindow ?? 0, LONG_CONTEXT_WINDOW) : d.contextWindow;
}

/**
 * The input estimate a charge uses when the provider reported none: never above the prompt
 * limit (`limit`, when known), and an attachment of unknown size at most the largest window.
 */
export function chargedInputTokens(request: GatewayRequest, limit?: number): number {
  return capped(estimatedInputTokens(request), limit);
}

/** Estimates by request body: a plan of several deployments asks once per deployment, and attachments are decoded to count pages. */
const inputEstimates = new WeakMap<object, number>();

/** An upper bound on a request's prompt tokens from its size (attachments by their bounds), before any cap by the context window. */
export function estimatedInputTokens(request: GatewayRequest): number {
  let tokens = inputEstimates.get(request.body);
  if (tokens === undefined) {
    tokens = inputTokensOf(request);
    inputEstimates.set(request.body, tokens);
  }
  return tokens;
}

function inputTokensOf(request: GatewayRequest): number {
  if (request.operation === 'embeddings') {
    const input = request.body.input;
    if (typeof input === 'string') return textTokens(input);
    let tokens = 0;
    for (const item of input) {
      if (typeof item === 'string') tokens += textTokens(item);
      else if (Array.isArray(item)) tokens += item.length;
      else tokens += 1;
    }
    return tokens;
  }
  if (request.operation === 'messages') {
    const body = request.body;
    let tokens = TOKENS_PER_REPLY + contentTokens(body.system);
    for (const message of body.messages) tokens += TOKENS_PER_MESSAGE + contentTokens(message.content);
    // MCP server definitions are expanded into tool definitions the model reads.
    tokens += jsonTokens(body['tools']) + jsonTokens(body['mcp_servers']);
    return tokens;
  }
  // Both bound the same prompt, but only the native body has what the translation drops: the larger is kept.
  if (request.operation === 'responses') return Math.max(chatInputTokens(request.body), responsesInputTokens(request.native.body));
  return chatInputTokens(request.body);
}

/**
 * An upper bound on the tokens a request may use: input estimated from its size, never above
 * the model's context window; output from `max_completion_tokens` / `max_tokens` (which
 * Anthropic requires), else the model's output limit, times `n` choices; plus its server tool calls.
 */
export function worstCaseTokens(request: GatewayRequest, limits: WorstCaseLimits): WorstCase {
  const inputTokens = capped(estimatedInputTokens(request), limits.inputLimit);
  if (request.operation === 'embeddings') return { inputTokens, outputTokens: 0, serverToolCalls: {} };
  if (request.operation === 'messages') return { inputTokens, outputTokens: request.body.max_tokens, serverToolCalls: serverToolCalls(request.body['tools'], limits) };
  const body = request.body;
  const perChoice = body.max_completion_tokens ?? body.max_tokens ?? limits.maxOutputTokens;
  const choices = typeof body.n === 'number' && body.n > 1 ? body.n : 1;
  return { inputTokens, outputTokens: perChoice * choices, serverToolCalls: serverToolCalls(body.tools, limits) };
}
