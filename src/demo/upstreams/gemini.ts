import type { ServerResponse } from 'node:http';
import { pause } from '../../core/cancellation.js';
import { demoAnswer, demoPieces, demoTokens, demoVector, type DemoTurn } from '../../providers/demo/brain.js';
import { sendJson, startDemoUpstream, startSse, type DemoUpstream } from './serve.js';

function geminiError(res: ServerResponse, status: number, message: string): void {
  sendJson(res, status, { error: { code: status, message, status: status === 404 ? 'NOT_FOUND' : 'INVALID_ARGUMENT' } });
}

type Part = { text?: unknown; functionResponse?: { response?: unknown }; inlineData?: unknown; fileData?: unknown };
type Content = { role?: string; parts?: Part[] };

function textOf(content: Content | undefined): string {
  return (content?.parts ?? [])
    .map((p) => (typeof p.text === 'string' ? p.text : p.functionResponse ? JSON.stringify(p.functionResponse.response ?? {}) : p.inlineData || p.fileData ? '[file]' : ''))
    .filter((t) => t !== '')
    .join(' ');
}

/** A Gemini generateContent request as the demo brain sees it. */
function turnOf(body: Record<string, unknown>): DemoTurn {
  const contents = Array.isArray(body['contents']) ? (body['contents'] as Content[]) : [];
  const last = contents[contents.length - 1];
  const tools = Array.isArray(body['tools']) ? (body['tools'] as Array<{ functionDeclarations?: Array<{ name?: unknown; parameters?: unknown; parametersJsonSchema?: unknown }> }>) : [];
  const declarations = tools.flatMap((t) => t.functionDeclarations ?? []).filter((d) => typeof d.name === 'string');
  const mode = (body['toolConfig'] as { functionCallingConfig?: { mode?: string } } | undefined)?.functionCallingConfig?.mode;
  return {
    promptText: [textOf(body['systemInstruction'] as Content | undefined), ...contents.map(textOf)].join('\n'),
    last: { kind: last?.parts?.some((p) => p.functionResponse) ? 'tool_result' : 'user', text: textOf(last) },
    tools: declarations.map((d) => ({ name: d.name as string, parameters: d.parameters ?? d.parametersJsonSchema })),
    toolsForbidden: mode === 'NONE',
  };
}

const ROUTE = /^\/v1beta\/models\/([^/:]+):(generateContent|streamGenerateContent|embedContent|batchEmbedContents|countTokens)$/;

function embedding(request: { content?: Content; outputDimensionality?: unknown }): { values: number[] } {
  const dims = typeof request.outputDimensionality === 'number' ? Math.min(Math.max(1, Math.floor(request.outputDimensionality)), 4096) : 16;
  return { values: demoVector(textOf(request.content), dims) };
}

/**
 * A local Gemini API (`generateContent`, `streamGenerateContent?alt=sse`, `embedContent`,
 * `batchEmbedContents`, `countTokens`, `GET /v1beta/models`) answered by the demo models, so the
 * OpenAI-to-Gemini translation can be tried without a Google account. Any key is accepted.
 */
export function startDemoGemini(options: { models: Array<{ id: string; embedding: boolean }>; chunkDelayMs?: number }): Promise<DemoUpstream> {
  const chunkDelayMs = options.chunkDelayMs ?? 15;
  return startDemoUpstream(async (req, res) => {
    if (req.method === 'GET' && req.path === '/v1beta/models') {
      const models = options.models.map((m) => ({
        name: `models/${m.id}`,
        displayName: m.id,
        supportedGenerationMethods: m.embedding ? ['embedContent', 'batchEmbedContents'] : ['generateContent', 'countTokens'],
      }));
      return sendJson(res, 200, { models });
    }
    const route = ROUTE.exec(req.path);
    if (req.method !== 'POST' || !route) return geminiError(res, 404, `The demo Gemini upstream has no ${req.method} ${req.path}.`);
    const [, model, method] = route as unknown as [string, string, string];
    if (method === 'embedContent') return sendJson(res, 200, { embedding: embedding(req.body) });
    if (method === 'batchEmbedContents') {
      const requests = Array.isArray(req.body['requests']) ? (req.body['requests'] as Array<Parameters<typeof embedding>[0]>) : [];
      return sendJson(res, 200, { embeddings: requests.map(embedding) });
    }
    if (!Array.isArray(req.body['contents'])) return geminiError(res, 400, '* GenerateContentRequest.contents: contents is not specified');
    const turn = turnOf(req.body);
    if (method === 'countTokens') return sendJson(res, 200, { totalTokens: demoTokens(turn.promptText) });

    const answer = demoAnswer(turn);
    const usageMetadata = { promptTokenCount: answer.usage.input_tokens, candidatesTokenCount: answer.usage.output_tokens, totalTokenCount: answer.usage.input_tokens + answer.usage.output_tokens };
    const candidate = (parts: unknown[], done: boolean) => ({ content: { role: 'model', parts }, index: 0, ...(done ? { finishReason: 'STOP' } : {}) });
    const calls = answer.toolCalls.map((c) => ({ functionCall: { name: c.name, args: c.arguments } }));
    if (method === 'generateContent') {
      return sendJson(res, 200, { candidates: [candidate(answer.text !== null ? [{ text: answer.text }] : calls, true)], usageMetadata, modelVersion: model });
    }
    if (req.query.get('alt') !== 'sse') return geminiError(res, 400, 'The demo Gemini upstream streams only with alt=sse.');
    startSse(res);
    const send = (chunk: unknown) => res.write(`data: ${JSON.stringify(chunk)}\r\n\r\n`);
    const pieces = answer.text !== null ? demoPieces(answer.text) : [];
    for (const [i, piece] of pieces.entries()) {
      if (chunkDelayMs > 0) await pause(chunkDelayMs, req.cancel);
      const done = i === pieces.length - 1;
      send({ candidates: [candidate([{ text: piece }], done)], ...(done ? { usageMetadata } : {}), modelVersion: model });
    }
    if (calls.length > 0) send({ candidates: [candidate(calls, true)], usageMetadata, modelVersion: model });
    res.end();
  }, geminiError);
}
