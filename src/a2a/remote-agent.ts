import type { Readable } from 'node:stream';
import { request } from 'undici';
import { GatewayError } from '../errors/gateway-error.js';
import type { AgentProfile } from './agent-schema.js';
import type { Json } from './task-model.js';

/** A remote card is fetched again after this long, so a changed agent is seen without a restart. */
const CARD_TTL_MS = 60_000;
const TIMEOUT_MS = 10_000;

type Remote = NonNullable<AgentProfile['remote']>;

interface CachedCard {
  card: Json;
  endpoint: string;
  at: number;
}

/** The JSON-RPC endpoint a card names: 0.3 `url` (JSON-RPC by default), 1.0 the JSONRPC interface. */
function endpointOf(card: Json): string | undefined {
  const interfaces = Array.isArray(card['supportedInterfaces']) ? (card['supportedInterfaces'] as Json[]) : [];
  const jsonRpc = interfaces.find((i) => i['protocolBinding'] === 'JSONRPC' && typeof i['url'] === 'string');
  if (jsonRpc) return jsonRpc['url'] as string;
  const preferred = card['preferredTransport'];
  if (typeof card['url'] === 'string' && (preferred === undefined || preferred === 'JSONRPC')) return card['url'];
  const additional = Array.isArray(card['additionalInterfaces']) ? (card['additionalInterfaces'] as Json[]) : [];
  const alt = additional.find((i) => i['transport'] === 'JSONRPC' && typeof i['url'] === 'string');
  return alt?.['url'] as string | undefined;
}

/**
 * The card as the gateway serves it: every URL the gateway's own (only JSON-RPC is proxied, so
 * other interfaces go), and the gateway's bearer scheme instead of the remote's (callers present
 * a gateway key; the remote's credentials are the gateway's to add).
 */
export function rewriteCard(card: Json, url: string, gatewayCard: Json): Json {
  const out: Json = { ...card };
  if ('url' in out) out['url'] = url;
  if ('preferredTransport' in out) out['preferredTransport'] = 'JSONRPC';
  delete out['additionalInterfaces'];
  if (Array.isArray(out['supportedInterfaces'])) {
    out['supportedInterfaces'] = (out['supportedInterfaces'] as Json[]).filter((i) => i['protocolBinding'] === 'JSONRPC').map((i) => ({ ...i, url }));
  }
  for (const field of ['securitySchemes', 'security', 'securityRequirements']) {
    delete out[field];
    if (gatewayCard[field] !== undefined) out[field] = gatewayCard[field];
  }
  delete out['signatures'];
  return out;
}

/**
 * Talks to agents hosted elsewhere on behalf of the gateway's callers: their cards (cached) and
 * their JSON-RPC endpoint, with the profile's headers added and the trace id passed on.
 */
export class RemoteAgents {
  private readonly cards = new Map<string, CachedCard>();

  constructor(private readonly now: () => number) {}

  async card(agent: AgentProfile & { remote: Remote }, version: '0.3' | '1.0'): Promise<CachedCard> {
    const cacheKey = `${agent.id}|${agent.remote.card_url}|${version}`;
    const cached = this.cards.get(cacheKey);
    if (cached && this.now() - cached.at < CARD_TTL_MS) return cached;
    let res;
    try {
      res = await request(agent.remote.card_url, { headers: { ...agent.remote.headers, accept: 'application/json', ...(version === '1.0' ? { 'a2a-version': '1.0' } : {}) }, headersTimeout: TIMEOUT_MS, bodyTimeout: TIMEOUT_MS });
    } catch (err) {
      throw new GatewayError('SF_ERR_UPSTREAM_UNREACHABLE', { message: `The remote agent "${agent.id}" could not be reached: ${(err as Error).message}` });
    }
    const text = await res.body.text();
    if (res.statusCode !== 200) throw new GatewayError('SF_ERR_UPSTREAM_ERROR', { message: `The remote agent "${agent.id}" answered its card request with ${res.statusCode}.` });
    let card: Json;
    try {
      card = JSON.parse(text) as Json;
    } catch {
      throw new GatewayError('SF_ERR_UPSTREAM_BAD_RESPONSE', { message: `The remote agent "${agent.id}" sent a card that is not JSON.` });
    }
    const endpoint = endpointOf(card);
    if (!endpoint) throw new GatewayError('SF_ERR_UPSTREAM_BAD_RESPONSE', { message: `The card of remote agent "${agent.id}" names no JSON-RPC endpoint.` });
    const entry = { card, endpoint: new URL(endpoint, agent.remote.card_url).toString(), at: this.now() };
    this.cards.set(cacheKey, entry);
    return entry;
  }

  /** Forwards one JSON-RPC request as it came; the answer (JSON or SSE) streams back as it is. */
  async forward(agent: AgentProfile & { remote: Remote }, body: string, callerHeaders: { version: string | undefined; traceId: string; accept: string | undefined }): Promise<{ status: number; contentType: string; body: Readable }> {
    const { endpoint } = await this.card(agent, callerHeaders.version === '1.0' ? '1.0' : '0.3');
    try {
      const res = await request(endpoint, {
        method: 'POST',
        headers: {
          ...agent.remote.headers,
          'content-type': 'application/json',
          accept: callerHeaders.accept ?? 'application/json, text/event-stream',
          'x-a2a-trace-id': callerHeaders.traceId,
          ...(callerHeaders.version ? { 'a2a-version': callerHeaders.version } : {}),
        },
        body,
        headersTimeout: TIMEOUT_MS,
        bodyTimeout: 0,
      });
      const contentType = res.headers['content-type'];
      return { status: res.statusCode, contentType: typeof contentType === 'string' ? contentType : 'application/json', body: res.body };
    } catch (err) {
      throw new GatewayError('SF_ERR_UPSTREAM_UNREACHABLE', { message: `The remote agent "${agent.id}" could not be reached: ${(err as Error).message}` });
    }
  }
}
