import type { OpenAIChatRequest, OpenAIContentPart, OpenAIMessage, OpenAITool } from '../types.js';
import type { ResponsesContentPart, ResponsesRequest } from './schema.js';

/** The first part of a request that only an OpenAI-compatible upstream can take as it is. */
export interface Untranslatable {
  param: string;
  message: string;
}

/** A Responses request as the chat request the pipeline runs, and what that translation had to leave out. */
export interface ResponsesAsChat {
  chat: OpenAIChatRequest;
  untranslatable: Untranslatable | null;
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

/** Image detail levels chat completions knows; Responses adds `original`, which means "no downscaling". */
const CHAT_DETAIL = new Set(['low', 'high', 'auto']);

/**
 * Translates a Responses API request into the chat-completions request the pipeline runs for
 * translated providers (Anthropic, Gemini, demo): `instructions` becomes the system message,
 * input items become messages (function_call items become assistant tool calls, merged into the
 * assistant turn before them; function_call_output items become tool messages), function tools
 * and `tool_choice` take the chat shape, `text.format` becomes `response_format`,
 * `max_output_tokens` becomes `max_tokens`. Reasoning items from earlier turns are dropped: they
 * are one model's hidden state and no translated provider can read them. Anything with no chat
 * equivalent is left out and reported as `untranslatable`, so a translated provider can refuse
 * the request while an OpenAI-compatible one serves it natively. Pure.
 */
export function translateResponsesToChat(req: ResponsesRequest): ResponsesAsChat {
  let untranslatable: Untranslatable | null = null;
  const note = (param: string, message: string) => {
    untranslatable ??= { param, message };
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
          messages.push({ role: item.role, content: content(item.content, `${param}.content`) });
          return;
        case 'function_call': {
          const call = { id: item.call_id, type: 'function' as const, function: { name: item.name, arguments: item.arguments } };
          // Parallel calls, and a call right after the text that announced it, are one assistant turn.
          const last = messages[messages.length - 1];
          if (last?.role === 'assistant') last.tool_calls = [...(last.tool_calls ?? []), call];
          else messages.push({ role: 'assistant', content: null, tool_calls: [call] });
          return;
        }
        case 'function_call_output':
          messages.push({ role: 'tool', tool_call_id: item.call_id, content: content(item.output, `${param}.output`) });
          return;
        case 'reasoning':
          return;
        case 'native':
          note(param, `input items of type "${item.itemType}"`);
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
    const tools: OpenAITool[] = [];
    req.tools.forEach((t, i) => {
      if (t.type === 'native') {
        note(`tools[${i}]`, `tools of type "${t.toolType}"`);
        return;
      }
      tools.push({
        type: 'function',
        function: {
          name: t.name,
          ...(t.description != null ? { description: t.description } : {}),
          ...(t.parameters != null ? { parameters: t.parameters } : {}),
          ...(t.strict != null ? { strict: t.strict } : {}),
        },
      });
    });
    if (tools.length > 0) chat.tools = tools;
  }

  const choice = req.tool_choice;
  if (typeof choice === 'string') chat.tool_choice = choice;
  else if (choice?.type === 'function') chat.tool_choice = { type: 'function', function: { name: choice.name } };
  else if (choice) note('tool_choice', `tool_choice of type "${choice.type}"`);

  const format = req.text?.format;
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
  return { chat, untranslatable };
}
