import { GatewayError } from '../../errors/gateway-error.js';
import type { ByokRule } from '../../providers/anthropic/byok.js';
import { anthropicClientHeaders, callerAnthropicKey, withLongContextBeta } from '../../providers/anthropic/client-headers.js';
import { DROPPED_HEADER, droppedHeader } from '../../providers/dropped.js';
import type { ProviderRegistry } from '../../providers/registry.js';
import { invokeResponses } from '../../providers/responses/invoke.js';
import type { Stage } from '../types.js';

export interface InvokeProviderOptions {
  /** passthrough.anthropic.allow_byok */
  allowAnthropicByok: boolean;
  /** Which providers a caller's own Anthropic key may go to. */
  anthropicByok: ByokRule;
}

/** Calls the deployment's provider adapter: translate, send through undici, translate back. */
export function createInvokeProviderStage(registry: ProviderRegistry, options: InvokeProviderOptions): Stage {
  return {
    name: 'invoke-provider',
    async run(ctx) {
      const deployment = ctx.deployment;
      const request = ctx.request;
      if (!deployment || !request) throw new GatewayError('SF_ERR_INTERNAL', { message: 'invoke-provider ran before the request was validated and resolved.' });
      const adapter = registry.adapter(deployment.provider.name);
      ctx.responseHeaders['x-smartflow-provider'] = deployment.provider.name;
      let forwardedHeaders = registry.forwarder(deployment.provider.name).pick(ctx.headers);
      if (request.operation === 'messages') forwardedHeaders = Object.assign({}, forwardedHeaders, anthropicClientHeaders(ctx.headers));
      if (ctx.longContext && deployment.provider.type === 'anthropic') forwardedHeaders = withLongContextBeta(forwardedHeaders);
      const call = {
        requestedModel: ctx.requestedModel,
        upstreamModel: deployment.upstreamModel,
        signal: ctx.abort,
        forwardedHeaders,
        ...(ctx.attemptTimeoutMs !== undefined ? { timeoutMs: ctx.attemptTimeoutMs } : {}),
      };
      let response;
      if (request.operation === 'chat') {
        response = await adapter.chat(request.body, call);
      } else if (request.operation === 'responses') {
        response = await invokeResponses(adapter, deployment, request.native, request.body, call);
      } else if (request.operation === 'messages') {
        if (!adapter.messages) {
          throw new GatewayError('SF_ERR_OPERATION_UNSUPPORTED', { message: `The model "${deployment.name}" is not served by Anthropic; /anthropic passes requests to Anthropic only.`, param: 'model' });
        }
        // Decided per attempt: a fallback target at another base_url must not get the caller's key.
        const apiKeyOverride = options.anthropicByok.keyFor(deployment.provider, callerAnthropicKey(ctx.headers, ctx.principal, options.allowAnthropicByok));
        response = await adapter.messages(request.body, Object.assign({}, call, { query: request.query }, apiKeyOverride !== undefined ? { apiKeyOverride } : {}));
      } else {
        if (!adapter.embeddings) {
          throw new GatewayError('SF_ERR_OPERATION_UNSUPPORTED', { message: `The provider "${deployment.provider.name}" has no embeddings API.`, param: 'model' });
        }
        response = await adapter.embeddings(request.body, call);
      }
      // Per attempt: a fallback target that served everything must not inherit an earlier target's list.
      const dropped = droppedHeader(response.dropped ?? []);
      if (dropped === undefined) delete ctx.responseHeaders[DROPPED_HEADER];
      else ctx.responseHeaders[DROPPED_HEADER] = dropped;
      ctx.response = response;
      if (response.kind === 'json') ctx.usage = response.usage;
    },
  };
}
