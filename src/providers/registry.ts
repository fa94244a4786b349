import type { GatewayConfig, ModelSettings } from '../config/schema.js';
import { MODEL_CATALOGUE, SERVER_TOOL_PRICES, type ModelPrice } from '../spend/pricing.js';
import type { ProviderAdapter } from './adapter.js';
import { createNativeForward, createNativeMessages, type NativeForwardRequest } from './anthropic/native.js';
import { anthropicTranslator } from './anthropic/translator.js';
import { createDemoAdapter } from './demo/adapter.js';
import { createHeaderForwarder, type HeaderForwarder } from './forward-headers.js';
import { geminiEmbeddingsTranslator } from './gemini/embeddings-translator.js';
import { geminiTranslator } from './gemini/translator.js';
import type { HttpTransport, UpstreamResponse } from './http-transport.js';
import { createOpenAIAdapter } from './openai/adapter.js';
import { createTranslatedAdapter } from './translated-adapter.js';
import type { ProviderConfig } from './types.js';

/** A model name resolved to the provider and upstream model that serve it, with its prices. */
export interface ModelDeployment {
  /** `provider/upstream-model`: what load balancing, cooldowns and `x-smartflow-route` name. */
  id: string;
  name: string;
  provider: ProviderConfig;
  upstreamModel: string;
  mode: 'chat' | 'embedding';
  /** Undefined when neither the config, the catalogue nor a default price gives one: budgeted keys are refused it. */
  price: ModelPrice | undefined;
  maxOutputTokens: number | undefined;
  contextWindow: number | undefined;
  description: string | undefined;
  /** Share of picks within its model group under weighted balancing. */
  weight: number;
  /** Where the entry came from: the config's `models`, the built-in catalogue, or `provider/model` syntax. */
  source: 'config' | 'catalogue' | 'provider-prefix' | 'demo';
}

export interface ProviderRegistry {
  /** Resolves a client's model name: configured models, then `provider/model`, then the built-in catalogue. */
  resolveModel(name: string): ModelDeployment | undefined;
  /** Every deployment serving a model name: several when `models` lists the name more than once (a load-balanced group). */
  resolveGroup(name: string): readonly ModelDeployment[];
  /** One explicit deployment (a fallback-chain target): a configured entry for it if there is one, else the catalogue's prices. */
  deploymentFor(providerName: string, upstreamModel: string): ModelDeployment | undefined;
  hasProvider(name: string): boolean;
  /** A configured provider by name. */
  provider(name: string): ProviderConfig | undefined;
  /** The first configured provider of a type (what `/anthropic/*` forwards to), if any. */
  firstOfType(type: ProviderConfig['type']): ProviderConfig | undefined;
  /** Forwards any request to an Anthropic provider's API unchanged but for the key. */
  anthropicForward(providerName: string): ((req: NativeForwardRequest) => Promise<UpstreamResponse>) | undefined;
  /** Every model a client can name (config and catalogue entries for configured providers). */
  listModels(): ModelDeployment[];
  adapter(providerName: string): ProviderAdapter;
  forwarder(providerName: string): HeaderForwarder;
  close(): Promise<void>;
}

const DEFAULT_BASE_URLS: Record<ProviderConfig['type'], string> = {
  openai: 'https://api.openai.com/v1',
  anthropic: 'https://api.anthropic.com',
  gemini: 'https://generativelanguage.googleapis.com',
  demo: 'http://demo.invalid',
};

/** Upstream model ids a client may name with `provider/model`: path-like, nothing URL-special. */
const SAFE_MODEL_ID = /^[A-Za-z0-9._:@-]+(\/[A-Za-z0-9._:@-]+)*$/;

const DEMO_MODELS: Array<Pick<ModelDeployment, 'name' | 'mode' | 'description'>> = [
  { name: 'demo-chat', mode: 'chat', description: 'Smartflow demo model: deterministic local echo answers, streaming and tool calls; no API key needed.' },
  { name: 'demo-embed', mode: 'embedding', description: 'Smartflow demo model: deterministic local embeddings; no API key needed.' },
];

/** Catalogue entry for an upstream model name, tolerating dated snapshots such as gpt-4o-2024-08-06. */
function catalogueEntry(upstreamModel: string) {
  return MODEL_CATALOGUE[upstreamModel] ?? MODEL_CATALOGUE[upstreamModel.replace(/-\d{4}-?\d{2}-?\d{2}$|-\d{8}$|-latest$/, '')];
}

/** A provider type's per-call server tool prices with a model's own over them; undefined when there are none. */
function perCallOf(type: ProviderConfig['type'], own: Record<string, number> | undefined): ModelPrice['per_call'] {
  const base = type === 'demo' ? undefined : SERVER_TOOL_PRICES[type];
  if (!base && !own) return undefined;
  return { ...base, ...own };
}

/** Token prices plus the per-call prices of the provider type's server tools. */
function withPerCall(price: ModelPrice, type: ProviderConfig['type'], own?: Record<string, number>): ModelPrice {
  const perCall = perCallOf(type, own);
  return perCall ? { ...price, per_call: perCall } : price;
}

/** Config prices over the catalogue's, field by field: overriding one price keeps the others. */
function priceOf(m: ModelSettings, type: ProviderConfig['type'], fallback: ModelPrice | undefined): ModelPrice | undefined {
  const cat = catalogueEntry(m.model)?.price;
  const input = m.input_cost_per_mtok ?? cat?.input;
  const output = m.output_cost_per_mtok ?? cat?.output;
  if (input === undefined && output === undefined) return fallback && withPerCall(fallback, type, m.server_tool_cost_per_call);
  const price: ModelPrice = { input: input ?? 0, output: output ?? 0 };
  const cachedInput = m.cached_input_cost_per_mtok ?? cat?.cached_input;
  const cacheWrite = m.cache_write_cost_per_mtok ?? cat?.cache_write;
  if (cachedInput !== undefined) price.cached_input = cachedInput;
  if (cacheWrite !== undefined) price.cache_write = cacheWrite;
  const lc = m.long_context;
  if (lc) {
    price.long_context = { threshold_tokens: lc.threshold_tokens, input: lc.input_cost_per_mtok, output: lc.output_cost_per_mtok };
    if (lc.cached_input_cost_per_mtok !== undefined) price.long_context.cached_input = lc.cached_input_cost_per_mtok;
    if (lc.cache_write_cost_per_mtok !== undefined) price.long_context.cache_write = lc.cache_write_cost_per_mtok;
  } else if (cat?.long_context && m.input_cost_per_mtok === undefined && m.output_cost_per_mtok === undefined) {
    // The catalogue's tier belongs to the catalogue's base prices; overridden base prices do not inherit it.
    price.long_context = cat.long_context;
  }
  return withPerCall(price, type, m.server_tool_cost_per_call);
}

export function createProviderRegistry(config: GatewayConfig, transport: HttpTransport): ProviderRegistry {
  const providers = new Map<string, ProviderConfig>();
  const adapters = new Map<string, ProviderAdapter>();
  const forwarders = new Map<string, HeaderForwarder>();

  for (const [name, p] of Object.entries(config.providers)) {
    const provider: ProviderConfig = {
      name,
      type: p.type,
      base_url: (p.base_url ?? DEFAULT_BASE_URLS[p.type]).replace(/\/+$/, ''),
      api_key: p.api_key,
      headers: p.headers,
      forward_headers: p.forward_headers,
      auth_header: p.auth_header,
      query: p.query,
      timeout_ms: p.timeout_ms,
      responses_api: p.responses_api,
    };
    providers.set(name, provider);
    forwarders.set(name, createHeaderForwarder(p.forward_headers));
    adapters.set(name, createAdapter(provider, transport));
  }

  /** What a deployment without a price of its own costs: its provider's default, else the gateway's, else nothing. */
  const defaultPrices = new Map<string, ModelPrice | undefined>();
  for (const [name, p] of Object.entries(config.providers)) {
    const d = p.default_price ?? config.budgets.default_price;
    defaultPrices.set(name, d && withPerCall({ input: d.input_cost_per_mtok, output: d.output_cost_per_mtok }, p.type));
  }

  const groups = new Map<string, ModelDeployment[]>();
  for (const m of config.models) {
    const provider = providers.get(m.provider);
    if (!provider) continue; // rejected earlier by validateReferences; kept defensive for programmatic configs
    const cat = catalogueEntry(m.model);
    const deployment: ModelDeployment = {
      id: `${provider.name}/${m.model}`,
      name: m.name,
      provider,
      upstreamModel: m.model,
      mode: m.mode ?? cat?.mode ?? (/embed/i.test(m.model) ? 'embedding' : 'chat'),
      price: priceOf(m, provider.type, defaultPrices.get(provider.name)),
      maxOutputTokens: m.max_output_tokens ?? cat?.max_output_tokens,
      contextWindow: m.context_window ?? cat?.context_window,
      description: m.description,
      weight: m.weight,
      source: 'config',
    };
    const group = groups.get(m.name);
    if (group) group.push(deployment);
    else groups.set(m.name, [deployment]);
  }
  for (const provider of providers.values()) {
    if (provider.type !== 'demo') continue;
    for (const d of DEMO_MODELS) {
      if (!groups.has(d.name)) {
        groups.set(d.name, [{ ...d, id: `${provider.name}/${d.name}`, provider, upstreamModel: d.name, price: { input: 0, output: 0 }, maxOutputTokens: 4096, contextWindow: 128_000, weight: 1, source: 'demo' }]);
      }
    }
  }

  /** First configured provider of each type serves the catalogue's models of that type. */
  const byType = new Map<string, ProviderConfig>();
  for (const p of providers.values()) if (!byType.has(p.type)) byType.set(p.type, p);

  function fromCatalogue(name: string, provider: ProviderConfig | undefined, upstreamModel: string, source: ModelDeployment['source']): ModelDeployment | undefined {
    const cat = catalogueEntry(upstreamModel);
    const p = provider ?? (cat ? byType.get(cat.provider_type) : undefined);
    if (!p) return undefined;
    return {
      id: `${p.name}/${upstreamModel}`,
      name,
      provider: p,
      upstreamModel,
      mode: cat?.mode ?? (/embed/i.test(upstreamModel) ? 'embedding' : 'chat'),
      price: cat ? withPerCall(cat.price, p.type) : defaultPrices.get(p.name),
      maxOutputTokens: cat?.max_output_tokens,
      contextWindow: cat?.context_window,
      description: undefined,
      weight: 1,
      source,
    };
  }

  const resolved = new Map<string, ModelDeployment | undefined>();
  function resolveModel(name: string): ModelDeployment | undefined {
    const hit = groups.get(name);
    if (hit) return hit[0];
    if (resolved.has(name)) return resolved.get(name);
    let found: ModelDeployment | undefined;
    const slash = name.indexOf('/');
    if (slash > 0) {
      const provider = providers.get(name.slice(0, slash));
      const upstreamModel = name.slice(slash + 1);
      // The id becomes part of an upstream URL: no `..`, query or fragment that could point the
      // gateway's credentials at another endpoint.
      if (provider && provider.type !== 'demo' && SAFE_MODEL_ID.test(upstreamModel) && !upstreamModel.split('/').includes('..')) {
        found = fromCatalogue(name, provider, upstreamModel, 'provider-prefix');
      }
    }
    if (!found && MODEL_CATALOGUE[name]) found = fromCatalogue(name, undefined, name, 'catalogue');
    // Model families the catalogue does not list yet still have an obvious home.
    if (!found && SAFE_MODEL_ID.test(name)) {
      const family = /^claude-/.test(name) ? byType.get('anthropic') : /^gemini-/.test(name) ? byType.get('gemini') : undefined;
      if (family) found = fromCatalogue(name, family, name, 'catalogue');
    }
    // Bounded memo: model names come from clients, so cap what they can make us remember.
    if (resolved.size < 10_000) resolved.set(name, found);
    return found;
  }

  function resolveGroup(name: string): readonly ModelDeployment[] {
    const group = groups.get(name);
    if (group) return group;
    const single = resolveModel(name);
    return single ? [single] : [];
  }

  function deploymentFor(providerName: string, upstreamModel: string): ModelDeployment | undefined {
    const provider = providers.get(providerName);
    if (!provider) return undefined;
    // The entry named exactly as the upstream model first: another name for the same model (a
    // priced alias such as the demo's demo-chat-metered) must not lend it its prices.
    const isIt = (d: ModelDeployment) => d.provider === provider && d.upstreamModel === upstreamModel;
    const sameName = groups.get(upstreamModel)?.find(isIt);
    if (sameName) return sameName;
    for (const group of groups.values()) {
      const configuredEntry = group.find(isIt);
      if (configuredEntry) return configuredEntry;
    }
    if (provider.type === 'demo' || !SAFE_MODEL_ID.test(upstreamModel) || upstreamModel.split('/').includes('..')) return undefined;
    return fromCatalogue(`${providerName}/${upstreamModel}`, provider, upstreamModel, 'provider-prefix');
  }

  function listModels(): ModelDeployment[] {
    // One entry per name: a load-balanced group is one model to clients.
    const out = [...groups.values()].map((group) => group[0]!);
    for (const name of Object.keys(MODEL_CATALOGUE)) {
      if (groups.has(name)) continue;
      const d = fromCatalogue(name, undefined, name, 'catalogue');
      if (d) out.push(d);
    }
    return out;
  }

  return {
    resolveModel,
    resolveGroup,
    deploymentFor,
    hasProvider: (name) => providers.has(name),
    provider: (name) => providers.get(name),
    firstOfType: (type) => byType.get(type),
    anthropicForward(name) {
      const provider = providers.get(name);
      return provider?.type === 'anthropic' ? createNativeForward(provider, transport) : undefined;
    },
    listModels,
    adapter(name) {
      const a = adapters.get(name);
      if (!a) throw new Error(`no adapter for provider ${name}`);
      return a;
    },
    forwarder: (name) => forwarders.get(name) ?? createHeaderForwarder([]),
    async close() {
      await Promise.all([...adapters.values()].map((a) => a.close()));
    },
  };
}

function createAdapter(provider: ProviderConfig, transport: HttpTransport): ProviderAdapter {
  switch (provider.type) {
    case 'openai':
      return createOpenAIAdapter(provider, transport);
    case 'anthropic':
      return { ...createTranslatedAdapter('anthropic', provider, transport, anthropicTranslator), messages: createNativeMessages(provider, transport) };
    case 'gemini':
      return createTranslatedAdapter('gemini', provider, transport, geminiTranslator, geminiEmbeddingsTranslator);
    case 'demo':
      return createDemoAdapter();
  }
}
