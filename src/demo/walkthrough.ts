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
function demoWalkthrough(url: string, key: string): WalkthroughStep[] {
  const auth = `-H ${q(`Authorization: Bearer ${key}`)}`;
  const json = `-H 'Content-Type: application/json'`;
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
    { title: 'The spend log: every request above, with tokens, cost and latency', command: `curl -s ${q(`${url}/api/spend/logs?limit=10`)} ${auth}` },
    { title: 'Prometheus metrics', command: `curl -s ${url}/metrics` },
    { title: 'Readiness (store reachable)', command: `curl -s ${url}/health/readiness` },
  ];
}

export function formatWalkthrough(url: string, key: string): string {
  const steps = demoWalkthrough(url, key);
  const lines = [
    `Smartflow demo gateway on ${url}`,
    `Master key: ${key}   (demo only; the demo provider answers locally, no API key needed)`,
    '',
    'Try these in another terminal:',
    '',
  ];
  steps.forEach((s, i) => lines.push(`# ${i + 1}. ${s.title}`, s.command, ''));
  lines.push('With the openai SDK (Python or Node): base_url = ' + `${url}/v1, api_key = ${key}, model = "demo-chat".`, '', 'Press Ctrl+C to stop.');
  return lines.join('\n');
}
