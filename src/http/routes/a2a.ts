import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import secureJson from 'secure-json-parse';
import type { AgentRegistry } from '../../a2a/agent-registry.js';
import { agentCard, gatewayCard } from '../../a2a/agent-card.js';
import { RemoteAgents, rewriteCard } from '../../a2a/remote-agent.js';
import type { A2aService, Caller, StreamItem } from '../../a2a/a2a-service.js';
import { eventOut, isObject, resolveMethod, sendResultOut, taskOut, type Dialect, type Operation } from '../../a2a/dialects.js';
import { RpcError, rpcErrorBody } from '../../a2a/rpc-errors.js';
import { listParams, pushParams, sendParams, taskIdParams } from '../../a2a/rpc-params.js';
import { pushRpc } from '../../a2a/push-rpc.js';
import { taskView, type Json } from '../../a2a/task-model.js';
import { Cancellation } from '../../core/cancellation.js';
import type { Authenticator } from '../../keys/authenticator.js';
import { TERMINAL_STATES } from '../../a2a/task-model.js';
import type { z } from 'zod';

export interface A2aRouteDeps {
  agents: AgentRegistry;
  service: A2aService;
  authenticator: Authenticator;
  /** `a2a.public_url`: the base URL cards name; else the request's own. */
  publicUrl: string | undefined;
}

const TRACE_HEADER = 'x-a2a-trace-id';
const SAFE_TRACE_ID = /^[A-Za-z0-9._:-]{1,128}$/;

type RpcId = string | number | null;

/** The caller's protocol version: `A2A-Version` header or query; absent means 0.3 (spec §3.6). */
function versionOf(request: FastifyRequest): '0.3' | '1.0' | undefined {
  const query = (request.query as Record<string, unknown> | undefined)?.['A2A-Version'];
  const raw = request.headers['a2a-version'] ?? (typeof query === 'string' ? query : undefined);
  const value = (Array.isArray(raw) ? raw[0] : raw)?.trim();
  if (value === undefined || value === '') return '0.3';
  if (/^1\.0(\.\d+)?$/.test(value)) return '1.0';
  if (/^0\.[23](\.\d+)?$/.test(value)) return '0.3';
  return undefined;
}

function baseUrl(request: FastifyRequest, publicUrl: string | undefined): string {
  if (publicUrl) return publicUrl.replace(/\/+$/, '');
  return `${request.protocol}://${request.host}`;
}

/** The trace id a request carries, or a new one; returned on every A2A response. */
function traceIdOf(request: FastifyRequest): string {
  const raw = request.headers[TRACE_HEADER];
  const value = Array.isArray(raw) ? raw[0] : raw;
  return value !== undefined && SAFE_TRACE_ID.test(value) ? value : crypto.randomUUID();
}

function rpcResponse(id: RpcId, dialect: Dialect, outcome: { result: unknown } | { error: RpcError }): Json {
  return 'error' in outcome ? { jsonrpc: '2.0', id, error: rpcErrorBody(outcome.error, dialect) } : { jsonrpc: '2.0', id, result: outcome.result };
}

function params<S extends z.ZodType>(schema: S, value: unknown): z.output<S> {
  const parsed = schema.safeParse(value ?? {});
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new RpcError('invalidParams', issue ? `${issue.path.join('.') || 'params'}: ${issue.message}` : undefined);
  }
  return parsed.data;
}

/** Validates the JSON-RPC envelope; returns the id to answer with and the error when it is not a valid request. */
function envelope(body: unknown): { id: RpcId; method: string; params: unknown } | { id: RpcId; error: RpcError } {
  if (Array.isArray(body)) return { id: null, error: new RpcError('invalidRequest', 'batch requests are not supported') };
  if (!isObject(body)) return { id: null, error: new RpcError('invalidRequest', 'the body must be a JSON-RPC request object') };
  const rawId = body['id'];
  const id: RpcId = typeof rawId === 'string' || (typeof rawId === 'number' && Number.isFinite(rawId)) ? rawId : null;
  if (body['jsonrpc'] !== '2.0') return { id, error: new RpcError('invalidRequest', '"jsonrpc" must be "2.0"') };
  if (!('id' in body) || (rawId !== null && id === null)) return { id: null, error: new RpcError('invalidRequest', '"id" must be a string or a number') };
  if (typeof body['method'] !== 'string') return { id, error: new RpcError('invalidRequest', '"method" must be a string') };
  if ('params' in body && !isObject(body['params'])) return { id, error: new RpcError('invalidParams', '"params" must be an object') };
  return { id, method: body['method'], params: body['params'] };
}

/**
 * The A2A surface of hosted agents: cards (`/.well-known/agent.json|agent-card.json`, per agent
 * under `/a2a/{id}/`) and `POST /a2a/{id}`, JSON-RPC 2.0 in the 0.1, 0.3 and 1.0 dialects.
 * Registered in its own scope: bodies are parsed here, so malformed JSON is a JSON-RPC -32700
 * rather than the gateway's HTTP error.
 */
export function registerA2aRoutes(app: FastifyInstance, deps: A2aRouteDeps): void {
  const { agents, service } = deps;
  const remotes = new RemoteAgents(Date.now);
  app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', { parseAs: 'string' }, (_request, body, done) => done(null, body));
    scope.addHook('onRequest', async (request, reply) => {
      reply.header(TRACE_HEADER, traceIdOf(request));
    });

    const sendCard = (request: FastifyRequest, reply: FastifyReply, card: (version: '0.3' | '1.0') => Json) => {
      reply.header('vary', 'A2A-Version');
      return reply.send(card(versionOf(request) === '1.0' ? '1.0' : '0.3'));
    };
    for (const path of ['/.well-known/agent.json', '/.well-known/agent-card.json']) {
      scope.get(path, async (request, reply) => sendCard(request, reply, (v) => gatewayCard(agents.list().map((a) => a.profile), baseUrl(request, deps.publicUrl), v)));
      scope.get<{ Params: { id: string } }>(`/a2a/:id${path}`, async (request, reply) => {
        const agent = agents.require(request.params.id).profile;
        const base = baseUrl(request, deps.publicUrl);
        const remote = agent.remote;
        if (remote) {
          const version = versionOf(request) === '1.0' ? '1.0' : '0.3';
          const { card } = await remotes.card({ ...agent, remote }, version);
          return sendCard(request, reply, (v) => rewriteCard(card, `${base}/a2a/${agent.id}`, agentCard(agent, base, v)));
        }
        return sendCard(request, reply, (v) => agentCard(agent, base, v));
      });
    }

    scope.post<{ Params: { id: string } }>('/a2a/:id', async (request, reply) => {
      const agent = agents.require(request.params.id).profile;
      const principal = await deps.authenticator.authenticate(request.headers);
      const version = versionOf(request);
      const traceId = reply.getHeader(TRACE_HEADER) as string;
      const remote = agent.remote;
      if (remote) {
        const rawVersion = request.headers['a2a-version'];
        const accept = request.headers['accept'];
        const forwarded = await remotes.forward({ ...agent, remote }, typeof request.body === 'string' ? request.body : '', { version: Array.isArray(rawVersion) ? rawVersion[0] : rawVersion, traceId, accept });
        request.log.info({ a2a_agent: agent.id, trace_id: traceId, principal: principal.id, status: forwarded.status }, 'A2A request proxied to a remote agent');
        return reply.code(forwarded.status).header('content-type', forwarded.contentType).send(forwarded.body);
      }
      const answer = (id: RpcId, dialect: Dialect, outcome: { result: unknown } | { error: RpcError }) =>
        reply.header('content-type', 'application/json').send(rpcResponse(id, dialect, outcome));

      let body: unknown;
      try {
        body = secureJson.parse(typeof request.body === 'string' ? request.body : '', null, { protoAction: 'remove', constructorAction: 'remove' });
      } catch {
        return answer(null, version ?? '0.3', { error: new RpcError('parse') });
      }
      const env = envelope(body);
      if (version === undefined) return answer(env.id, '1.0', { error: new RpcError('versionNotSupported', `A2A-Version "${String(request.headers['a2a-version']).slice(0, 20)}"; this agent speaks 0.3 and 1.0`) });
      if ('error' in env) return answer(env.id, version, { error: env.error });
      const resolved = resolveMethod(env.method, version);
      if (!resolved) return answer(env.id, version, { error: new RpcError('methodNotFound', `"${env.method.slice(0, 100)}" (A2A ${version})`) });
      const { dialect, op } = resolved;
      const caller: Caller = { principal, headers: request.headers, traceId, log: request.log.child({ trace_id: traceId, a2a_agent: agent.id }) };
      try {
        if (op === 'stream' || op === 'resubscribe') {
          const items = await openStream(op, env.params, caller);
          return streamSse(request, reply, env.id, dialect, items.stream, items.abort);
        }
        return answer(env.id, dialect, { result: await unary(op, dialect, env.params, caller) });
      } catch (err) {
        if (err instanceof RpcError) return answer(env.id, dialect, { error: err });
        caller.log.error({ err }, 'A2A request failed');
        return answer(env.id, dialect, { error: new RpcError('internal') });
      }

      async function unary(op: Operation, dialect: Dialect, raw: unknown, caller: Caller): Promise<unknown> {
        switch (op) {
          case 'send': {
            const p = params(sendParams, raw);
            const { task, done } = await service.send(agent, p, caller);
            const returnNow = p.configuration?.blocking === false || p.configuration?.returnImmediately === true;
            if (!returnNow) await done;
            const latest = (await service.tasks.get(task.id)) ?? task;
            return sendResultOut(taskView(latest, p.configuration?.historyLength ?? p.historyLength), dialect);
          }
          case 'get': {
            const p = params(taskIdParams, raw);
            return taskOut(taskView(await service.taskOf(p.id, agent.id, caller), p.historyLength), dialect);
          }
          case 'cancel': {
            const p = params(taskIdParams, raw);
            return taskOut(taskView(await service.cancel(p.id, agent.id, caller)), dialect);
          }
          case 'list': {
            const p = params(listParams, raw);
            const state = p.status?.replace(/^TASK_STATE_/, '').toLowerCase().replace(/_/g, '-');
            const all = await service.tasks.list({ agent: agent.id, ...(p.contextId ? { contextId: p.contextId } : {}), ...(state ? { state } : {}), limit: 10_000 });
            const visible = all.filter((t) => caller.principal.isAdmin || t.key_id === caller.principal.keyId);
            const start = p.pageToken ? Number.parseInt(p.pageToken, 10) || 0 : 0;
            const size = p.pageSize ?? 50;
            const page = visible.slice(start, start + size);
            return { tasks: page.map((t) => taskOut(taskView(t, p.historyLength), dialect)), nextPageToken: start + size < visible.length ? String(start + size) : '', pageSize: size, totalSize: visible.length };
          }
          case 'extendedCard':
            // The cards say `supportsAuthenticatedExtendedCard` / `extendedAgentCard: false`.
            throw new RpcError('extendedCardNotConfigured');
          default:
            return pushRpc(op, dialect, params(pushParams, raw), service, agent.id, caller);
        }
      }

      async function openStream(op: 'stream' | 'resubscribe', raw: unknown, caller: Caller): Promise<{ stream: AsyncGenerator<StreamItem>; abort: Cancellation }> {
        const abort = new Cancellation();
        if (op === 'stream') {
          const p = params(sendParams, raw);
          const { task } = await service.send(agent, p, caller);
          return { stream: service.follow(task.id, task, abort), abort };
        }
        const p = params(taskIdParams, raw);
        const task = await service.taskOf(p.id, agent.id, caller);
        if (TERMINAL_STATES.has(task.status.state)) throw new RpcError('unsupportedOperation', `task "${task.id}" is ${task.status.state}; get it with tasks/get`);
        return { stream: service.follow(task.id, task, abort), abort };
      }
    });
  });
}

/**
 * Sends a task's stream as SSE, one JSON-RPC response (same id) per event, and closes after the
 * event that ends it. A client that goes away stops the stream, not the task.
 */
async function streamSse(request: FastifyRequest, reply: FastifyReply, id: RpcId, dialect: Dialect, items: AsyncGenerator<StreamItem>, abort: Cancellation): Promise<void> {
  reply.hijack();
  const res = reply.raw;
  res.writeHead(200, { ...(reply.getHeaders() as Record<string, string>), 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive' });
  res.once('close', () => abort.cancel());
  try {
    for await (const item of items) {
      // 0.1 streams status and artifact events only.
      if (dialect === '0.1' && item.kind === 'task') continue;
      if (res.destroyed) break;
      res.write(`data: ${JSON.stringify({ jsonrpc: '2.0', id, result: eventOut(item, dialect) })}\n\n`);
    }
  } catch (err) {
    request.log.error({ err }, 'A2A stream failed');
    if (!res.destroyed) res.write(`data: ${JSON.stringify({ jsonrpc: '2.0', id, error: rpcErrorBody(new RpcError('internal'), dialect) })}\n\n`);
  } finally {
    await items.return(undefined);
    res.end();
  }
}
