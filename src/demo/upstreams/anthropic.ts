import { randomUUID } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { pause } from '../../core/cancellation.js';
import { demoAnswer, demoPieces, demoTokens, type DemoTurn } from '../../providers/demo/brain.js';
import { sendJson, startDemoUpstream, startSse, type DemoUpstream } from './serve.js';

function anthropicError(res: ServerResponse, status: number, message: string): void {
  sendJson(res, status, { type: 'error', error: { type: status === 404 ? 'not_found_error' : 'invalid_request_error', message } });
}

type Block = { type?: string; text?: unknown; content?: unknown };

function textOf(content: unknown): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  return (content as Block[])
    .map((b) => (b.type === 'text' && typeof b.text === 'string' ? b.text : b.type === 'tool_result' ? textOf(b.content) : b.type === 'image' || b.type === 'document' ? `[${b.type}]` : ''))
    .filter((t) => t !== '')
    .join(' ');
}

/** An Anthropic Messages request as the demo brain sees it. */
function turnOf(body: Record<string, unknown>): DemoTurn {
  const messages = Array.isArray(body['messages']) ? (body['messages'] as Array<{ role?: string; content?: unknown }>) : [];
  const last = messages[messages.length - 1];
  const toolResult = Array.isArray(last?.content) && (last.content as Block[]).some((b) => b.type === 'tool_result');
  const tools = Array.isArray(body['tools']) ? (body['tools'] as Array<{ name?: unknown; input_schema?: unknown }>) : [];
  return {
    promptText: [textOf(body['system']), ...messages.map((m) => textOf(m.content))].join('\n'),
    last: { kind: toolResult ? 'tool_result' : 'user', text: textOf(last?.content) },
    tools: tools.filter((t) => typeof t.name === 'string' && t.input_schema !== undefined).map((t) => ({ name: t.name as string, parameters: t.input_schema })),
    toolsForbidden: (body['tool_choice'] as { type?: string } | undefined)?.type === 'none',
  };
}

function sse(res: ServerResponse, event: Record<string, unknown> & { type: string }): void {
  res.write(`event: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`);
}

/**
 * A local Anthropic Messages API (`/v1/messages`, streamed or not, `/v1/messages/count_tokens`,
 * `/v1/models`, `/v1/models/{id}`) answered by the demo models, so `/anthropic` and the OpenAI-to-Anthropic translation
 * can be tried without an Anthropic account. Any key is accepted.
 */
export function startDemoAnthropic(options: { models: string[]; chunkDelayMs?: number }): Promise<DemoUpstream> {
  const chunkDelayMs = options.chunkDelayMs ?? 15;
  return startDemoUpstream(async (req, res) => {
    if (req.method === 'GET' && req.path === '/v1/models') {
      const data = options.models.map((id) => ({ type: 'model', id, display_name: id, created_at: '2025-01-01T00:00:00Z' }));
      sendJson(res, 200, { data, has_more: false, first_id: data[0]?.id ?? null, last_id: data.at(-1)?.id ?? null });
      return;
    }
    const one = req.method === 'GET' ? /^\/v1\/models\/([^/]+)$/.exec(req.path) : null;
    if (one && options.models.includes(decodeURIComponent(one[1]!))) {
      const id = decodeURIComponent(one[1]!);
      return sendJson(res, 200, { type: 'model', id, display_name: id, created_at: '2025-01-01T00:00:00Z' });
    }
    if (req.method !== 'POST' || (req.path !== '/v1/messages' && req.path !== '/v1/messages/count_tokens')) {
      return anthropicError(res, 404, `The demo Anthropic upstream has no ${req.method} ${req.path}.`);
    }
    const model = req.body['model'];
    if (typeof model !== 'string' || !Array.isArray(req.body['messages'])) return anthropicError(res, 400, 'model and messages are required');
    const turn = turnOf(req.body);
    if (req.path === '/v1/messages/count_tokens') return sendJson(res, 200, { input_tokens: demoTokens(turn.promptText) });
    if (typeof req.body['max_tokens'] !== 'number') return anthropicError(res, 400, 'max_tokens: Field required');

    const answer = demoAnswer(turn);
    const blocks: Array<{ type: 'text'; text: string } | { type: 'tool_use'; id: string; name: string; input: Record<string, unknown> }> =
      answer.text !== null ? [{ type: 'text', text: answer.text }] : answer.toolCalls.map((c) => ({ type: 'tool_use', id: `toolu_demo_${c.id}`, name: c.name, input: c.arguments }));
    const stopReason = answer.toolCalls.length > 0 ? 'tool_use' : 'end_turn';
    const usage = { input_tokens: answer.usage.input_tokens, cache_creation_input_tokens: 0, cache_read_input_tokens: 0, output_tokens: answer.usage.output_tokens };
    const message = { id: `msg_demo_${randomUUID().replace(/-/g, '')}`, type: 'message', role: 'assistant', model };
    if (req.body['stream'] !== true) return sendJson(res, 200, { ...message, content: blocks, stop_reason: stopReason, stop_sequence: null, usage });

    startSse(res);
    sse(res, { type: 'message_start', message: { ...message, content: [], stop_reason: null, stop_sequence: null, usage: { ...usage, output_tokens: 1 } } });
    for (const [index, block] of blocks.entries()) {
      if (block.type === 'text') {
        sse(res, { type: 'content_block_start', index, content_block: { type: 'text', text: '' } });
        for (const piece of demoPieces(block.text)) {
          if (chunkDelayMs > 0) await pause(chunkDelayMs, req.cancel);
          sse(res, { type: 'content_block_delta', index, delta: { type: 'text_delta', text: piece } });
        }
      } else {
        sse(res, { type: 'content_block_start', index, content_block: { type: 'tool_use', id: block.id, name: block.name, input: {} } });
        sse(res, { type: 'content_block_delta', index, delta: { type: 'input_json_delta', partial_json: JSON.stringify(block.input) } });
      }
      sse(res, { type: 'content_block_stop', index });
    }
    sse(res, { type: 'message_delta', delta: { stop_reason: stopReason, stop_sequence: null }, usage: { output_tokens: usage.output_tokens } });
    sse(res, { type: 'message_stop' });
    res.end();
  }, anthropicError);
}
