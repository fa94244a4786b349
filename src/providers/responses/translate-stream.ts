import { GatewayError } from '../../errors/gateway-error.js';
import type { OpenAIChatChunk, OpenAIChunkToolCallDelta, OpenAIFinishReason } from '../types.js';
import { EventSequence, type ResponsesEvent } from './events.js';
import { callNames, clientTool, customInput, itemId, responseObject, responsesUsage, type ResponseMeta, type ResponsesOutputItem, type ResponsesUsage } from './response-object.js';
import { outputText, responseEnd } from './translate-response.js';

/**
 * The output item being streamed: a message's text, reasoning text, one function call's arguments,
 * or one custom tool call's (the arguments of the function it runs as, whose `input` is sent when
 * the call is complete: a prefix of JSON is not a prefix of the input).
 */
interface OpenItem {
  kind: 'message' | 'reasoning' | 'call' | 'custom';
  outputIndex: number;
  id: string;
  /** The text so far, or the call's arguments so far. */
  text: string;
  callId: string;
  name: string;
}

/**
 * Turns the chat chunks of a translated provider's stream into Responses API streaming events.
 * Created per request; stateful (open item, output so far, sequence numbers). Pure: no I/O, ids
 * and time come from `meta`, so golden tests pin every event.
 */
export interface ResponsesStreamTranslator {
  /** Events for one chat chunk; the first call also opens the response (response.created, response.in_progress). */
  push(chunk: OpenAIChatChunk): ResponsesEvent[];
  /** The closing events once the chat stream ended cleanly: the open item's done events and response.completed (or response.incomplete). */
  finish(): ResponsesEvent[];
}

/**
 * Items are streamed one at a time, as OpenAI streams them: text, reasoning and each tool call
 * get their own output item, and a new item closes the one before it. Only the first choice is
 * used. The usage comes from the chat stream's usage chunk.
 */
export function createResponsesStreamTranslator(meta: ResponseMeta): ResponsesStreamTranslator {
  const seq = new EventSequence();
  const output: ResponsesOutputItem[] = [];
  const calls = new Map<number, OpenItem>();
  let started = false;
  let open: OpenItem | null = null;
  let finish: OpenAIFinishReason | null = null;
  let usage: ResponsesUsage | null = null;

  function begin(): ResponsesEvent[] {
    if (started) return [];
    started = true;
    const response = responseObject(meta, 'in_progress', [], null);
    return [seq.event('response.created', { response }), seq.event('response.in_progress', { response })];
  }

  function openItem(kind: OpenItem['kind'], callId = '', name = ''): { item: OpenItem; events: ResponsesEvent[] } {
    const events = close('completed');
    const outputIndex = output.length;
    const prefix = kind === 'message' ? 'msg' : kind === 'reasoning' ? 'rs' : kind === 'custom' ? 'ctc' : 'fc';
    const type = kind === 'call' ? 'function_call' : kind === 'custom' ? 'custom_tool_call' : kind;
    const item: OpenItem = { kind, outputIndex, id: itemId(prefix, meta, outputIndex), text: '', callId, name };
    // Reserve the index: the finished item replaces this placeholder when it closes.
    output.push({ type, id: item.id });
    open = item;
    const at = { output_index: outputIndex };
    if (kind === 'call') {
      events.push(seq.event('response.output_item.added', { ...at, item: { type, id: item.id, call_id: callId, ...callNames(clientTool(name, meta)), arguments: '', status: 'in_progress' } }));
    } else if (kind === 'custom') {
      events.push(seq.event('response.output_item.added', { ...at, item: { type, id: item.id, call_id: callId, ...callNames(clientTool(name, meta)), input: '', status: 'in_progress' } }));
    } else if (kind === 'message') {
      events.push(seq.event('response.output_item.added', { ...at, item: { type: 'message', id: item.id, status: 'in_progress', role: 'assistant', content: [] } }));
      events.push(seq.event('response.content_part.added', { item_id: item.id, ...at, content_index: 0, part: outputText('') }));
    } else {
      events.push(seq.event('response.output_item.added', { ...at, item: { type: 'reasoning', id: item.id, summary: [], content: [] } }));
      events.push(seq.event('response.content_part.added', { item_id: item.id, ...at, content_index: 0, part: { type: 'reasoning_text', text: '' } }));
    }
    return { item, events };
  }

  function close(status: 'completed' | 'incomplete'): ResponsesEvent[] {
    const item = open;
    if (!item) return [];
    open = null;
    const ref = { item_id: item.id, output_index: item.outputIndex };
    let done: ResponsesOutputItem;
    const events: ResponsesEvent[] = [];
    if (item.kind === 'call') {
      const names = callNames(clientTool(item.name, meta));
      done = { type: 'function_call', id: item.id, call_id: item.callId, ...names, arguments: item.text, status };
      events.push(seq.event('response.function_call_arguments.done', { ...ref, ...names, arguments: item.text }));
    } else if (item.kind === 'custom') {
      const input = customInput(item.text);
      done = { type: 'custom_tool_call', id: item.id, call_id: item.callId, ...callNames(clientTool(item.name, meta)), input, status };
      if (input !== '') events.push(seq.event('response.custom_tool_call_input.delta', { ...ref, delta: input }));
      events.push(seq.event('response.custom_tool_call_input.done', { ...ref, input }));
    } else if (item.kind === 'message') {
      const part = outputText(item.text);
      done = { type: 'message', id: item.id, status, role: 'assistant', content: [part] };
      events.push(seq.event('response.output_text.done', { ...ref, content_index: 0, text: item.text, logprobs: [] }));
      events.push(seq.event('response.content_part.done', { ...ref, content_index: 0, part }));
    } else {
      const part = { type: 'reasoning_text', text: item.text };
      done = { type: 'reasoning', id: item.id, summary: [], content: [part] };
      events.push(seq.event('response.reasoning_text.done', { ...ref, content_index: 0, text: item.text }));
      events.push(seq.event('response.content_part.done', { ...ref, content_index: 0, part }));
    }
    output[item.outputIndex] = done;
    events.push(seq.event('response.output_item.done', { output_index: item.outputIndex, item: done }));
    return events;
  }

  function text(kind: 'message' | 'reasoning', delta: string): ResponsesEvent[] {
    const events: ResponsesEvent[] = [];
    let item = open;
    if (item?.kind !== kind) {
      const opened = openItem(kind);
      item = opened.item;
      events.push(...opened.events);
    }
    item.text += delta;
    const type = kind === 'message' ? 'response.output_text.delta' : 'response.reasoning_text.delta';
    events.push(seq.event(type, { item_id: item.id, output_index: item.outputIndex, content_index: 0, delta, ...(kind === 'message' ? { logprobs: [] } : {}) }));
    return events;
  }

  function toolCall(tc: OpenAIChunkToolCallDelta): ResponsesEvent[] {
    const events: ResponsesEvent[] = [];
    let item = calls.get(tc.index);
    if (!item) {
      const name = tc.function?.name ?? '';
      const opened = openItem(clientTool(name, meta).custom ? 'custom' : 'call', tc.id ?? '', name);
      item = opened.item;
      calls.set(tc.index, item);
      events.push(...opened.events);
    } else if (item !== open) {
      // Translated providers stream one call after another; a call that resumes after the next began cannot be one item.
      throw new GatewayError('SF_ERR_UPSTREAM_BAD_RESPONSE', { message: `The provider's stream went back to tool call ${tc.index} after the next item had started.` });
    }
    const delta = tc.function?.arguments;
    if (delta) {
      item.text += delta;
      if (item.kind === 'call') events.push(seq.event('response.function_call_arguments.delta', { item_id: item.id, output_index: item.outputIndex, delta }));
    }
    return events;
  }

  return {
    push(chunk) {
      const events = begin();
      if (chunk.usage) usage = responsesUsage(chunk.usage);
      const choice = chunk.choices.find((c) => c.index === 0);
      if (!choice) return events;
      const delta = choice.delta ?? {};
      const reasoning = delta['reasoning_content'];
      if (typeof reasoning === 'string' && reasoning !== '') events.push(...text('reasoning', reasoning));
      if (typeof delta.content === 'string' && delta.content !== '') events.push(...text('message', delta.content));
      for (const tc of delta.tool_calls ?? []) events.push(...toolCall(tc));
      if (choice.finish_reason) finish = choice.finish_reason;
      return events;
    },
    finish() {
      const events = begin();
      const { status, incomplete } = responseEnd(finish);
      events.push(...close(status === 'completed' ? 'completed' : 'incomplete'));
      const response = responseObject(meta, status, output, usage);
      response.incomplete_details = incomplete;
      events.push(seq.event(status === 'completed' ? 'response.completed' : 'response.incomplete', { response }));
      return events;
    },
  };
}
