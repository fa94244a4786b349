import type { ServerResponse } from 'node:http';
import { createDemoAdapter } from '../../providers/demo/adapter.js';
import type { ProviderCall } from '../../providers/adapter.js';
import type { OpenAIChatRequest, OpenAIEmbeddingsRequest } from '../../providers/types.js';
import { sendJson, startDemoUpstream, startSse, type DemoRequest, type DemoUpstream } from './serve.js';

function openaiError(res: ServerResponse, status: number, message: string): void {
  sendJson(res, status, { error: { message, type: 'invalid_request_error', code: null, param: null } });
}

/**
 * A local OpenAI API (`/v1/chat/completions`, `/v1/embeddings`, `/v1/models`) answered by the demo
 * models, so the demo's `openai` provider goes through the gateway's real OpenAI-compatible path.
 */
export function startDemoOpenAI(options: { models: string[]; chunkDelayMs?: number }): Promise<DemoUpstream> {
  const adapter = createDemoAdapter(options.chunkDelayMs === undefined ? {} : { chunkDelayMs: options.chunkDelayMs });
  const callFor = (req: DemoRequest): ProviderCall => {
    const model = String(req.body['model'] ?? '');
    return { requestedModel: model, upstreamModel: model, signal: req.cancel, forwardedHeaders: {} };
  };
  return startDemoUpstream(async (req, res) => {
    if (req.method === 'GET' && req.path === '/v1/models') {
      sendJson(res, 200, { object: 'list', data: options.models.map((id) => ({ id, object: 'model', created: 0, owned_by: 'smartflow-demo' })) });
      return;
    }
    if (req.method === 'POST' && req.path === '/v1/chat/completions') {
      if (!Array.isArray(req.body['messages'])) return openaiError(res, 400, 'messages is required');
      const answer = await adapter.chat(req.body as unknown as OpenAIChatRequest, callFor(req));
      if (answer.kind === 'json') return sendJson(res, 200, answer.body);
      startSse(res);
      for await (const frame of answer.frames) res.write(frame);
      res.end();
      return;
    }
    if (req.method === 'POST' && req.path === '/v1/embeddings' && adapter.embeddings) {
      if (req.body['input'] === undefined) return openaiError(res, 400, 'input is required');
      const answer = await adapter.embeddings(req.body as unknown as OpenAIEmbeddingsRequest, callFor(req));
      return sendJson(res, 200, answer.body);
    }
    openaiError(res, 404, `The demo OpenAI upstream has no ${req.method} ${req.path}.`);
  }, openaiError);
}
