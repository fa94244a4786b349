import { configSchema, type GatewayConfig } from '../config/schema.js';
import { MODEL_CATALOGUE } from '../spend/pricing.js';
import { startDemoAnthropic } from './upstreams/anthropic.js';
import { startDemoGemini } from './upstreams/gemini.js';
import { startDemoOpenAI } from './upstreams/openai.js';
import type { DemoUpstream } from './upstreams/serve.js';
import { createDemoFiles, type DemoFiles } from './files-server.js';

/** The provider that always fails: a closed port, so retries and fallover can be watched. */
export const DEMO_UNREACHABLE = { provider: 'unreachable', model: 'always-down', address: '127.0.0.1:9' } as const;
/** A fallback chain whose first target is the unreachable one and whose second answers. */
export const DEMO_CHAIN = 'demo-resilient';

/** The demo's hosted A2A agent (`/a2a/files-helper`). */
export const DEMO_AGENT = 'files-helper';
/** The demo's guardrail policy and the tag pattern `smartflow demo` attaches it to (docs/guardrails.md). */
export const DEMO_POLICY = { name: 'demo-safety', tagPattern: 'demo-*', tag: 'demo-guarded' } as const;
/**
 * The model the demo's budgeted virtual key may call (the catalogue's priciest, so a few requests
 * show the budget at work), and its daily budget in USD: two walkthrough requests fit, a third does not.
 */
export const DEMO_BUDGET = { model: 'claude-opus-4-1', max_budget: 0.0032 } as const;

/** The demo's providers are named as in the docs; each one's catalogue models are answered by its local upstream. */
const PROVIDER_OF_TYPE = { openai: 'openai', anthropic: 'anthropic', gemini: 'gemini' } as const;

export interface DemoWorld {
  config: GatewayConfig;
  /** The folder the `files` MCP server serves; null when @modelcontextprotocol/server-filesystem is not installed. */
  filesDir: string | null;
  /** Stops the local upstreams (after the gateway has closed). */
  close(): Promise<void>;
}

/**
 * A small, faithful world: the providers `openai`, `anthropic` and `gemini` are real
 * providers of their types whose base URLs point at local demo upstreams speaking each API's own
 * wire format, so every model name of the built-in catalogue (`gpt-4o-mini`, `claude-sonnet-4-5`,
 * `gemini-2.5-flash`, `text-embedding-3-small` ...) works with its real prices, `/anthropic`
 * passes through natively, and the translations run as they would against the real APIs.
 */
export async function startDemoWorld(options: { host: string; port: number; masterKey: string; chunkDelayMs?: number }): Promise<DemoWorld> {
  const delay = options.chunkDelayMs === undefined ? {} : { chunkDelayMs: options.chunkDelayMs };
  const names = (type: keyof typeof PROVIDER_OF_TYPE) => Object.keys(MODEL_CATALOGUE).filter((n) => MODEL_CATALOGUE[n]!.provider_type === type);
  const upstreams: DemoUpstream[] = [];
  let files: DemoFiles | null = null;
  try {
    files = await createDemoFiles();
    const openai = await startDemoOpenAI({ models: names('openai'), ...delay });
    upstreams.push(openai);
    const anthropic = await startDemoAnthropic({ models: names('anthropic'), ...delay });
    upstreams.push(anthropic);
    const gemini = await startDemoGemini({ models: names('gemini').map((id) => ({ id, embedding: MODEL_CATALOGUE[id]!.mode === 'embedding' })), ...delay });
    upstreams.push(gemini);

    const models: Array<{ name: string; provider: string; model: string; description: string }> = Object.entries(MODEL_CATALOGUE).map(([name, m]) => ({
      name,
      provider: PROVIDER_OF_TYPE[m.provider_type],
      model: name,
      description: `Demo: answered locally by the demo's ${m.provider_type === 'openai' ? 'OpenAI' : m.provider_type === 'anthropic' ? 'Anthropic' : 'Gemini'} API (${m.mode === 'embedding' ? 'deterministic vectors' : 'echoes the last message, calls the first tool offered'}), at the real list price.`,
    }));
    models.push({
      name: DEMO_UNREACHABLE.model,
      provider: DEMO_UNREACHABLE.provider,
      model: DEMO_UNREACHABLE.model,
      description: `Demo: fails on purpose. Its provider "${DEMO_UNREACHABLE.provider}" points at a closed port (${DEMO_UNREACHABLE.address}), so every call ends in 502 upstream_unreachable. It is the first target of the "${DEMO_CHAIN}" fallback chain, to show retries and fallover.`,
    });

    const config = configSchema.parse({
      server: { host: options.host, port: options.port },
      master_key: options.masterKey,
      store: { type: 'sqlite', path: ':memory:' },
      providers: {
        openai: { type: 'openai', base_url: `${openai.url}/v1`, api_key: 'sk-demo-upstream' },
        anthropic: { type: 'anthropic', base_url: anthropic.url, api_key: 'sk-ant-demo-upstream' },
        gemini: { type: 'gemini', base_url: gemini.url, api_key: 'demo-upstream' },
        [DEMO_UNREACHABLE.provider]: { type: 'openai', base_url: `http://${DEMO_UNREACHABLE.address}/v1`, api_key: 'demo-unused' },
      },
      models,
      routing: {
        fallback_chains: [
          { id: DEMO_CHAIN, targets: [{ provider: DEMO_UNREACHABLE.provider, model: DEMO_UNREACHABLE.model, max_retries: 1 }, { model: 'gpt-4o-mini' }], retry: { base_delay_ms: 100 } },
        ],
      },
      // Callers may bring their own Anthropic key on /anthropic; the demo upstream accepts any.
      passthrough: { anthropic: { allow_byok: true } },
      logging: { level: 'warn', access_log: false },
      // Caching for gpt-4o-mini only: the budget walkthrough needs its requests to reach the model.
      cache: { models: { 'gpt-4o-mini': { enabled: true } } },
      mcp_servers: files ? [files.server] : [],
      // One hosted A2A agent with the filesystem server's read tools (docs/a2a.md).
      agents: files
        ? [
            {
              id: DEMO_AGENT,
              name: 'Files helper',
              description: 'Reads the files of the demo folder through the demo-files MCP server.',
              model: 'gpt-4o-mini',
              system_prompt: 'You answer questions about the files of the demo folder; read them with your tools.',
              mcp: [{ server: files.server.alias, allowed_tools: ['read_text_file', 'list_directory'] }],
              skills: [{ id: 'read-files', name: 'Read files', description: 'Reads a file of the demo folder and says what is in it.', tags: ['files', 'demo'], examples: ['Read welcome.txt'] }],
              max_steps: 4,
            },
          ]
        : [],
      // A PII mask and a prompt-injection block, grouped in one policy; `smartflow demo` attaches it to the tags "demo-*".
      guardrails: [
        { name: 'demo-pii', type: 'pii', mode: 'mask', stage: 'both', description: 'Redacts emails, phone numbers, cards, IBANs, SSNs, IPs and API keys.' },
        { name: 'demo-injection', type: 'prompt_injection', mode: 'block', stage: 'pre', description: 'Refuses prompt injections and jailbreaks.' },
      ],
      policies: [{ name: DEMO_POLICY.name, add: ['demo-pii', 'demo-injection'], description: 'The demo\'s guardrail policy.' }],
    });
    const opened = files;
    return {
      config,
      filesDir: opened?.dir ?? null,
      close: async () => {
        await Promise.all(upstreams.map((u) => u.close()));
        await opened?.close();
      },
    };
  } catch (err) {
    await Promise.all(upstreams.map((u) => u.close()));
    await files?.close();
    throw err;
  }
}
