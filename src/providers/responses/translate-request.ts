import { createHash } from 'node:crypto';
import { droppedEntry } from '../dropped.js';
import type { OpenAIChatRequest, OpenAIContentPart, OpenAIMessage } from '../types.js';
import type { ResponsesContentPart, ResponsesRequest } from './schema.js';

/** Content a translated provider cannot reach (a file in OpenAI's file store): the request cannot be served without it. */
export interface Untranslatable {
  param: string;
  message: string;
}

/**
 * A tool as the client named it, where its chat function differs: a namespaced one (chat has no
 * namespaces, so it runs under a joined name) or a custom one (chat has no free-text tools, so it
 * runs as a function taking one string, `input`).
 */
export interface ClientToolName {
  name: string;
  namespace?: string;
  /** A custom tool: its calls go back as `custom_tool_call` items carrying `input`. */
  custom?: true;
}

/** Chat tool names -> the client's tools they stand for, for answers to name calls as the client expects. */
export type ToolNames = ReadonlyMap<string, ClientToolName>;

/** The one parameter a custom tool's function takes: the input the model would have written as free text. */
const CUSTOM_PARAMETERS = {
  type: 'object',
  properties: { input: { type: 'string', description: 'The whole input of the tool, as free text.' } },
  required: ['input'],
};

/** A custom tool's function description: its own, and the grammar its input must follow when it has one. */
function customDescription(t: { description?: string | null; format?: { type: string; syntax?: string; definition?: string } | null }): string {
  const grammar = t.format?.type === 'grammar' && t.format.definition ? `\n\nThe input must follow this ${t.format.syntax ?? ''} grammar:\n${t.format.definition}` : '';
  return `${t.description ?? ''}${grammar}`.trim();
}

/** A Responses request as the chat request the pipeline runs, and what that translation left out. */
export interface ResponsesAsChat {
  chat: OpenAIChatRequest;
  /** What chat has no equivalent for, as `x-smartflow-dropped` entries (docs/responses.md). */
  dropped: string[];
  untranslatable: Untranslatable | null;
  /** The Responses path of each chat tool (`tools[4].tools[1]`), so a provider's drops name the client's field. */
  toolPaths: string[];
  toolNames: ToolNames;
}

/**
 * Responses fields this translation reads or that have no chat-completions meaning. Every other
 * top-level field is copied to the chat request, so the gateway's own `cache` controls and
 * provider-native extras (Anthropic's `thinking`) keep working.
 */
const RESPONSES_FIELDS = new Set([
  'model', 'input', 'instructions', 'stream', 'stream_options', 'max_output_tokens', 'temperature', 'top_p', 'tools', 'tool_choice',
  'parallel_tool_calls', 'text', 'reasoning', 'metadata', 'user', 'store', 'background', 'previous_response_id', 'conversation', 'prompt',
  'include', 'prompt_cache_key', 'prompt_cache_retention', 'prompt_cache_options', 'safety_identifier', 'service_tier', 'top_logprobs',
  'truncation', 'context_management', 'moderation',
]);

/**
 * Responses-only fields with no chat equivalent that ask for something (extra output, a cache
 * routing hint, a service tier): named in `dropped`. The rest of RESPONSES_FIELDS is translated,
 * refused earlier, or (`store`, `stream_options`) the gateway's own business.
 */
const DROPPED_FIELDS = ['include', 'metadata', 'reasoning', 'prompt_cache_key', 'prompt_cache_retention', 'prompt_cache_options', 'safety_identifier', 'service_tier', 'top_logprobs', 'truncation', 'context_management', 'moderation'];

/** Chat message roles; a Responses message with another role has no chat equivalent. */
const CHAT_ROLES = new Set(['user', 'assistant', 'system', 'developer']);

/** Image detail levels chat completions knows; Responses adds `original`, which means "no downscaling". */
const CHAT_DETAIL = new Set(['low', 'high', 'auto']);

/** Anthropic's rule for tool names, the strictest of the translated providers (Gemini: 64 characters too). */
const MAX_TOOL_NAME = 64;

/**
 * The chat name of a namespaced function: `{namespace}__{name}`, reduced to the characters every
 * provider takes; when that is too long or already taken, shortened and made unique by a hash.
 */
function joinedName(namespace: string, name: string, taken: Set<string>): string {
  let joined = `${namespace}__${name}`.replace(/[^a-zA-Z0-9_-]/g, '_');
  if (joined.length > MAX_TOOL_NAME || taken.has(joined)) {
    const hash = createHash('sha256').update(`${namespace}\0${name}`).digest('hex').slice(0, 8);
    joined = `${joined.slice(0, MAX_TOOL_NAME - 9)}_${hash}`;
  }
  taken.add(joined);
  return joined;
}

/**
 * Translates a Responses API request into the chat-completions request the pipeline runs for
 * translated providers (Anthropic, Gemini, demo): `instructions` becomes the system message,
 * input items become messages (function_call items become assistant tool calls, merged into the
 * assistant turn before them; function_call_output items become tool messages), function tools
 * and `tool_choice` take the chat shape, a custom tool becomes a function taking one string
 * (`input`), a namespace's members become functions named `{namespace}__{name}` (`toolNames` maps
 * both back; custom_tool_call items become tool calls too), `text.format` becomes `response_format`,
 * `max_output_tokens` becomes `max_tokens`. Web search tools go on to the provider's translator,
 * which maps them to its own search tool. Reasoning items from earlier turns are left out: they
 * are one model's hidden state. What chat has no equivalent for (other tool types, input items,
 * roles, content parts, tool_choice and format types, Responses-only fields) is left out and
 * named in `dropped`; content the provider cannot reach (files by id or URL) is `untranslatable`.
 * Pure.
 */
export function translateResponsesToChat(req: ResponsesRequest): ResponsesAsChat {
  let untranslatable: Untranslatable | null = null;
  const note = (param: string, message: string) => {
    untranslatable ??= { param, message };
  };
  const dropped: string[] = [];
  const toolPaths: string[] = [];
  const toolNames = new Map<string, ClientToolName>();
  const taken = new Set((req.tools ?? []).flatMap((t) => (t.type === 'function' || t.type === 'custom' ? [t.name] : [])));
  /** Namespace and name -> chat name, for calls in the history and the tools alike. */
  const chatNames = new Map<string, string>();
  const chatName = (namespace: string | undefined, name: string, custom = false): string => {
    if (namespace === undefined) {
      if (custom) toolNames.set(name, { name, custom: true });
      return name;
    }
    const key = `${namespace}\0${name}`;
    let joined = chatNames.get(key);
    if (joined === undefined) {
      joined = joinedName(namespace, name, taken);
      chatNames.set(key, joined);
      toolNames.set(joined, { namespace, name });
    }
    if (custom) toolNames.set(joined, { namespace, name, custom: true });
    return joined;
  };
  /** An assistant tool call, joined to the assistant turn before it: parallel calls, and a call right after the text that announced it, are one turn. */
  const pushCall = (id: string, name: string, args: string) => {
    const call = { id, type: 'function' as const, function: { name, arguments: args } };
    const last = messages[messages.length - 1];
    if (last?.role === 'assistant') last.tool_calls = [...(last.tool_calls ?? []), call];
    else messages.push({ role: 'assistant', content: null, tool_calls: [call] });
  };

  function part(p: ResponsesContentPart, param: string): OpenAIContentPart | null {
    switch (p.type) {
      case 'input_text':
      case 'output_text':
        return { type: 'text', text: p.text };
      case 'refusal':
        return { type: 'refusal', refusal: p.refusal };
      case 'input_image':
        if (typeof p.image_url !== 'string') {
          note(`${param}.file_id`, 'images given by file_id (they live in OpenAI\'s file store)');
          return null;
        }
        return { type: 'image_url', image_url: { url: p.image_url, ...(p.detail && CHAT_DETAIL.has(p.detail) ? { detail: p.detail as 'low' | 'high' | 'auto' } : {}) } };
      case 'input_file':
        if (typeof p.file_data !== 'string') {
          note(param, 'files given by file_id or file_url rather than file_data (OpenAI fetches them)');
          return null;
        }
        return { type: 'file', file: { file_data: p.file_data, ...(typeof p.filename === 'string' ? { filename: p.filename } : {}) } };
      case 'other':
        dropped.push(droppedEntry(`${param}.type`, p.partType));
        return null;
    }
  }

  function content(c: string | ResponsesContentPart[], param: string): string | OpenAIContentPart[] {
    if (typeof c === 'string') return c;
    const parts: OpenAIContentPart[] = [];
    c.forEach((p, j) => {
      const converted = part(p, `${param}[${j}]`);
      if (converted) parts.push(converted);
    });
    return parts;
  }

  const messages: OpenAIMessage[] = [];
  if (typeof req.instructions === 'string' && req.instructions !== '') messages.push({ role: 'system', content: req.instructions });
  if (typeof req.input === 'string') messages.push({ role: 'user', content: req.input });
  else {
    req.input.forEach((item, i) => {
      const param = `input[${i}]`;
      switch (item.type) {
        case 'message':
          if (!CHAT_ROLES.has(item.role)) {
            dropped.push(droppedEntry(`${param}.role`, item.role));
            return;
          }
          messages.push({ role: item.role as OpenAIMessage['role'], content: content(item.content, `${param}.content`) });
          return;
        case 'function_call':
          pushCall(item.call_id, chatName(item.namespace, item.name), item.arguments);
          return;
        case 'custom_tool_call':
          pushCall(item.call_id, chatName(item.namespace, item.name, true), JSON.stringify({ input: item.input }));
          return;
        case 'function_call_output':
        case 'custom_tool_call_output':
          messages.push({ role: 'tool', tool_call_id: item.call_id, content: content(item.output, `${param}.output`) });
          return;
        case 'reasoning':
          return;
        case 'other':
          dropped.push(droppedEntry(`${param}.type`, item.itemType));
          return;
      }
    });
  }

  const chat: OpenAIChatRequest = { model: req.model, messages };
  for (const [key, value] of Object.entries(req)) if (!RESPONSES_FIELDS.has(key)) chat[key] = value;
  if (req.stream === true) {
    chat.stream = true;
    // The Responses stream ends with the usage, so the chat stream under it must carry it.
    chat.stream_options = { include_usage: true };
  }
  if (req.max_output_tokens != null) chat.max_tokens = req.max_output_tokens;
  if (req.temperature != null) chat.temperature = req.temperature;
  if (req.top_p != null) chat.top_p = req.top_p;
  if (req.parallel_tool_calls != null) chat.parallel_tool_calls = req.parallel_tool_calls;
  if (req.user != null) chat.user = req.user;

  if (req.tools) {
    const tools: Array<Record<string, unknown>> = [];
    const fn = (t: { name: string; description?: string | null; parameters?: Record<string, unknown> | null; strict?: boolean | null }, name: string, path: string) => {
      tools.push({
        type: 'function',
        function: {
          name,
          ...(t.description != null ? { description: t.description } : {}),
          ...(t.parameters != null ? { parameters: t.parameters } : {}),
          ...(t.strict != null ? { strict: t.strict } : {}),
        },
      });
      toolPaths.push(path);
    };
    const custom = (t: { name: string; description?: string | null; format?: { type: string; syntax?: string; definition?: string } | null }, namespace: string | undefined, path: string) => {
      const description = customDescription(t);
      fn({ name: t.name, parameters: CUSTOM_PARAMETERS, ...(description !== '' ? { description } : {}) }, chatName(namespace, t.name, true), path);
    };
    req.tools.forEach((t, i) => {
      const path = `tools[${i}]`;
      if (t.type === 'function') fn(t, t.name, path);
      else if (t.type === 'custom') custom(t, undefined, path);
      else if (t.type === 'namespace') {
        t.tools.forEach((inner, j) => {
          if (inner.type === 'function') fn(inner, chatName(t.name, inner.name), `${path}.tools[${j}]`);
          else if (inner.type === 'custom') custom(inner, t.name, `${path}.tools[${j}]`);
          else dropped.push(droppedEntry(`${path}.tools[${j}].type`, inner.toolType));
        });
      } else if (t.toolType.startsWith('web_search')) {
        // The provider's translator knows its own search tool (Anthropic web_search, Gemini google_search).
        tools.push(t.raw);
        toolPaths.push(path);
      } else dropped.push(droppedEntry(`${path}.type`, t.toolType));
    });
    if (tools.length > 0) chat.tools = tools as unknown as OpenAIChatRequest['tools'];
  }

  const choice = req.tool_choice;
  if (choice === 'none' || choice === 'auto' || choice === 'required') chat.tool_choice = choice;
  else if (typeof choice === 'string') dropped.push(droppedEntry('tool_choice', choice));
  // A custom tool runs as a function of its own name, so forcing it forces that function.
  else if (choice?.type === 'function' || choice?.type === 'custom') chat.tool_choice = { type: 'function', function: { name: choice.name } };
  else if (choice) dropped.push(droppedEntry('tool_choice.type', choice.choiceType));

  const format = req.text?.format;
  if (format?.type === 'other') dropped.push(droppedEntry('text.format.type', format.choiceType));
  if (format?.type === 'json_object') chat.response_format = { type: 'json_object' };
  else if (format?.type === 'json_schema') {
    chat.response_format = {
      type: 'json_schema',
      json_schema: {
        name: format.name,
        schema: format.schema,
        ...(format.strict != null ? { strict: format.strict } : {}),
        ...(format.description != null ? { description: format.description } : {}),
      },
    };
  }
  const text = req.text;
  if (text && text['verbosity'] != null) dropped.push('text.verbosity');
  for (const field of DROPPED_FIELDS) if (req[field] != null) dropped.push(field);
  return { chat, dropped, untranslatable, toolPaths, toolNames };
}
