import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { findNode22Plus, NODE24_MISSING } from '../../scripts/mcp-conformance/node24.js';
import { CLIENT_SCENARIOS, runClientScenario } from '../../scripts/mcp-conformance/run-client-kit.js';

/**
 * The MCP conformance kit (0.1.16, Node 22+) in client mode, driving a thin wrapper around the
 * gateway's upstream client and OAuth code (scripts/mcp-conformance/auth-client.ts): every
 * scenario listed in docs/mcp-auth.md as passing must pass.
 */
describe('MCP conformance kit, client mode: the gateway as an OAuth-capable MCP client', () => {
  const node = findNode22Plus();
  for (const scenario of CLIENT_SCENARIOS) {
    test(scenario, async () => {
      assert.ok(node, NODE24_MISSING);
      const result = await runClientScenario(node!, scenario);
      assert.equal(result.failed, 0, `${scenario}: ${result.failed} failed\n${result.output.split('\n').filter((l) => /FAILURE|ERROR/.test(l)).join('\n')}`);
      assert.ok(result.passed > 0 && result.passed === result.total, `${scenario}: ${result.passed}/${result.total}`);
    });
  }
});
