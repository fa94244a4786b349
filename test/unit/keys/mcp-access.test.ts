import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { policyFor } from '../../../src/keys/access-policy.js';
import type { TeamRecord, VirtualKeyRecord } from '../../../src/keys/records.js';

const github = { id: 'mcp_0abc123def4567890aa', alias: 'github' };
const files = { id: 'mcp_0abc123def4567890bb', alias: 'files' };

function key(fields: Partial<VirtualKeyRecord> = {}): VirtualKeyRecord {
  return {
    id: 'vk_1', alias: null, key_hash: 'h', key_preview: 'sk-sf-abcd…', team_id: null, user_id: null, models: [], max_budget_micros: null, budget_period: 'lifetime',
    budget_generation: 0, rpm: null, tpm: null, tags: [], metadata: {}, expires_at: null, created_at: 0, created_by: 'master', updated_at: 0, revoked_at: null, revoked_by: null,
    ...fields,
  };
}

function team(fields: Partial<TeamRecord> = {}): TeamRecord {
  return { id: 'team_1', name: 't', models: [], max_budget_micros: null, budget_period: 'lifetime', budget_generation: 0, rpm: null, tpm: null, metadata: {}, created_at: 0, updated_at: 0, ...fields };
}

describe('MCP access on the access policy', () => {
  test('no list (records made before MCP) and an empty list allow no MCP server or tool', () => {
    for (const record of [key(), key({ mcp_servers: [], mcp_tools: [] })]) {
      const policy = policyFor(record, null);
      assert.equal(policy.allowMcpServer(github), false);
      assert.equal(policy.allowMcpTool(github, 'create_issue'), false);
    }
  });

  test('servers by alias, by id (which survives a rename) or "*"; tools then all allowed unless mcp_tools says otherwise', () => {
    const byAlias = policyFor(key({ mcp_servers: ['github'] }), null);
    assert.equal(byAlias.allowMcpServer(github), true);
    assert.equal(byAlias.allowMcpServer(files), false);
    assert.equal(byAlias.allowMcpTool(github, 'anything'), true);
    assert.equal(byAlias.allowMcpTool(files, 'read_file'), false);
    assert.equal(byAlias.allowMcpServer({ ...github, alias: 'gh' }), false, 'an alias entry follows the alias');
    const byId = policyFor(key({ mcp_servers: [github.id] }), null);
    assert.equal(byId.allowMcpServer({ ...github, alias: 'gh' }), true, 'an id entry survives a rename');
    const all = policyFor(key({ mcp_servers: ['*'] }), null);
    assert.equal(all.allowMcpServer(github) && all.allowMcpServer(files), true);
  });

  test('mcp_tools: server/tool patterns with "*", and a tool pattern never opens a server the server list does not', () => {
    const policy = policyFor(key({ mcp_servers: ['*'], mcp_tools: ['github/list_*', `${files.id}/read_file`, '*/search'] }), null);
    assert.equal(policy.allowMcpTool(github, 'list_issues'), true);
    assert.equal(policy.allowMcpTool(github, 'create_issue'), false);
    assert.equal(policy.allowMcpTool(files, 'read_file'), true);
    assert.equal(policy.allowMcpTool(files, 'write_file'), false);
    assert.equal(policy.allowMcpTool(files, 'search'), true);
    assert.equal(policy.allowMcpTool(github, 'search'), true);
    const narrow = policyFor(key({ mcp_servers: ['files'], mcp_tools: ['github/*'] }), null);
    assert.equal(narrow.allowMcpTool(github, 'list_issues'), false);
    assert.equal(narrow.allowMcpTool(files, 'read_file'), false);
  });

  test('a key in a team needs both lists to allow', () => {
    const record = key({ team_id: 'team_1', mcp_servers: ['*'] });
    assert.equal(policyFor(record, team()).allowMcpServer(github), false, 'a team without mcp_servers allows none');
    const teamPolicy = policyFor(record, team({ mcp_servers: ['github'], mcp_tools: ['github/list_*'] }));
    assert.equal(teamPolicy.allowMcpServer(github), true);
    assert.equal(teamPolicy.allowMcpServer(files), false);
    assert.equal(teamPolicy.allowMcpTool(github, 'list_issues'), true);
    assert.equal(teamPolicy.allowMcpTool(github, 'delete_repo'), false);
    assert.equal(policyFor(key({ mcp_servers: ['files'] }), team({ mcp_servers: ['*'] })).allowMcpServer(github), false, 'the team does not widen the key');
  });
});
