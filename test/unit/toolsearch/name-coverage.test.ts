import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { HashedEmbedder } from '../../../src/toolsearch/hashed-embedder.js';
import { Bm25fIndex } from '../../../src/toolsearch/bm25f.js';
import { NameCoverage } from '../../../src/toolsearch/name-coverage.js';
import { ToolRanking } from '../../../src/toolsearch/ranking.js';
import { embeddingText, type ToolDoc } from '../../../src/toolsearch/tool-doc.js';

const doc = (server: string, tool: string, description: string, params: string[] = []): ToolDoc => ({
  key: `${server}/${tool}`,
  serverId: server,
  server,
  serverDescription: '',
  tool,
  description,
  params: params.map((name) => ({ name, description: '' })),
});

const tools = [
  doc('nas', 'list_pools', 'List pools.'),
  doc('nas', 'get_pool_status', 'Status, health and usage of a storage pool of the system, with its datasets and disks.', ['pool_name']),
  doc('nas', 'get_system_info', 'Version, uptime and hardware of the storage system.'),
  doc('nas', 'get_user', 'The signed-in user.'),
  doc('db', 'list_tables', 'List the tables of a database.'),
];
const bm25 = new Bm25fIndex(tools);
const names = new NameCoverage(tools, (term) => bm25.idf(term));
const coverage = (query: string) => {
  const scores = names.score(query);
  return Object.fromEntries(tools.map((t, i) => [t.tool, scores?.[i] ?? 0]));
};

describe('name coverage', () => {
  test('a query that says the whole name covers it fully; part of a name covers part, weighted by IDF', () => {
    const c = coverage('list all storage pools of the system');
    assert.equal(c.list_pools, 1);
    assert.ok(c.get_pool_status! > 0 && c.get_pool_status! < 1);
    // "list" is in two names, "tables" in one: the rarer term is most of list_tables' name.
    assert.ok(c.list_tables! > 0 && c.list_tables! < 0.5);
    assert.equal(c.get_user, 0);
  });

  test('a name term that abbreviates a query word by truncation counts (info / information)', () => {
    const c = coverage('system information');
    assert.ok(c.get_system_info! > c.get_pool_status!, 'system and info matched, get not');
    assert.ok(c.get_system_info! < 1);
    assert.equal(coverage('sys').get_system_info, 0, 'only a name term shorter than the query word: not the reverse');
  });

  test('no name term in the query: no coverage at all', () => {
    assert.equal(names.score('weather forecast for tomorrow'), null);
  });

  test('in the ranking, the tool whose name the query covers gains on the others', () => {
    const embedder = new HashedEmbedder();
    const vectors = tools.map((d) => embedder.embedOne(embeddingText(d)));
    const q = 'list all storage pools of the system';
    const margin = (nameWeight: number) => {
      const [first, second] = new ToolRanking(tools, vectors, { lexicalWeight: 0.4, serverWeight: 0.3, nameWeight, diversity: 0 }).search(q, embedder.embedOne(q), 2);
      assert.equal(first!.doc.tool, 'list_pools');
      assert.ok(first!.score <= 1);
      return first!.score - second!.score;
    };
    assert.ok(margin(0.1) > margin(0) + 0.02, `${margin(0.1)} vs ${margin(0)}`);
  });
});
