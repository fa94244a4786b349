import type { GatewayRequest } from '../pipeline/types.js';
import type { OpenAIMessage } from '../providers/types.js';
import type { AnthropicMessagesRequest } from '../schemas/anthropic-requests.js';

/** The most a request can use, reserved against budgets and token rate limits before it is sent. */
export interface WorstCase {
  inputTokens: number;
  outputTokens: number;
}

/**
 * Tokenizers in use need at least two UTF-8 bytes per token on ordinary text (English runs at
 * about four, CJK at about three), so bytes / 2 stays above the real count without a tokenizer.
 */
const BYTES_PER_TOKEN = 2;
/** Role markers and separators every chat format adds per message (OpenAI's is 3-4, plus the role). */
const TOKENS_PER_MESSAGE = 8;
/** The tokens that prime the assistant's reply. */
const TOKENS_PER_REPLY = 3;
/** Above what OpenAI, Anthropic and Gemini charge for one image at their largest size. */
const TOKENS_PER_IMAGE = 2_500;

function textTokens(text: string): number {
  return Math.ceil(Buffer.byteLength(text, 'utf8') / BYTES_PER_TOKEN);
}

function messageTokens(message: OpenAIMessage): number {
  let tokens = TOKENS_PER_MESSAGE;
  const content = message.content;
  if (typeof content === 'string') tokens += textTokens(content);
  else if (Array.isArray(content)) {
    for (const part of content) {
      if (part.type === 'text' && typeof part.text === 'string') tokens += textTokens(part.text);
      // A base64 image's size says nothing about its token count; providers bill images by dimensions.
      else if (part.type === 'image_url' || part.type === 'image') tokens += TOKENS_PER_IMAGE;
      else tokens += textTokens(JSON.stringify(part));
    }
  }
  if (message.tool_calls) tokens += textTokens(JSON.stringify(message.tool_calls));
  if (typeof message.name === 'string') tokens += textTokens(message.name);
  return tokens;
}

/** Tokens of an Anthropic content block list (or string): text by size, images and documents at the flat rate. */
function blockTokens(content: unknown): number {
  if (typeof content === 'string') return textTokens(content);
  if (!Array.isArray(content)) return 0;
  let tokens = 0;
  for (const block of content as Array<{ type?: unknown; text?: unknown }>) {
    if (block.type === 'text' && typeof block.text === 'string') tokens += textTokens(block.text);
    else if (block.type === 'image' || block.type === 'document') tokens += TOKENS_PER_IMAGE;
    else tokens += textTokens(JSON.stringify(block));
  }
  return tokens;
}

/** Anthropic Messages: input by size as for chat, output exactly `max_tokens` (which Anthropic requires). */
function messagesWorstCase(body: AnthropicMessagesRequest): WorstCase {
  let inputTokens = TOKENS_PER_REPLY + blockTokens(body.system);
  for (const message of body.messages) inputTokens += TOKENS_PER_MESSAGE + blockTokens(message.content);
  if (body['tools'] !== undefined) inputTokens += textTokens(JSON.stringify(body['tools']));
  return { inputTokens, outputTokens: body.max_tokens };
}

/**
 * An upper bound on the tokens a request may use: input estimated from its size, output from
 * `max_completion_tokens` / `max_tokens`, else the model's output limit, times `n` choices.
 */
export function worstCaseTokens(request: GatewayRequest, modelOutputLimit: number): WorstCase {
  if (request.operation === 'embeddings') {
    const input = request.body.input;
    let inputTokens = 0;
    if (typeof input === 'string') inputTokens = textTokens(input);
    else {
      for (const item of input) {
        if (typeof item === 'string') inputTokens += textTokens(item);
        else if (Array.isArray(item)) inputTokens += item.length;
        else inputTokens += 1;
      }
    }
    return { inputTokens, outputTokens: 0 };
  }
  if (request.operation === 'messages') return messagesWorstCase(request.body);
  const body = request.body;
  let inputTokens = TOKENS_PER_REPLY;
  for (const message of body.messages) inputTokens += messageTokens(message);
  if (body.tools) inputTokens += textTokens(JSON.stringify(body.tools));
  if (body.response_format) inputTokens += textTokens(JSON.stringify(body.response_format));
  const perChoice = body.max_completion_tokens ?? body.max_tokens ?? modelOutputLimit;
  const choices = typeof body.n === 'number' && body.n > 1 ? body.n : 1;
  return { inputTokens, outputTokens: perChoice * choices };
}
