import { GatewayError } from '../../errors/gateway-error.js';
import type { OpenAIChatRequest, OpenAIContentPart, OpenAIMessage, OpenAITool, OpenAIToolCall, OpenAIToolChoice } from '../types.js';
import { droppedEntry } from '../dropped.js';
import { readWebSearchTool } from '../web-search-tool.js';
import { isRecord } from '../wire-utils.js';

/** One Gemini `Part`; only the members the gateway produces. */
export type GeminiRequestPart =
  | { text: string }
  | { inlineData: { mimeType: string; data: string } }
  | { fileData: { mimeType: string; fileUri: string } }
  | { functionCall: { name: string; args: Record<string, unknown> }; thoughtSignature?: string }
  | { functionResponse: { name: string; response: { content: unknown } } };

/** One Gemini `Content` turn. */
export interface GeminiContent {
  role: 'user' | 'model';
  parts: GeminiRequestPart[];
}

/**
 * Documented sentinel that tells Gemini 3 to skip thought-signature validation. Gemini 3 rejects
 * a replayed function call without its signature (400), and OpenAI clients usually rebuild
 * assistant messages without our `extra_content`, so histories would otherwise break.
 * See https://ai.google.dev/gemini-api/docs/thought-signatures.
 */
const SKIP_THOUGHT_SIGNATURE = 'skip_thought_signature_validator';

/** A tool call as Google's own OpenAI-compatible surface carries a thought signature. */
type ToolCallWithSignature = OpenAIToolCall & { extra_content?: { google?: { thought_signature?: unknown } } };

function invalid(message: string, param: string): GatewayError {
  return new GatewayError('SF_ERR_INVALID_REQUEST', { message, param });
}

const MIME_BY_EXTENSION: Record<string, string> = {
  png: 'image/png',
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  gif: 'image/gif',
  webp: 'image/webp',
  heic: 'image/heic',
  heif: 'image/heif',
  pdf: 'application/pdf',
};

/** Gemini needs a MIME type for URLs it fetches; the extension is the only hint we have without I/O. */
function guessMimeType(url: string): string {
  const path = url.split(/[?#]/, 1)[0] ?? '';
  const ext = /\.([a-z0-9]+)$/i.exec(path)?.[1]?.toLowerCase();
  return (ext && MIME_BY_EXTENSION[ext]) || 'image/jpeg';
}

function mediaPart(url: string, param: string): GeminiRequestPart {
  if (url.startsWith('data:')) {
    const m = /^data:([^;,]+)(?:;[^,]*)?;base64,(.*)$/s.exec(url);
    if (!m || m[1] === undefined || m[2] === undefined) throw invalid('Only base64 data URLs are supported for Gemini models.', param);
    return { inlineData: { mimeType: m[1], data: m[2] } };
  }
  if (/^(https?|gs):\/\//i.test(url)) return { fileData: { mimeType: guessMimeType(url), fileUri: url } };
  throw invalid('Image URLs must be https:// or base64 data: URLs.', param);
}

function contentParts(content: OpenAIMessage['content'], param: string, dropped: string[]): GeminiRequestPart[] {
  if (content === undefined || content === null) return [];
  if (typeof content === 'string') return content === '' ? [] : [{ text: content }];
  const parts: GeminiRequestPart[] = [];
  content.forEach((part: OpenAIContentPart, i) => {
    const p = `${param}[${i}]`;
    const raw: Record<string, unknown> = part;
    if (part.type === 'text' && typeof raw['text'] === 'string') {
      if (raw['text'] !== '') parts.push({ text: raw['text'] });
    } else if (part.type === 'refusal' && typeof raw['refusal'] === 'string') {
      // Earlier assistant refusals are part of the history the model should see.
      if (raw['refusal'] !== '') parts.push({ text: raw['refusal'] });
    } else if (part.type === 'image_url' && isRecord(raw['image_url']) && typeof raw['image_url']['url'] === 'string') {
      parts.push(mediaPart(raw['image_url']['url'], `${p}.image_url.url`));
    } else if (part.type === 'input_audio' && isRecord(raw['input_audio']) && typeof raw['input_audio']['data'] === 'string') {
      const format = typeof raw['input_audio']['format'] === 'string' ? raw['input_audio']['format'] : 'wav';
      parts.push({ inlineData: { mimeType: `audio/${format}`, data: raw['input_audio']['data'] } });
    } else if (part.type === 'file' && isRecord(raw['file']) && typeof raw['file']['file_data'] === 'string') {
      parts.push(mediaPart(raw['file']['file_data'], `${p}.file.file_data`));
    } else {
      // A part Gemini has no equivalent for is left out, and the answer says so.
      dropped.push(droppedEntry(`${p}.type`, part.type));
    }
  });
  return parts;
}

function textOf(content: OpenAIMessage['content']): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  return content.map((p) => (p.type === 'text' && typeof p['text'] === 'string' ? p['text'] : '')).join('');
}

function parseArgs(raw: string, param: string): Record<string, unknown> {
  if (raw.trim() === '') return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw invalid('Tool call arguments must be a JSON object.', param);
  }
  if (!isRecord(parsed)) throw invalid('Tool call arguments must be a JSON object.', param);
  return parsed;
}

/** Gemini wants a struct; JSON tool output is kept structured, plain text is wrapped. */
function toolResponse(content: OpenAIMessage['content']): { content: unknown } {
  const text = textOf(content);
  try {
    return { content: JSON.parse(text) as unknown };
  } catch {
    return { content: { result: text } };
  }
}

/** Our generated ids embed the name (`call_<index>_<name>`), a last resort for orphaned tool results. */
function nameFromGeneratedId(id: string | undefined): string | undefined {
  return id === undefined ? undefined : /^call_\d+_(.+)$/.exec(id)?.[1];
}

function assistantParts(msg: OpenAIMessage, i: number, toolNames: Map<string, string>, dropped: string[], droppedCalls: Set<string>): GeminiRequestPart[] {
  const parts = contentParts(msg.content, `messages[${i}].content`, dropped);
  let first = true;
  (msg.tool_calls ?? []).forEach((call: ToolCallWithSignature, j) => {
    // A call of a tool type chat knows and Gemini does not (a custom tool's) cannot be replayed.
    if (call.type !== undefined && call.type !== 'function') {
      dropped.push(droppedEntry(`messages[${i}].tool_calls[${j}].type`, call.type));
      droppedCalls.add(call.id);
      return;
    }
    toolNames.set(call.id, call.function.name);
    const args = parseArgs(call.function.arguments, `messages[${i}].tool_calls[${j}].function.arguments`);
    const signature = call.extra_content?.google?.thought_signature;
    const part: { functionCall: { name: string; args: Record<string, unknown> }; thoughtSignature?: string } = {
      functionCall: { name: call.function.name, args },
    };
    // Only the first call of a step carries a signature (parallel calls share it).
    if (typeof signature === 'string') part.thoughtSignature = signature;
    else if (first) part.thoughtSignature = SKIP_THOUGHT_SIGNATURE;
    first = false;
    parts.push(part);
  });
  return parts;
}

function buildContents(messages: OpenAIMessage[], dropped: string[]): { contents: GeminiContent[]; system: string[] } {
  const contents: GeminiContent[] = [];
  const system: string[] = [];
  const toolNames = new Map<string, string>();
  /** Ids of tool calls left out: their results go too. */
  const droppedCalls = new Set<string>();
  const push = (role: GeminiContent['role'], parts: GeminiRequestPart[]): void => {
    if (parts.length === 0) return; // Gemini rejects turns without parts.
    const last = contents[contents.length - 1];
    // Gemini expects alternating turns; OpenAI allows runs of same-role messages.
    if (last && last.role === role) last.parts.push(...parts);
    else contents.push({ role, parts });
  };
  messages.forEach((msg, i) => {
    switch (msg.role) {
      case 'system':
      case 'developer': {
        const text = textOf(msg.content);
        if (text !== '') system.push(text);
        break;
      }
      case 'user':
        push('user', contentParts(msg.content, `messages[${i}].content`, dropped));
        break;
      case 'assistant':
        push('model', assistantParts(msg, i, toolNames, dropped, droppedCalls));
        break;
      case 'tool': {
        const id = msg.tool_call_id;
        if (id !== undefined && droppedCalls.has(id)) {
          dropped.push(droppedEntry(`messages[${i}].tool_call_id`, id));
          break;
        }
        const name = (id !== undefined ? toolNames.get(id) : undefined) ?? msg.name ?? nameFromGeneratedId(id);
        if (name === undefined) throw invalid('A tool message must answer an earlier assistant tool call.', `messages[${i}].tool_call_id`);
        push('user', [{ functionResponse: { name, response: toolResponse(msg.content) } }]);
        break;
      }
      default:
        // A role Gemini has no place for (`function`, or one released after this code).
        dropped.push(droppedEntry(`messages[${i}].role`, msg.role));
    }
  });
  return { contents, system };
}

/**
 * The members of Gemini's `Schema` (an OpenAPI 3.0 subset). Anything else (`additionalProperties`,
 * `$schema`, `strict`, `$ref`, ...) makes Gemini answer 400 "Unknown name", so an allowlist is safer
 * than chasing every JSON Schema keyword clients send.
 */
const SCHEMA_KEYS = new Set([
  'type', 'format', 'title', 'description', 'nullable', 'enum', 'maxItems', 'minItems', 'properties', 'required',
  'minProperties', 'maxProperties', 'minLength', 'maxLength', 'pattern', 'example', 'anyOf', 'propertyOrdering',
  'default', 'items', 'minimum', 'maximum',
]);

/** Gemini only accepts these formats and answers 400 for any other (e.g. "uri", "email"). */
const ALLOWED_FORMATS = new Set(['enum', 'date-time', 'int32', 'int64', 'float', 'double']);

/**
 * Cleans a JSON Schema into the subset Gemini's `Schema` accepts, recursively. Property names
 * under `properties` are data, not keywords, so they are kept even when they collide (e.g. a
 * property called "strict"). `oneOf` becomes `anyOf`, `const` becomes a one-value `enum`, and
 * `type: ["string", "null"]` becomes `type: "string", nullable: true`.
 */
function cleanSchema(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(cleanSchema);
  if (!isRecord(schema)) return schema;
  const out: Record<string, unknown> = {};
  for (const [rawKey, value] of Object.entries(schema)) {
    const key = rawKey === 'oneOf' ? 'anyOf' : rawKey === 'const' ? 'enum' : rawKey;
    if (!SCHEMA_KEYS.has(key)) continue;
    if (key === 'format' && (typeof value !== 'string' || !ALLOWED_FORMATS.has(value))) continue;
    if (key === 'properties' && isRecord(value)) {
      out[key] = Object.fromEntries(Object.entries(value).map(([name, sub]) => [name, cleanSchema(sub)]));
    } else if (key === 'type' && Array.isArray(value)) {
      const types = value.filter((t) => t !== 'null');
      if (types.length !== value.length) out['nullable'] = true;
      if (types[0] !== undefined) out[key] = types[0];
    } else if (key === 'enum' && (rawKey === 'const' || Array.isArray(value))) {
      // Gemini enums are string lists; a null member means "nullable".
      const values: unknown[] = Array.isArray(value) && rawKey === 'enum' ? value : [value];
      if (values.includes(null)) out['nullable'] = true;
      const kept = values.filter((v) => v !== null);
      out[key] = kept;
      if (schema['type'] === undefined && kept.every((v) => typeof v === 'string')) out['type'] = 'string';
    } else if (key === 'items' || key === 'anyOf') {
      out[key] = cleanSchema(value);
    } else {
      out[key] = value;
    }
  }
  return out;
}

function functionDeclaration(tool: OpenAITool): Record<string, unknown> {
  const decl: Record<string, unknown> = { name: tool.function.name };
  if (tool.function.description !== undefined) decl['description'] = tool.function.description;
  const params = tool.function.parameters;
  // Gemini rejects an OBJECT schema with no properties; a parameterless function simply omits it.
  const empty = isRecord(params) && params['type'] === 'object' && (!isRecord(params['properties']) || Object.keys(params['properties']).length === 0);
  if (params !== undefined && !empty) decl['parameters'] = cleanSchema(params);
  return decl;
}

function toolConfig(choice: OpenAIToolChoice, dropped: string[]): Record<string, unknown> | undefined {
  if (typeof choice === 'object') {
    if (isRecord(choice.function) && typeof choice.function.name === 'string') return { functionCallingConfig: { mode: 'ANY', allowedFunctionNames: [choice.function.name] } };
    dropped.push(droppedEntry('tool_choice.type', choice.type));
    return undefined;
  }
  const mode = choice === 'required' ? 'ANY' : choice === 'none' ? 'NONE' : 'AUTO';
  return { functionCallingConfig: { mode } };
}

function generationConfig(req: OpenAIChatRequest): Record<string, unknown> {
  const cfg: Record<string, unknown> = {};
  if (req.temperature !== undefined) cfg['temperature'] = req.temperature;
  if (req.top_p !== undefined) cfg['topP'] = req.top_p;
  const max = req.max_completion_tokens ?? req.max_tokens;
  if (max !== undefined) cfg['maxOutputTokens'] = max;
  if (req.stop !== undefined) cfg['stopSequences'] = typeof req.stop === 'string' ? [req.stop] : req.stop;
  if (req.seed !== undefined) cfg['seed'] = req.seed;
  if (req.n !== undefined) cfg['candidateCount'] = req.n;
  const fmt = req.response_format;
  if (fmt?.type === 'json_object') cfg['responseMimeType'] = 'application/json';
  if (fmt?.type === 'json_schema') {
    cfg['responseMimeType'] = 'application/json';
    if (fmt.json_schema.schema !== undefined) cfg['responseSchema'] = cleanSchema(fmt.json_schema.schema);
  }
  return cfg;
}

/**
 * Chat request fields this translation reads (or the gateway consumed before it). Any other
 * top-level field has no Gemini equivalent and is named in `dropped`.
 */
const READ_FIELDS = new Set(['model', 'messages', 'tools', 'tool_choice', 'temperature', 'top_p', 'max_tokens', 'max_completion_tokens', 'stop', 'seed', 'n', 'response_format', 'stream', 'stream_options', 'cache']);

/** A tool that is not a function: OpenAI's web search becomes Gemini's Google Search grounding; others are dropped. */
function otherTool(tool: Record<string, unknown>, i: number, tools: Array<Record<string, unknown>>, dropped: string[]): void {
  const search = readWebSearchTool(tool);
  if (search === 'offline') dropped.push(`tools[${i}].external_web_access=false`);
  else if (search) {
    // Google Search grounding takes no domain or location settings.
    if (search.allowedDomains) dropped.push(`tools[${i}].filters`);
    if (search.userLocation) dropped.push(`tools[${i}].user_location`);
    if (!tools.some((t) => 'google_search' in t)) tools.push({ google_search: {} });
  } else dropped.push(droppedEntry(`tools[${i}].type`, tool['type']));
}

/**
 * OpenAI chat request -> Gemini `generateContent` request body. Pure: no I/O, throws
 * GatewayError(SF_ERR_INVALID_REQUEST) for input Gemini cannot represent (a data URL it cannot
 * read, tool arguments that are not JSON). What Gemini has no equivalent for is left out and
 * named in `dropped` (OpenAI-only fields such as user and logit_bias, which Gemini would reject;
 * unknown roles, content parts and tool types); OpenAI's web search tool becomes `google_search`.
 */
export function translateOpenAIToGemini(req: OpenAIChatRequest, dropped: string[] = []): Record<string, unknown> {
  const { contents, system } = buildContents(req.messages, dropped);
  if (contents.length === 0) throw invalid('messages: no message is left that Gemini models can take; the request needs a user, assistant or tool message.', 'messages');
  for (const key of Object.keys(req)) if (!READ_FIELDS.has(key)) dropped.push(key);
  const body: Record<string, unknown> = { contents };
  if (system.length > 0) body['systemInstruction'] = { parts: system.map((text) => ({ text })) };
  const functions: OpenAITool[] = [];
  const tools: Array<Record<string, unknown>> = [];
  (req.tools ?? []).forEach((t, i) => {
    if (t.type === 'function') functions.push(t);
    else otherTool(t as unknown as Record<string, unknown>, i, tools, dropped);
  });
  if (functions.length > 0) tools.unshift({ functionDeclarations: functions.map(functionDeclaration) });
  if (tools.length > 0) body['tools'] = tools;
  const config = req.tool_choice !== undefined && functions.length > 0 ? toolConfig(req.tool_choice, dropped) : undefined;
  if (config) body['toolConfig'] = config;
  const cfg = generationConfig(req);
  if (Object.keys(cfg).length > 0) body['generationConfig'] = cfg;
  return body;
}
