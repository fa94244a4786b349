import type { Server } from '@modelcontextprotocol/sdk/server/index.js';
import {
  CompleteRequestSchema,
  GetPromptRequestSchema,
  ListPromptsRequestSchema,
  ListResourcesRequestSchema,
  ListResourceTemplatesRequestSchema,
  LoggingLevelSchema,
  ReadResourceRequestSchema,
  SetLevelRequestSchema,
  type LoggingLevel,
} from '@modelcontextprotocol/sdk/types.js';
import type { Principal } from '../../keys/principal.js';
import type { FeatureCatalog } from './feature-catalog.js';
import { forwarded, forwardedOf, upstreamMeta } from './forwarding.js';
import type { EndpointScope } from './scope-servers.js';
import type { SessionEvents } from './session-events.js';
import { decodeCursor, encodeCursor } from './tool-cursor.js';

export interface SessionFeatureOptions {
  features: FeatureCatalog;
  scope: EndpointScope;
  pageSize: number;
  /** Each handler's principal (from the request's auth info). */
  principalOf: (authInfo: unknown) => Principal;
  /** Server-initiated notifications; the session subscribes as the principal that opened it. */
  events: SessionEvents;
  principal: Principal;
}

/** One page of a merged list under `field`, with the cursor scheme `tools/list` uses. */
function page<T>(items: T[], cursor: string | undefined, pageSize: number, field: string): Record<string, unknown> {
  const offset = decodeCursor(cursor);
  const next = offset + pageSize;
  return { [field]: items.slice(offset, next), ...(next < items.length ? { nextCursor: encodeCursor(next) } : {}) };
}

const severity = (level: LoggingLevel) => LoggingLevelSchema.options.indexOf(level);

/**
 * Resources, resource templates, prompts, completion and logging on one session, plus the
 * notifications the session hears (list changes, log messages at or above the level it set).
 */
export function registerSessionFeatures(server: Server, options: SessionFeatureOptions): void {
  const { features, scope, pageSize } = options;
  const who = (extra: { authInfo?: unknown }) => options.principalOf(extra.authInfo);
  // Results go out as the servers sent them (checked loosely where they came in), not re-shaped
  // to the SDK's types: hence the casts to the handlers' declared result types.

  server.setRequestHandler(ListResourcesRequestSchema, async (request, extra) => page(await features.listResources(who(extra), scope, forwardedOf(extra)), request.params?.cursor, pageSize, 'resources') as never);
  server.setRequestHandler(ListResourceTemplatesRequestSchema, async (request, extra) =>
    page(await features.listResourceTemplates(who(extra), scope, forwardedOf(extra)), request.params?.cursor, pageSize, 'resourceTemplates') as never,
  );
  server.setRequestHandler(ListPromptsRequestSchema, async (request, extra) => page(await features.listPrompts(who(extra), scope, forwardedOf(extra)), request.params?.cursor, pageSize, 'prompts') as never);
  server.setRequestHandler(ReadResourceRequestSchema, async (request, extra) =>
    (await forwarded(extra, (o) => features.readResource(who(extra), scope, request.params.uri, upstreamMeta(request.params._meta), o))) as never,
  );
  server.setRequestHandler(GetPromptRequestSchema, async (request, extra) =>
    (await forwarded(extra, (o) => features.getPrompt(who(extra), scope, request.params.name, request.params.arguments, upstreamMeta(request.params._meta), o))) as never,
  );
  server.setRequestHandler(CompleteRequestSchema, async (request, extra) => {
    const { _meta, ...params } = request.params;
    const meta = upstreamMeta(_meta);
    return (await forwarded(extra, (o) => features.complete(who(extra), scope, { ...params, ...(meta ? { _meta: meta } : {}) }, o))) as never;
  });

  // The session's own level filters what it hears; the upstreams are asked for at least as much.
  let logLevel: LoggingLevel | null = null;
  server.setRequestHandler(SetLevelRequestSchema, async (request, extra) => {
    logLevel = request.params.level;
    await features.setLogLevel(who(extra), scope, request.params.level);
    return {};
  });

  const unsubscribe = options.events.subscribe({
    scope,
    principal: options.principal,
    listChanged: (list) => {
      const sent = list === 'tools' ? server.sendToolListChanged() : list === 'resources' ? server.sendResourceListChanged() : server.sendPromptListChanged();
      sent.catch(() => undefined);
    },
    // Only a session that asked (logging/setLevel) gets log messages: the upstream connection is shared by every session.
    log: (upstream, params) => {
      if (logLevel === null || severity(params.level) < severity(logLevel)) return;
      const logger = scope.kind === 'all' ? (params.logger ? `${upstream.alias}/${params.logger}` : upstream.alias) : params.logger;
      server.notification({ method: 'notifications/message', params: { ...params, ...(logger !== undefined ? { logger } : {}) } }).catch(() => undefined);
    },
  });
  const previous = server.onclose;
  server.onclose = () => {
    unsubscribe();
    previous?.();
  };
}
