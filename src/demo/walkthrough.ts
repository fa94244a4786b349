import { cacheKey } from '../cache/cache-key.js';

/** One step of the printed demo walkthrough: a title and a shell command that works as printed. */
export interface WalkthroughStep {
  title: string;
  command: string;
}

function q(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/**
 * The curl commands `smartflow demo` prints. A test runs every one of them against a demo
 * gateway, so they stay true as features land. Later features append their own steps.
 */
/** The virtual key the demo creates at start-up: a $0.002 daily budget on the metered demo model. */
export interface DemoBudgetKey {
  id: string;
  key: string;
}

function demoWalkthrough(url: string, key: string, budgetKey: DemoBudgetKey): WalkthroughStep[] {
  const auth = `-H ${q(`Authorization: Bearer ${key}`)}`;
  const budgetAuth = `-H ${q(`Authorization: Bearer ${budgetKey.key}`)}`;
  const json = `-H 'Content-Type: application/json'`;
  const cachedQuestion = { model: 'demo-chat', messages: [{ role: 'user', content: 'What does the cache do?' }] };
  // The key the gateway will show: the walkthrough computes it the same way, so the DELETE below works as printed.
  const cachedKey = cacheKey({ namespace: 'master', operation: 'chat', model: 'demo-chat', body: cachedQuestion, context: {} });
  const weatherTool = { type: 'function', function: { name: 'get_weather', description: 'Current weather for a city', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } } };
  return [
    { title: 'List the models (the demo ones are owned_by "smartflow-demo")', command: `curl -s ${url}/v1/models ${auth}` },
    {
      title: 'Chat completion',
      command: `curl -s ${url}/v1/chat/completions ${auth} ${json} -d ${q(JSON.stringify({ model: 'demo-chat', messages: [{ role: 'user', content: 'Hello, Smartflow!' }] }))}`,
    },
    {
      title: 'Streamed chat completion (server-sent events, word by word)',
      command: `curl -sN ${url}/v1/chat/completions ${auth} ${json} -d ${q(JSON.stringify({ model: 'demo-chat', stream: true, stream_options: { include_usage: true }, messages: [{ role: 'user', content: 'Stream this answer' }] }))}`,
    },
    {
      title: 'Tool calling: the demo model calls the first tool it is offered',
      command: `curl -s ${url}/v1/chat/completions ${auth} ${json} -d ${q(JSON.stringify({ model: 'demo-chat', messages: [{ role: 'user', content: 'Paris' }], tools: [weatherTool] }))}`,
    },
    {
      title: 'Embeddings',
      command: `curl -s ${url}/v1/embeddings ${auth} ${json} -d ${q(JSON.stringify({ model: 'demo-embed', input: ['first text', 'second text'] }))}`,
    },
    { title: 'A clear error: unknown model (404, OpenAI error JSON)', command: `curl -s ${url}/v1/chat/completions ${auth} ${json} -d ${q(JSON.stringify({ model: 'no-such-model', messages: [{ role: 'user', content: 'hi' }] }))}` },
    {
      title: 'Create a virtual key (sk-sf-..., shown once) with a $5 monthly budget and 60 requests per minute',
      command: `curl -s ${url}/api/enterprise/vkeys ${auth} ${json} -d ${q(JSON.stringify({ alias: 'my-app', max_budget: 5, budget_period: 'monthly', rpm: 60 }))}`,
    },
    {
      title: 'The demo-budget key ($0.002 a day) makes five requests: its budget runs out and the last ones get 429 budget_exceeded',
      command: `curl -s -w ${q('  [HTTP %{http_code}]\\n')} ${q(`${url}/v1/chat/completions?try=[1-5]`)} ${budgetAuth} ${json} -d ${q(JSON.stringify({ model: 'demo-chat-metered', max_tokens: 20, messages: [{ role: 'user', content: 'Spend a little of my budget' }] }))}`,
    },
    { title: 'The demo-budget key\'s budget: spent, reserved, remaining, resets_at', command: `curl -s ${url}/api/enterprise/vkeys/${budgetKey.id}/budget ${auth}` },
    {
      title: 'Response caching (on for demo-chat): the same question twice. The first answer is stored (STORED), the second comes from the cache (HIT, $0) under the same x-smartflow-cache-key',
      command: `curl -si ${q(`${url}/v1/chat/completions?try=[1-2]`)} ${auth} ${json} -d ${q(JSON.stringify(cachedQuestion))} | grep -i '^x-smartflow-cache'`,
    },
    { title: 'Forget that answer: DELETE /api/cache/{key} with the key from the header', command: `curl -s -X DELETE ${url}/api/cache/${cachedKey} ${auth}` },
    { title: 'Cache statistics: hits, misses, entries and bytes per namespace', command: `curl -s ${url}/api/cache/stats ${auth}` },
    {
      title: 'A fallback chain: its first target is down (tried twice, with backoff), the demo model answers. See x-smartflow-attempts and x-smartflow-route',
      command: `curl -si ${url}/v1/chat/completions ${auth} ${json} -d ${q(JSON.stringify({ model: 'demo-resilient', messages: [{ role: 'user', content: 'Are you there?' }] }))}`,
    },
    {
      title: 'The OpenAI Responses API (what Codex CLI speaks), answered by the demo model through the translation layer',
      command: `curl -s ${url}/v1/responses ${auth} ${json} -d ${q(JSON.stringify({ model: 'demo-chat', input: 'Hello from the Responses API' }))}`,
    },
    {
      title: 'Cursor\'s base URL is <gateway>/cursor: the same OpenAI API, and X-Smartflow-Passthrough names the provider family that answered',
      command: `curl -si ${url}/cursor/chat/completions ${auth} ${json} -d ${q(JSON.stringify({ model: 'demo-chat', messages: [{ role: 'user', content: 'Hello from Cursor' }] }))}`,
    },
    { title: 'The spend log: every request above, with tokens, cost and latency', command: `curl -s ${q(`${url}/api/spend/logs?limit=10`)} ${auth}` },
    { title: 'Prometheus metrics (admins, or a scraper with metrics.token)', command: `curl -s ${url}/metrics ${auth}` },
    { title: 'Readiness (store reachable)', command: `curl -s ${url}/health/readiness` },
  ];
}

export function formatWalkthrough(url: string, key: string, budgetKey: DemoBudgetKey): string {
  const steps = demoWalkthrough(url, key, budgetKey);
  const lines = [
    `Smartflow demo gateway on ${url}`,
    `Master key: ${key}   (demo only; the demo provider answers locally, no API key needed)`,
    `Virtual key "demo-budget": ${budgetKey.key}   ($0.002 daily budget, model demo-chat-metered)`,
    '',
    'Try these in another terminal:',
    '',
  ];
  steps.forEach((s, i) => lines.push(`# ${i + 1}. ${s.title}`, s.command, ''));
  lines.push('With the openai SDK (Python or Node): base_url = ' + `${url}/v1, api_key = ${key}, model = "demo-chat".`, '', 'Press Ctrl+C to stop.');
  return lines.join('\n');
}
