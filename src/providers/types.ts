import type { GatewayError } from '../errors/gateway-error.js';

/**
 * The gateway's canonical request and response formats are OpenAI Chat Completions.
 * Adapters for other providers translate to and from these shapes. The types are loose
 * on purpose: unknown fields must survive the trip to OpenAI-compatible upstreams.
 */

export type OpenAIContentPart =
  | { type: 'text'; text: string }
  | { type: 'image_url'; image_url: { url: string; detail?: 'auto' | 'low' | 'high' } }
  | { type: string; [key: string]: unknown };

export interface OpenAIToolCall {
  id: string;
  type: 'function';
  function: { name: string; arguments: string };
}

export interface OpenAIMessage {
  role: 'system' | 'developer' | 'user' | 'assistant' | 'tool';
  content?: string | OpenAIContentPart[] | null;
  name?: string;
  tool_calls?: OpenAIToolCall[];
  tool_call_id?: string;
  [key: string]: unknown;
}

export interface OpenAITool {
  type: 'function';
  function: { name: string; description?: string; parameters?: Record<string, unknown>; strict?: boolean };
}

export type OpenAIToolChoice = 'none' | 'auto' | 'required' | { type: 'function'; function: { name: string } };

export type OpenAIResponseFormat =
  | { type: 'text' }
  | { type: 'json_object' }
  | { type: 'json_schema'; json_schema: { name: string; schema?: Record<string, unknown>; strict?: boolean; description?: string } };

export interface OpenAIChatRequest {
  model: string;
  messages: OpenAIMessage[];
  stream?: boolean;
  stream_options?: { include_usage?: boolean; [key: string]: unknown };
  max_tokens?: number;
  max_completion_tokens?: number;
  temperature?: number;
  top_p?: number;
  stop?: string | string[];
  tools?: OpenAITool[];
  tool_choice?: OpenAIToolChoice;
  response_format?: OpenAIResponseFormat;
  seed?: number;
  n?: number;
  user?: string;
  [key: string]: unknown;
}

export type OpenAIFinishReason = 'stop' | 'length' | 'tool_calls' | 'content_filter' | 'function_call';

export interface OpenAIUsage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  prompt_tokens_details?: { cached_tokens?: number; [key: string]: unknown };
  [key: string]: unknown;
}

export interface OpenAIChatCompletion {
  id: string;
  object: 'chat.completion';
  created: number;
  model: string;
  choices: Array<{
    index: number;
    message: { role: 'assistant'; content: string | null; tool_calls?: OpenAIToolCall[]; refusal?: string | null; [key: string]: unknown };
    finish_reason: OpenAIFinishReason | null;
    logprobs?: unknown;
  }>;
  usage?: OpenAIUsage;
  [key: string]: unknown;
}

export interface OpenAIChunkToolCallDelta {
  index: number;
  id?: string;
  type?: 'function';
  function?: { name?: string; arguments?: string };
}

export interface OpenAIChatChunk {
  id: string;
  object: 'chat.completion.chunk';
  created: number;
  model: string;
  choices: Array<{
    index: number;
    delta: { role?: 'assistant'; content?: string | null; tool_calls?: OpenAIChunkToolCallDelta[]; [key: string]: unknown };
    finish_reason: OpenAIFinishReason | null;
    logprobs?: unknown;
  }>;
  usage?: OpenAIUsage | null;
  [key: string]: unknown;
}

export interface OpenAIEmbeddingsRequest {
  model: string;
  input: string | string[] | number[] | number[][];
  encoding_format?: 'float' | 'base64';
  dimensions?: number;
  user?: string;
  [key: string]: unknown;
}

export interface OpenAIEmbeddingsResponse {
  object: 'list';
  data: Array<{ object: 'embedding'; index: number; embedding: number[] | string }>;
  model: string;
  usage: { prompt_tokens: number; total_tokens: number };
}

/** Token counts in the gateway's own vocabulary; cached input tokens are a subset of input tokens. */
export interface Usage {
  input_tokens: number;
  cached_input_tokens: number;
  output_tokens: number;
  /** Anthropic prompt-cache writes, billed above the input price; 0 elsewhere. */
  cache_creation_input_tokens?: number;
  /**
   * Hosted (server-side) tool calls the provider ran and bills per call, by kind: `web_search`,
   * `web_fetch`, `code_execution`, `file_search` ... Priced by the model's `per_call` table.
   */
  server_tool_calls?: Record<string, number>;
  /** True when the provider reported no usage and these counts are the gateway's own estimate. */
  estimated?: boolean;
}


/** A provider as configured: where it lives and how to authenticate. */
export interface ProviderConfig {
  name: string;
  type: 'openai' | 'anthropic' | 'gemini' | 'demo';
  base_url: string;
  api_key?: string | undefined;
  /** Extra headers sent on every upstream request (e.g. OpenAI-Organization, anthropic-beta). */
  headers: Record<string, string>;
  /** Client request headers (exact names or `prefix-*` patterns) copied to the upstream. Empty by default. */
  forward_headers: string[];
  /** Azure OpenAI: authenticate with `api-key` instead of `Authorization: Bearer`. */
  auth_header?: 'authorization' | 'api-key' | undefined;
  /** Query string parameters added to OpenAI-compatible upstream URLs (Azure OpenAI's api-version). */
  query?: Record<string, string> | undefined;
  timeout_ms: number;
  /** OpenAI-compatible providers: how /v1/responses requests reach them (their own /responses, or translated to chat). */
  responses_api: 'native' | 'chat';
}

/** An HTTP request to an upstream, produced by a pure translator; the adapter adds nothing but transport. */
export interface UpstreamRequest {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE' | 'HEAD';
  /** Full URL. */
  url: string;
  headers: Record<string, string>;
  body?: string;
}

/** One parsed Server-Sent Event from an upstream. */
export interface SseEvent {
  event?: string;
  data: string;
}

/**
 * Translates one provider's streaming events into OpenAI chat.completion.chunk objects.
 * Created per request; stateful (tool-call indexes, usage totals).
 */
export interface StreamTranslator {
  /** Feed one upstream event; returns the chunks to send to the client (possibly none). Throws GatewayError on an in-stream error event. */
  push(event: SseEvent): OpenAIChatChunk[];
  /** True once the upstream has sent its terminal event; a stream that ends before this was interrupted. */
  readonly finished: boolean;
  /** Usage seen so far (final once finished). */
  usage(): Usage;
}

/**
 * The pure translation layer for a non-OpenAI provider: no I/O, no clocks except `created`
 * timestamps passed in, so golden tests can pin every byte.
 */
export interface ChatTranslator {
  /**
   * OpenAI request -> upstream HTTP request (URL, headers with auth, body). What the provider has
   * no equivalent for is left out and named in `dropped`, when given (docs/passthrough.md).
   */
  toUpstreamRequest(req: OpenAIChatRequest, upstreamModel: string, provider: ProviderConfig, dropped?: string[]): UpstreamRequest;
  /**
   * Upstream JSON body -> OpenAI chat completion plus usage. `model` is the name the client asked for;
   * `req` is the client's request, for translations that depend on it (emulated response_format).
   */
  fromUpstreamResponse(body: unknown, model: string, created: number, req?: OpenAIChatRequest): { completion: OpenAIChatCompletion; usage: Usage };
  createStreamTranslator(model: string, created: number, req?: OpenAIChatRequest): StreamTranslator;
  /** Upstream error response -> GatewayError with the upstream status preserved. */
  fromUpstreamError(status: number, body: string, headers: Record<string, string | string[] | undefined>): GatewayError;
}
