import { GatewayError } from '../../errors/gateway-error.js';
import type { OpenAIChatChunk, OpenAIFinishReason, SseEvent, StreamTranslator, Usage } from '../types.js';
import { anthropicStreamError } from './errors.js';
import type { AnthropicResponseOptions } from './translate-request.js';
import { anthropicUsage, completionId, mapStopReason, openAIUsage } from './translate-response.js';
import { isRecord } from '../wire-utils.js';

/**
 * Anthropic Messages SSE events -> OpenAI chat.completion.chunk objects, one translator per
 * request. Anthropic numbers content blocks (text, thinking, tool_use alike); OpenAI numbers
 * tool calls only, so the translator keeps a map from block index to what the block is.
 */

type Delta = OpenAIChatChunk['choices'][number]['delta'];

/** What an open content block turns into on the OpenAI side. */
type BlockKind = { kind: 'text' } | { kind: 'thinking' } | { kind: 'tool'; toolIndex: number } | { kind: 'json' } | { kind: 'ignored' };

class AnthropicStreamTranslator implements StreamTranslator {
  private id = completionId(undefined);
  private done = false;
  private readonly blocks = new Map<number, BlockKind>();
  private toolCount = 0;
  private current: Usage = { input_tokens: 0, cached_input_tokens: 0, output_tokens: 0, cache_creation_input_tokens: 0 };
  /** Raw Anthropic usage fields, merged as events arrive; message_delta totals are cumulative. */
  private readonly raw: Record<string, unknown> = {};

  constructor(
    private readonly model: string,
    private readonly created: number,
    private readonly opts: AnthropicResponseOptions,
  ) {}

  get finished(): boolean {
    return this.done;
  }

  usage(): Usage {
    return { ...this.current };
  }

  push(event: SseEvent): OpenAIChatChunk[] {
    if (this.done) return [];
    let data: unknown;
    try {
      data = JSON.parse(event.data);
    } catch {
      throw new GatewayError('SF_ERR_UPSTREAM_BAD_RESPONSE', { message: `Anthropic stream: event '${event.event ?? 'message'}' is not JSON` });
    }
    if (!isRecord(data)) return [];
    const type = typeof data['type'] === 'string' ? data['type'] : event.event;
    switch (type) {
      case 'message_start':
        return this.onMessageStart(data['message']);
      case 'content_block_start':
        return this.onBlockStart(data['index'], data['content_block']);
      case 'content_block_delta':
        return this.onBlockDelta(data['index'], data['delta']);
      case 'message_delta':
        return this.onMessageDelta(data['delta'], data['usage']);
      case 'message_stop':
        this.done = true;
        return [{ id: this.id, object: 'chat.completion.chunk', created: this.created, model: this.model, choices: [], usage: openAIUsage(this.current) }];
      case 'error':
        throw anthropicStreamError(data);
      default:
        // ping, content_block_stop and event types added later carry nothing for the client.
        return [];
    }
  }

  private chunk(delta: Delta, finishReason: OpenAIFinishReason | null = null): OpenAIChatChunk {
    return { id: this.id, object: 'chat.completion.chunk', created: this.created, model: this.model, choices: [{ index: 0, delta, finish_reason: finishReason }] };
  }

  private mergeUsage(u: unknown): void {
    if (!isRecord(u)) return;
    // Numbers are running totals; server_tool_use is an object of them (web_search_requests ...).
    for (const [k, v] of Object.entries(u)) if (typeof v === 'number' || (k === 'server_tool_use' && isRecord(v))) this.raw[k] = v;
    this.current = anthropicUsage(this.raw);
  }

  private onMessageStart(message: unknown): OpenAIChatChunk[] {
    if (isRecord(message)) {
      this.id = completionId(message['id']);
      this.mergeUsage(message['usage']);
    }
    // OpenAI streams open with the role, before any content.
    return [this.chunk({ role: 'assistant', content: '' })];
  }

  private onBlockStart(index: unknown, block: unknown): OpenAIChatChunk[] {
    if (typeof index !== 'number' || !isRecord(block)) return [];
    switch (block['type']) {
      case 'text': {
        this.blocks.set(index, { kind: 'text' });
        const text = block['text'];
        return typeof text === 'string' && text !== '' ? [this.chunk({ content: text })] : [];
      }
      case 'thinking':
        this.blocks.set(index, { kind: 'thinking' });
        return [];
      case 'tool_use': {
        if (this.opts.jsonToolName !== undefined && block['name'] === this.opts.jsonToolName) {
          this.blocks.set(index, { kind: 'json' });
          return [];
        }
        const toolIndex = this.toolCount++;
        this.blocks.set(index, { kind: 'tool', toolIndex });
        return [
          this.chunk({
            tool_calls: [{ index: toolIndex, id: String(block['id'] ?? ''), type: 'function', function: { name: String(block['name'] ?? ''), arguments: '' } }],
          }),
        ];
      }
      default:
        this.blocks.set(index, { kind: 'ignored' });
        return [];
    }
  }

  private onBlockDelta(index: unknown, delta: unknown): OpenAIChatChunk[] {
    const block = typeof index === 'number' ? this.blocks.get(index) : undefined;
    if (block === undefined || !isRecord(delta)) return [];
    switch (delta['type']) {
      case 'text_delta': {
        const text = delta['text'];
        return block.kind === 'text' && typeof text === 'string' && text !== '' ? [this.chunk({ content: text })] : [];
      }
      case 'thinking_delta': {
        const thinking = delta['thinking'];
        // Same field as the non-streamed message: reasoning_content.
        return block.kind === 'thinking' && typeof thinking === 'string' && thinking !== '' ? [this.chunk({ reasoning_content: thinking })] : [];
      }
      case 'input_json_delta': {
        const json = delta['partial_json'];
        // Anthropic often opens with an empty partial_json; it carries nothing.
        if (typeof json !== 'string' || json === '') return [];
        if (block.kind === 'json') return [this.chunk({ content: json })];
        if (block.kind === 'tool') return [this.chunk({ tool_calls: [{ index: block.toolIndex, function: { arguments: json } }] })];
        return [];
      }
      default:
        // signature_delta, citations_delta: no OpenAI equivalent.
        return [];
    }
  }

  private onMessageDelta(delta: unknown, usage: unknown): OpenAIChatChunk[] {
    this.mergeUsage(usage);
    const reason = isRecord(delta) ? delta['stop_reason'] : undefined;
    const finish = mapStopReason(reason, this.toolCount > 0);
    return finish === null ? [] : [this.chunk({}, finish)];
  }
}

/**
 * Creates the stream translator for one Anthropic streamed response.
 *
 * The first chunk carries `delta.role: 'assistant'`; tool-call indexes count tool_use blocks
 * only, from 0; thinking deltas become `delta.reasoning_content`; the json_schema answer tool
 * (`opts.jsonToolName`) streams as content. `message_stop` sets `finished` and yields a final
 * `{choices: [], usage}` chunk, always: callers drop it when the client did not ask for
 * `stream_options.include_usage`. An `error` event throws a GatewayError (overloaded_error:
 * status 529, retryable).
 */
export function createAnthropicStreamTranslator(model: string, created: number, opts: AnthropicResponseOptions = {}): StreamTranslator {
  return new AnthropicStreamTranslator(model, created, opts);
}
