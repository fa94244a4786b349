import { GatewayError } from '../../errors/gateway-error.js';
import type { OpenAIChatRequest, OpenAIMessage, OpenAITool } from '../types.js';
import { droppedEntry } from '../dropped.js';
import { readWebSearchTool } from '../web-search-tool.js';
import { isRecord } from '../wire-utils.js';

/**
 * OpenAI Chat Completions request -> Anthropic Messages API body. Pure: no I/O, so the
 * golden tests in test/golden/anthropic pin every field.
 */

type Block = Record<string, unknown>;

interface AnthropicMessage {
  role: 'user' | 'assistant';
  content: string | Block[];
}

/** Anthropic requires max_tokens; OpenAI does not, so absent means this. */
const DEFAULT_MAX_TOKENS = 4096;

const JSON_TOOL_FALLBACK_NAME = 'json_response';
const JSON_TOOL_DESCRIPTION = 'Give your whole answer by calling this tool; its input is the answer, as JSON matching the schema.';
const JSON_OBJECT_INSTRUCTION = 'Respond with a single valid JSON object and nothing else: no prose before or after it, no code fences.';
/** Anthropic's tool-name rule; OpenAI schema names follow the same alphabet. */
const TOOL_NAME_RE = /^[a-zA-Z0-9_-]{1,64}$/;
const DATA_URL_RE = /^data:([^;,]+);base64,(.*)$/s;
/**
 * Anthropic's own content block types, which clients that know them send in OpenAI requests
 * (documents, search results, thinking replayed from an earlier turn). Any other type the
 * translator does not know has no Anthropic meaning and is dropped, not sent to a 400.
 */
const ANTHROPIC_BLOCK_TYPES = new Set([
  'text', 'image', 'document', 'search_result', 'tool_use', 'tool_result', 'thinking', 'redacted_thinking', 'server_tool_use',
  'web_search_tool_result', 'web_fetch_tool_result', 'code_execution_tool_result', 'bash_code_execution_tool_result',
  'text_editor_code_execution_tool_result', 'mcp_tool_use', 'mcp_tool_result', 'container_upload',
]);
/** Anthropic's versioned tool types (`web_search_20250305`, `bash_20250124` ...): sent by clients that know them, passed as they are. */
const ANTHROPIC_TOOL_TYPE_RE = /_\d{8}$/;
/** Anthropic's web search server tool, what OpenAI's web search tool becomes. */
const ANTHROPIC_WEB_SEARCH = { type: 'web_search_20250305', name: 'web_search' };
/**
 * Chat request fields this translation reads (or the gateway consumed before it). Any other
 * top-level field has no Anthropic equivalent and is named in `dropped`.
 */
const READ_FIELDS = new Set([
  'model', 'messages', 'max_tokens', 'max_completion_tokens', 'n', 'tools', 'tool_choice', 'parallel_tool_calls', 'response_format',
  'temperature', 'top_p', 'top_k', 'stop', 'user', 'thinking', 'stream', 'stream_options', 'cache',
]);

/** What the response side must know about the request it answers. */
export interface AnthropicResponseOptions {
  /**
   * Name of the forced tool that emulates `response_format: json_schema`. A tool_use block
   * with this name is the answer itself: its input becomes `content` as JSON text.
   */
  jsonToolName?: string;
}

function invalid(message: string, param: string): GatewayError {
  return new GatewayError('SF_ERR_INVALID_REQUEST', { message, param });
}

/**
 * The name of the tool that emulates `response_format: json_schema`, or undefined when the
 * request does not ask for a schema. Falls back to `json_response` when the schema name is
 * not a valid Anthropic tool name or collides with one of the client's own tools.
 */
function jsonSchemaToolName(req: OpenAIChatRequest): string | undefined {
  const rf = req.response_format;
  if (rf?.type !== 'json_schema') return undefined;
  const name = rf.json_schema?.name;
  const taken = new Set((req.tools ?? []).map((t) => t.function?.name));
  if (typeof name === 'string' && TOOL_NAME_RE.test(name) && !taken.has(name)) return name;
  return JSON_TOOL_FALLBACK_NAME;
}

/** The options `translateAnthropicToOpenAI` and the stream translator need for answers to `req`. */
export function anthropicResponseOptions(req: OpenAIChatRequest): AnthropicResponseOptions {
  const jsonToolName = jsonSchemaToolName(req);
  return jsonToolName === undefined ? {} : { jsonToolName };
}

function withCacheControl(block: Block, part: Record<string, unknown>): Block {
  // Clients that know Anthropic prompt caching mark parts with cache_control; keep it.
  if (part['cache_control'] !== undefined) block['cache_control'] = part['cache_control'];
  return block;
}

function mediaBlock(type: 'image' | 'document', url: string, param: string): Block {
  const data = DATA_URL_RE.exec(url);
  if (data) return { type, source: { type: 'base64', media_type: data[1], data: data[2] } };
  if (/^https?:\/\//i.test(url)) return { type, source: { type: 'url', url } };
  throw invalid(`${param} must be a base64 data URL or an http(s) URL.`, param);
}

/** One OpenAI content part -> one Anthropic block; null for parts that carry nothing (empty text) or were dropped. */
function convertPart(part: unknown, param: string, dropped: string[]): Block | null {
  if (!isRecord(part) || typeof part['type'] !== 'string') throw invalid(`${param} must be a content part object with a type.`, param);
  switch (part['type']) {
    case 'text':
    case 'refusal': {
      const text = part['type'] === 'text' ? part['text'] : part['refusal'];
      if (typeof text !== 'string') throw invalid(`${param} has no text.`, param);
      // Anthropic rejects empty text blocks.
      return text === '' ? null : withCacheControl({ type: 'text', text }, part);
    }
    case 'image_url': {
      const img = part['image_url'];
      const url = typeof img === 'string' ? img : isRecord(img) ? img['url'] : undefined;
      if (typeof url !== 'string') throw invalid(`${param}.image_url.url is required.`, `${param}.image_url.url`);
      return withCacheControl(mediaBlock('image', url, `${param}.image_url.url`), part);
    }
    case 'file': {
      const file = part['file'];
      const fileData = isRecord(file) ? file['file_data'] : undefined;
      // OpenAI file ids point into OpenAI's file store, which Anthropic cannot read.
      if (typeof fileData !== 'string') throw invalid(`${param}.file.file_data (a base64 data URL) is required for Anthropic models.`, `${param}.file.file_data`);
      return withCacheControl(mediaBlock('document', fileData, `${param}.file.file_data`), part);
    }
    case 'input_audio':
      throw invalid('Audio input is not supported by Anthropic models.', param);
    default:
      if (ANTHROPIC_BLOCK_TYPES.has(part['type'])) return part;
      dropped.push(droppedEntry(`${param}.type`, part['type']));
      return null;
  }
}

function convertContent(content: OpenAIMessage['content'], param: string, dropped: string[]): string | Block[] {
  if (content === undefined || content === null) return [];
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) throw invalid(`${param} must be a string or an array of content parts.`, param);
  const blocks: Block[] = [];
  content.forEach((part, j) => {
    const block = convertPart(part, `${param}[${j}]`, dropped);
    if (block) blocks.push(block);
  });
  return blocks;
}

function toBlocks(content: string | Block[]): Block[] {
  if (typeof content !== 'string') return content;
  return content === '' ? [] : [{ type: 'text', text: content }];
}

function parseArguments(args: unknown, param: string): Record<string, unknown> {
  // Some clients send '' for a call without arguments.
  if (args === undefined || args === '') return {};
  if (typeof args !== 'string') throw invalid(`${param} must be a JSON string.`, param);
  let parsed: unknown;
  try {
    parsed = JSON.parse(args);
  } catch {
    throw invalid(`${param} is not valid JSON.`, param);
  }
  if (!isRecord(parsed)) throw invalid(`${param} must be a JSON object.`, param);
  return parsed;
}

function assistantBlocks(msg: OpenAIMessage, i: number, dropped: string[], droppedCalls: Set<string>): string | Block[] {
  const content = convertContent(msg.content, `messages[${i}].content`, dropped);
  const calls = msg.tool_calls ?? [];
  if (calls.length === 0) return content;
  const blocks = toBlocks(content);
  calls.forEach((call, j) => {
    const param = `messages[${i}].tool_calls[${j}]`;
    // A call of a tool type chat knows and Anthropic does not (a custom tool's) cannot be replayed.
    if (isRecord(call) && call.type !== undefined && call.type !== 'function') {
      dropped.push(droppedEntry(`${param}.type`, call.type));
      if (typeof call.id === 'string') droppedCalls.add(call.id);
      return;
    }
    if (!isRecord(call) || !isRecord(call.function) || typeof call.function.name !== 'string') {
      throw invalid(`${param}.function.name is required.`, `${param}.function.name`);
    }
    // Anthropic pairs tool_result blocks with tool_use blocks by this id.
    if (typeof call.id !== 'string' || call.id === '') throw invalid(`${param}.id is required.`, `${param}.id`);
    blocks.push({ type: 'tool_use', id: call.id, name: call.function.name, input: parseArguments(call.function.arguments, `${param}.function.arguments`) });
  });
  return blocks;
}

function toolResultBlock(msg: OpenAIMessage, i: number, dropped: string[]): Block {
  if (typeof msg.tool_call_id !== 'string' || msg.tool_call_id === '') {
    throw invalid(`messages[${i}].tool_call_id is required for tool messages.`, `messages[${i}].tool_call_id`);
  }
  const block: Block = { type: 'tool_result', tool_use_id: msg.tool_call_id };
  const content = convertContent(msg.content, `messages[${i}].content`, dropped);
  if (content.length > 0) block['content'] = content;
  return block;
}

/** Anthropic wants tool_result blocks before anything else in a user turn. */
function toolResultsFirst(blocks: Block[]): Block[] {
  const results = blocks.filter((b) => b['type'] === 'tool_result');
  return results.length === 0 ? blocks : [...results, ...blocks.filter((b) => b['type'] !== 'tool_result')];
}

/** Appends a turn, merging it into the previous one when the role repeats (Anthropic requires alternation). */
function pushTurn(turns: AnthropicMessage[], turn: AnthropicMessage): void {
  const last = turns[turns.length - 1];
  if (last === undefined || last.role !== turn.role) {
    turns.push(turn);
    return;
  }
  const merged = [...toBlocks(last.content), ...toBlocks(turn.content)];
  last.content = turn.role === 'user' ? toolResultsFirst(merged) : merged;
}

function systemBlocks(msg: OpenAIMessage, i: number, dropped: string[]): Block[] {
  const content = convertContent(msg.content, `messages[${i}].content`, dropped);
  const blocks = toBlocks(content);
  for (const b of blocks) {
    if (b['type'] !== 'text') throw invalid(`messages[${i}] (${msg.role}) may only contain text.`, `messages[${i}].content`);
  }
  return blocks;
}

function convertMessages(messages: OpenAIMessage[], system: Block[], dropped: string[]): AnthropicMessage[] {
  const turns: AnthropicMessage[] = [];
  /** Ids of tool calls left out: their results must go too, or Anthropic finds a result without its call. */
  const droppedCalls = new Set<string>();
  messages.forEach((msg, i) => {
    if (!isRecord(msg)) throw invalid(`messages[${i}] must be an object.`, `messages[${i}]`);
    switch (msg.role) {
      case 'system':
      case 'developer':
        // Anthropic has one top-level system prompt; system messages anywhere are hoisted into it.
        system.push(...systemBlocks(msg, i, dropped));
        return;
      case 'user':
        pushTurn(turns, { role: 'user', content: convertContent(msg.content, `messages[${i}].content`, dropped) });
        return;
      case 'assistant': {
        const content = assistantBlocks(msg, i, dropped, droppedCalls);
        // An empty assistant turn carries nothing and Anthropic rejects empty content.
        if (content.length > 0) pushTurn(turns, { role: 'assistant', content });
        return;
      }
      case 'tool':
        if (typeof msg.tool_call_id === 'string' && droppedCalls.has(msg.tool_call_id)) {
          dropped.push(droppedEntry(`messages[${i}].tool_call_id`, msg.tool_call_id));
          return;
        }
        pushTurn(turns, { role: 'user', content: [toolResultBlock(msg, i, dropped)] });
        return;
      default:
        // A role Anthropic has no place for (`function`, or one released after this code).
        dropped.push(droppedEntry(`messages[${i}].role`, msg.role));
    }
  });
  return turns;
}

/** A tool that is not a function: Anthropic's own (passed as is), OpenAI's web search (Anthropic's search tool), or dropped. */
function convertOtherTool(tool: Record<string, unknown>, i: number, dropped: string[]): Block | null {
  const type = tool['type'];
  if (typeof type === 'string' && ANTHROPIC_TOOL_TYPE_RE.test(type)) return tool;
  const search = readWebSearchTool(tool);
  if (search === 'offline') {
    dropped.push(`tools[${i}].external_web_access=false`);
    return null;
  }
  if (search) {
    return {
      ...ANTHROPIC_WEB_SEARCH,
      ...(search.allowedDomains ? { allowed_domains: search.allowedDomains } : {}),
      ...(search.userLocation ? { user_location: { ...search.userLocation, type: 'approximate' } } : {}),
    };
  }
  dropped.push(droppedEntry(`tools[${i}].type`, type));
  return null;
}

function convertTools(tools: OpenAITool[], dropped: string[]): Block[] {
  const out: Block[] = [];
  tools.forEach((tool, i) => {
    if (!isRecord(tool) || tool.type !== 'function') {
      const other = isRecord(tool) ? convertOtherTool(tool, i, dropped) : null;
      if (other) out.push(other);
      return;
    }
    if (!isRecord(tool.function) || typeof tool.function.name !== 'string') throw invalid(`tools[${i}].function.name is required.`, `tools[${i}].function.name`);
    const fn: Block = { name: tool.function.name };
    if (tool.function.description !== undefined) fn['description'] = tool.function.description;
    fn['input_schema'] = tool.function.parameters ?? { type: 'object', properties: {} };
    out.push(fn);
  });
  return out;
}

function convertToolChoice(req: OpenAIChatRequest, dropped: string[]): Block | undefined {
  const choice = req.tool_choice;
  let out: Block | undefined;
  if (choice === undefined || choice === 'auto') out = choice === undefined ? undefined : { type: 'auto' };
  else if (choice === 'required') out = { type: 'any' };
  else if (choice === 'none') return { type: 'none' };
  else if (isRecord(choice) && isRecord(choice.function) && typeof choice.function.name === 'string') out = { type: 'tool', name: choice.function.name };
  else dropped.push(droppedEntry('tool_choice.type', isRecord(choice) ? choice['type'] : undefined));
  if (req['parallel_tool_calls'] === false) out = { ...(out ?? { type: 'auto' }), disable_parallel_tool_use: true };
  return out;
}

/** Adds the forced tool that emulates json_schema; returns the tool_choice to send. */
function addJsonTool(req: OpenAIChatRequest, name: string, tools: Block[], choice: Block | undefined): Block {
  const rf = req.response_format;
  const spec = rf?.type === 'json_schema' ? rf.json_schema : undefined;
  tools.push({ name, description: spec?.description ?? JSON_TOOL_DESCRIPTION, input_schema: spec?.schema ?? { type: 'object' } });
  const forced: Block = { type: 'tool', name, disable_parallel_tool_use: true };
  // With tools of its own, the client may still want a tool call: let the model pick any tool
  // (its own or the answer tool) unless the client pinned one or ruled tools out.
  if (tools.length === 1 || choice?.['type'] === 'none') return forced;
  if (choice === undefined || choice['type'] === 'auto') return { ...choice, type: 'any' };
  return choice;
}

function clampTemperature(t: number): number {
  // OpenAI accepts 0..2, Anthropic 0..1; above 1 means "most random" on both sides.
  return t > 1 ? 1 : t;
}

/**
 * Builds the Anthropic Messages API body for an OpenAI chat request.
 *
 * What Anthropic has no equivalent for is left out and named in `dropped` (the gateway reports
 * it in `x-smartflow-dropped`): OpenAI-only fields (seed, logprobs, frequency_penalty,
 * service_tier, ...; Anthropic rejects unknown fields), roles other than system, developer,
 * user, assistant and tool, content parts and tools of types neither OpenAI's known ones nor
 * Anthropic's own, and tool_choice of another type. OpenAI's web search tool becomes Anthropic's
 * `web_search` server tool; `top_k` and `thinking` (Anthropic-native) pass through. Throws
 * SF_ERR_INVALID_REQUEST (with `param`) for requests Anthropic cannot serve at all, such as
 * `n > 1`, tool-call arguments that are not JSON, or no message left to send.
 */
export function translateOpenAIToAnthropic(req: OpenAIChatRequest, upstreamModel: string, dropped: string[] = []): Record<string, unknown> {
  if (!Array.isArray(req.messages)) throw invalid('messages must be an array.', 'messages');
  if (typeof req.n === 'number' && req.n > 1) throw invalid('Anthropic models return one choice per request; n must be 1.', 'n');

  const system: Block[] = [];
  const messages = convertMessages(req.messages, system, dropped);
  if (messages.length === 0) throw invalid('messages: no message is left that Anthropic models can take; the request needs a user, assistant or tool message.', 'messages');
  for (const key of Object.keys(req)) if (!READ_FIELDS.has(key)) dropped.push(key);
  if (req.response_format?.type === 'json_object') system.push({ type: 'text', text: JSON_OBJECT_INSTRUCTION });

  const body: Record<string, unknown> = {
    model: upstreamModel,
    max_tokens: req.max_completion_tokens ?? req.max_tokens ?? DEFAULT_MAX_TOKENS,
  };
  const only = system[0];
  if (system.length === 1 && only !== undefined && only['cache_control'] === undefined) body['system'] = only['text'];
  else if (system.length > 0) body['system'] = system;
  body['messages'] = messages;

  const tools = convertTools(req.tools ?? [], dropped);
  let toolChoice = tools.length > 0 ? convertToolChoice(req, dropped) : undefined;
  const jsonTool = jsonSchemaToolName(req);
  if (jsonTool !== undefined) toolChoice = addJsonTool(req, jsonTool, tools, toolChoice);
  if (tools.length > 0) body['tools'] = tools;
  if (toolChoice !== undefined) body['tool_choice'] = toolChoice;

  if (typeof req.temperature === 'number') body['temperature'] = clampTemperature(req.temperature);
  if (typeof req.top_p === 'number') body['top_p'] = req.top_p;
  if (req['top_k'] !== undefined) body['top_k'] = req['top_k'];
  const stop = typeof req.stop === 'string' ? [req.stop] : (req.stop ?? []);
  if (stop.length > 0) body['stop_sequences'] = stop;
  if (typeof req.user === 'string' && req.user !== '') body['metadata'] = { user_id: req.user };
  if (req['thinking'] !== undefined) body['thinking'] = req['thinking'];
  if (req.stream === true) body['stream'] = true;
  return body;
}
