import { GatewayError } from '../../errors/gateway-error.js';
import type { OpenAIChatRequest, OpenAIContentPart, OpenAIMessage, OpenAITool, OpenAIToolCall, OpenAIToolChoice } from '../types.js';
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

function contentParts(content: OpenAIMessage['content'], param: string): GeminiRequestPart[] {
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
      // Silently dropping content would change the prompt's meaning; a clear 400 is kinder.
      throw invalid(`Content part type "${part.type}" is not supported for Gemini models.`, p);
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

function assistantParts(msg: OpenAIMessage, i: number, toolNames: Map<string, string>): GeminiRequestPart[] {
  const parts = contentParts(msg.content, `messages[${i}].content`);
  (msg.tool_calls ?? []).forEach((call: ToolCallWithSignature, j) => {
    toolNames.set(call.id, call.function.name);
    const args = parseArgs(call.function.arguments, `messages[${i}].tool_calls[${j}].function.arguments`);
    const signature = call.extra_content?.google?.thought_signature;
    const part: { functionCall: { name: string; args: Record<string, unknown> }; thoughtSignature?: string } = {
      functionCall: { name: call.function.name, args },
    };
    // Only the first call of a step carries a signature (parallel calls share it).
    if (typeof signature === 'string') part.thoughtSignature = signature;
    else if (j === 0) part.thoughtSignature = SKIP_THOUGHT_SIGNATURE;
    parts.push(part);
  });
  return parts;
}

function buildContents(messages: OpenAIMessage[]): { contents: GeminiContent[]; system: string[] } {
  const contents: GeminiContent[] = [];
  const system: string[] = [];
  const toolNames = new Map<string, string>();
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
        push('user', contentParts(msg.content, `messages[${i}].content`));
        break;
      case 'assistant':
        push('model', assistantParts(msg, i, toolNames));
        break;
      case 'tool': {
        const id = msg.tool_call_id;
        const name = (id !== undefined ? toolNames.get(id) : undefined) ?? msg.name ?? nameFromGeneratedId(id);
        if (name === undefined) throw invalid('A tool message must answer an earlier assistant tool call.', `messages[${i}].tool_call_id`);
        push('user', [{ functionResponse: { name, response: toolResponse(msg.content) } }]);
        break;
      }
      default:
        throw invalid(`Message role "${String(msg.role)}" is not supported.`, `messages[${i}].role`);
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

function toolConfig(choice: OpenAIToolChoice): Record<string, unknown> {
  if (typeof choice === 'object') return { functionCallingConfig: { mode: 'ANY', allowedFunctionNames: [choice.function.name] } };
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
 * OpenAI chat request -> Gemini `generateContent` request body. Pure: no I/O, throws
 * GatewayError(SF_ERR_INVALID_REQUEST) for input Gemini cannot represent. OpenAI-only fields
 * (user, logit_bias, stream_options, ...) are dropped because Gemini rejects unknown fields.
 */
export function translateOpenAIToGemini(req: OpenAIChatRequest): Record<string, unknown> {
  const { contents, system } = buildContents(req.messages);
  const body: Record<string, unknown> = { contents };
  if (system.length > 0) body['systemInstruction'] = { parts: system.map((text) => ({ text })) };
  const functions = (req.tools ?? []).filter((t) => t.type === 'function');
  if (functions.length > 0) body['tools'] = [{ functionDeclarations: functions.map(functionDeclaration) }];
  if (req.tool_choice !== undefined && functions.length > 0) body['toolConfig'] = toolConfig(req.tool_choice);
  const cfg = generationConfig(req);
  if (Object.keys(cfg).length > 0) body['generationConfig'] = cfg;
  return body;
}
