import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { findNode22Plus, NODE24_MISSING } from '../../scripts/mcp-conformance/node24.js';
import { REQUIRED_SCENARIOS, runScenario } from '../../scripts/mcp-conformance/run-kit.js';
import { startConformanceTarget } from '../../scripts/mcp-conformance/target.js';

/**
 * The MCP conformance kit (0.1.16, Node 22+) in server mode against the gateway's /mcp: the
 * scenarios every MCP server must pass whatever tools it serves. `npm run conformance:mcp`
 * runs all of them and prints the table.
 */
describe('MCP conformance kit against /mcp: the generic scenarios pass', () => {
  const node = findNode22Plus();
  let target: Awaited<ReturnType<typeof startConformanceTarget>>;

  before(async () => {
    assert.ok(node, NODE24_MISSING);
    target = await startConformanceTarget();
  });

  after(async () => {
    await target?.close();
  });

  for (const scenario of REQUIRED_SCENARIOS) {
    test(scenario, async () => {
      const result = await runScenario(node!, target.mcpUrl, scenario);
      assert.ok(result.ok, `${scenario}: ${result.failed} failed (${result.note})`);
      // A POST answered as plain JSON (allowed; the gateway does so for quick answers) leaves the kit's SSE polling checks not applicable.
      const jsonAnswer = scenario === 'server-sse-polling' && result.info.includes('server-sse-content-type');
      assert.ok(result.passed > 0 || result.warnings > 0 || jsonAnswer, `${scenario} ran no checks`);
    });
  }
});
