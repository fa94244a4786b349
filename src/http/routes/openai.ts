import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { GatewayError } from '../../errors/gateway-error.js';
import type { Authenticator } from '../../keys/authenticator.js';
import type { GatewayContext } from '../../pipeline/types.js';
import type { ModelDeployment, ProviderRegistry } from '../../providers/registry.js';
import type { ChainRegistry } from '../../routing/chains.js';
import { createContext } from '../context.js';
import { passthroughName } from '../passthrough.js';
import { authenticatedScope, principalOf } from '../plugins/authenticate.js';
import { answerThroughPipeline } from '../run-pipeline.js';
import { hasMcpToolEntries } from '../../mcp/tool-loop/tool-entries.js';
import { answerWithToolLoop, type ToolLoopDeps } from '../tool-loop-answer.js';

export interface OpenAIRoutesDeps {
  pipeline: (ctx: GatewayContext) => Promise<void>;
  registry: ProviderRegistry;
  /** Fallback chains: their ids and bound names are models to callers. */
  chains: Pick<ChainRegistry, 'list' | 'forModel'>;
  authenticator: Authenticator;
  /** The gateway's clock, for the time a request arrived. */
  now: () => number;
  /** Runs chat completions whose tools include `{"type":"mcp"}` entries (docs/mcp.md, "Tool loop"). */
  toolLoop?: ToolLoopDeps;
}

/**
 * The model entry /v1/models shows: OpenAI's fields plus a `smartflow` block. Where a model is
 * served from (provider, upstream model) and what it costs are the operator's business: only
 * admins see them; a virtual key sees what it needs to call the model.
 */
function modelEntry(d: ModelDeployment, admin: boolean) {
  return {
    id: d.name,
    object: 'model',
    created: 0,
    owned_by: d.provider.type === 'demo' ? 'smartflow-demo' : d.provider.name,
    ...(d.description ? { description: d.description } : {}),
    smartflow: {
      ...(admin ? { provider: d.provider.name, provider_type: d.provider.type, upstream_model: d.upstreamModel } : {}),
      mode: d.mode,
      ...(admin && d.price ? { price_per_mtok: d.price } : {}),
      ...(d.contextWindow ? { context_window: d.contextWindow } : {}),
      ...(d.maxOutputTokens ? { max_output_tokens: d.maxOutputTokens } : {}),
    },
  };
}

/** A model name that walks a fallback chain (the chain's id, or a name the chain binds). */
function chainEntry(name: string, chainId: string) {
  return { id: name, object: 'model', created: 0, owned_by: 'smartflow', description: `Fallback chain "${chainId}": each request tries its targets in order until one answers.`, smartflow: { fallback_chain: chainId } };
}

/**
 * The OpenAI-compatible surface: /v1/chat/completions, /v1/embeddings, /v1/models, and the same
 * without /v1. With `surface: 'cursor'` the same under /cursor for Cursor's base-URL override:
 * model names the gateway does not know go to the default OpenAI-compatible provider, and every
 * answer says which provider family served it.
 */
export function registerOpenAIRoutes(app: FastifyInstance, deps: OpenAIRoutesDeps, options: { prefixes: string[]; surface: 'openai' | 'cursor' } = { prefixes: ['/v1', ''], surface: 'openai' }): void {
  const cursor = options.surface === 'cursor';
  const handle = (operation: 'chat' | 'embeddings') => async (request: FastifyRequest, reply: FastifyReply) => {
    const ctx = createContext(request, reply, deps.now, operation, options.surface);
    if (operation === 'chat' && deps.toolLoop && hasMcpToolEntries(request.body)) return answerWithToolLoop(request, reply, ctx, deps.pipeline, deps.toolLoop, 'chat', cursor ? passthroughName : undefined);
    await answerThroughPipeline(request, reply, ctx, deps.pipeline, { surface: 'openai', ...(cursor ? { passthrough: passthroughName } : {}) });
  };

  const listModels = async (request: FastifyRequest, reply: FastifyReply) => {
    const principal = principalOf(request);
    const policy = principal.policy;
    const allowed = (name: string) => !policy || policy.allowModel(name);
    const chainNames = new Map<string, string>();
    for (const { chain } of deps.chains.list()) for (const name of [chain.id, ...chain.models]) chainNames.set(name, chain.id);
    // A name bound to a chain walks the chain: it is listed as the chain's, not as a deployment.
    const models = deps.registry.listModels().filter((d) => allowed(d.name) && !chainNames.has(d.name)).map((d) => modelEntry(d, principal.isAdmin));
    const chained = [...chainNames].filter(([name]) => allowed(name)).map(([name, chainId]) => chainEntry(name, chainId));
    if (cursor) reply.header('x-smartflow-passthrough', 'openai');
    return reply.send({ object: 'list', data: [...models, ...chained] });
  };

  const getModel = async (request: FastifyRequest<{ Params: { '*': string } }>, reply: FastifyReply) => {
    const { policy, isAdmin } = principalOf(request);
    const name = request.params['*'];
    const notFound = new GatewayError('SF_ERR_MODEL_NOT_FOUND', { message: `The model "${name.slice(0, 200)}" does not exist on this gateway.`, param: 'model' });
    if (cursor) reply.header('x-smartflow-passthrough', 'openai');
    const chain = deps.chains.forModel(name);
    if (chain) {
      if (policy && !policy.allowModel(name)) throw notFound;
      return reply.send(chainEntry(name, chain.id));
    }
    const d = deps.registry.resolveModel(name);
    // A model the key may not use does not exist as far as that key is concerned.
    if (!d || (policy && !policy.allowModel(name) && !policy.allowModel(d.name))) throw notFound;
    return reply.send(modelEntry(d, isAdmin));
  };

  for (const prefix of options.prefixes) {
    app.post(`${prefix}/chat/completions`, handle('chat'));
    app.post(`${prefix}/embeddings`, handle('embeddings'));
  }
  authenticatedScope(app, { authenticator: deps.authenticator, admin: false }, (scope) => {
    for (const prefix of options.prefixes) {
      scope.get(`${prefix}/models`, listModels);
      // Wildcard: model names such as "openai/gpt-4o" contain slashes.
      scope.get(`${prefix}/models/*`, getModel);
    }
  });
}
