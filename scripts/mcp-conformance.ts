/**
 * `npm run conformance:mcp [-- scenario ...]`: starts a gateway with server-everything
 * registered, runs the MCP conformance kit (server mode, Node 22+) against its /mcp with the
 * master key, and prints one row per scenario. Exits 1 when a required scenario fails.
 */
import { findNode22Plus, NODE24_MISSING } from './mcp-conformance/node24.js';
import { listServerScenarios, REQUIRED_SCENARIOS, runScenario, type ScenarioResult } from './mcp-conformance/run-kit.js';
import { startConformanceTarget } from './mcp-conformance/target.js';

const node = findNode22Plus();
if (!node) {
  process.stderr.write(`${NODE24_MISSING}\n`);
  process.exit(2);
}
const asked = process.argv.slice(2);
const scenarios = asked.length > 0 ? asked : await listServerScenarios(node);
const target = await startConformanceTarget();
const results: ScenarioResult[] = [];
try {
  for (const scenario of scenarios) {
    const result = await runScenario(node, target.mcpUrl, scenario);
    results.push(result);
    process.stdout.write(`${result.ok ? 'pass' : 'FAIL'}  ${scenario.padEnd(32)} ${result.passed} passed, ${result.failed} failed, ${result.warnings} warnings${result.note ? `  (${result.note})` : ''}\n`);
  }
} finally {
  await target.close();
}
const required = new Set<string>(REQUIRED_SCENARIOS);
const requiredFailed = results.filter((r) => required.has(r.scenario) && !r.ok).map((r) => r.scenario);
process.stdout.write(`\n${results.filter((r) => r.ok).length}/${results.length} scenarios pass; required: ${requiredFailed.length === 0 ? 'all pass' : `FAILED ${requiredFailed.join(', ')}`}\n`);
process.exit(requiredFailed.length === 0 ? 0 : 1);
