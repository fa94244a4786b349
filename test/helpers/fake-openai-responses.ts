import { randomBytes } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { fakeAnswer, fakeTokens, sendJson, sendSse, splitForStream, type RecordedRequest, type Steering } from './fake-upstream.js';

/**
 * OpenAI's Responses API for the fake OpenAI upstream (`POST /v1/responses`), answering the way
 * its chat endpoint does: `Echo: <last user text>`; a call of the first function tool with
 * `{"query": <last user text>}` when tools are offered to a user turn; `Tool said: <output>`
 * after a function_call_output. JSON, or SSE events with `event:` lines and sequence numbers.
 * A request with `reasoning` gets a reasoning item (with `encrypted_content` when `include` asks
 * for it) before the message, as reasoning models answer; one offering a web_search tool gets a
 * `web_search_call` item before the answer, as OpenAI's hosted search adds one per search.
 */

function partsText(content: unknown): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  return content.filter((p: any) => p?.type === 'input_text' || p?.type === 'output_text').map((p: any) => p.text).join(' ');
}

function lastUserText(input: unknown): string {
  if (typeof input === 'string') return input;
  const items = Array.isArray(input) ? input : [];
  for (let i = items.length - 1; i >= 0; i--) {
    const item = items[i];
    if ((item?.type ?? 'message') === 'message' && item.role === 'user') return partsText(item.content);
  }
  return '';
}

export function responses(req: RecordedRequest, s: Steering, res: ServerResponse): Promise<void> | void {
  const body = req.body;
  const hex = randomBytes(8).toString('hex');
  const input = body.input;
  const last = Array.isArray(input) ? input[input.length - 1] : undefined;
  const tool = (body.tools ?? []).find((t: any) => t.type === 'function' && (s.toolName === undefined || t.name === s.toolName));
  const lastIsUser = typeof input === 'string' || ((last?.type ?? 'message') === 'message' && last?.role === 'user');
  const callTool = tool && (lastIsUser || (s.alwaysTool && last?.type === 'function_call_output')) && body.tool_choice !== 'none' && !s.noToolCall;
  // OpenAI runs its own web search before it answers, and bills it per call.
  const searches = (body.tools ?? []).some((t: any) => typeof t?.type === 'string' && t.type.startsWith('web_search')) && !callTool;
  const userText = lastUserText(input);
  const text = last?.type === 'function_call_output' ? `Tool said: ${typeof last.output === 'string' ? last.output : JSON.stringify(last.output)}` : fakeAnswer(userText);
  const args = s.toolArgs ?? JSON.stringify({ query: userText });
  const inputTokens = fakeTokens(JSON.stringify([body.instructions ?? '', input]));
  const outputTokens = callTool ? fakeTokens(args) : fakeTokens(text);
  const usage = { input_tokens: inputTokens, input_tokens_details: { cached_tokens: 0 }, output_tokens: outputTokens, output_tokens_details: { reasoning_tokens: body.reasoning ? 1 : 0 }, total_tokens: inputTokens + outputTokens };

  const output: any[] = [];
  if (body.reasoning) {
    const encrypted = Array.isArray(body.include) && body.include.includes('reasoning.encrypted_content');
    output.push({ id: `rs_${hex}`, type: 'reasoning', summary: [], ...(encrypted ? { encrypted_content: `enc_${hex}` } : {}) });
  }
  if (searches) output.push({ id: `ws_${hex}`, type: 'web_search_call', status: 'completed', action: { type: 'search', query: userText } });
  if (callTool) output.push({ id: `fc_${hex}`, type: 'function_call', status: 'completed', arguments: args, call_id: `call_${hex}`, name: tool.name });
  else output.push({ id: `msg_${hex}`, type: 'message', status: 'completed', role: 'assistant', content: [{ type: 'output_text', text, annotations: [], logprobs: [] }] });

  const response = (status: string, out: any[], u: unknown) => ({
    id: `resp_${hex}`,
    object: 'response',
    created_at: 1_700_000_000,
    status,
    error: null,
    incomplete_details: null,
    instructions: body.instructions ?? null,
    model: `${body.model}-2025-01-01`,
    output: out,
    parallel_tool_calls: true,
    store: body.store ?? true,
    tools: body.tools ?? [],
    usage: u,
  });
  // Servers that report no usage leave the field out (x-fake-no-usage).
  const reported = s.noUsage ? undefined : usage;
  if (!body.stream) return sendJson(res, 200, response('completed', output, reported));

  let seq = 0;
  const events: Array<{ event: string; data: string }> = [];
  const emit = (type: string, fields: Record<string, unknown>) => events.push({ event: type, data: JSON.stringify({ type, sequence_number: seq++, ...fields }) });
  emit('response.created', { response: response('in_progress', [], null) });
  emit('response.in_progress', { response: response('in_progress', [], null) });
  output.forEach((item, output_index) => {
    if (item.type === 'message') {
      emit('response.output_item.added', { output_index, item: { ...item, status: 'in_progress', content: [] } });
      emit('response.content_part.added', { item_id: item.id, output_index, content_index: 0, part: { type: 'output_text', text: '', annotations: [], logprobs: [] } });
      for (const delta of splitForStream(text)) emit('response.output_text.delta', { item_id: item.id, output_index, content_index: 0, delta, logprobs: [] });
      emit('response.output_text.done', { item_id: item.id, output_index, content_index: 0, text, logprobs: [] });
      emit('response.content_part.done', { item_id: item.id, output_index, content_index: 0, part: item.content[0] });
    } else if (item.type === 'function_call') {
      emit('response.output_item.added', { output_index, item: { ...item, status: 'in_progress', arguments: '' } });
      for (const delta of args.match(/.{1,8}/g) ?? []) emit('response.function_call_arguments.delta', { item_id: item.id, output_index, delta });
      emit('response.function_call_arguments.done', { item_id: item.id, output_index, name: item.name, arguments: args });
    } else {
      emit('response.output_item.added', { output_index, item });
    }
    emit('response.output_item.done', { output_index, item });
  });
  emit('response.completed', { response: response('completed', output, reported) });
  return sendSse(res, events, s);
}
