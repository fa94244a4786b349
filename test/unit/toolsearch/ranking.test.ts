import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { HashedEmbedder } from '../../../src/toolsearch/hashed-embedder.js';
import { DEFAULT_RANKING, ToolRanking } from '../../../src/toolsearch/ranking.js';
import { splitWords, stem, terms } from '../../../src/toolsearch/text.js';
import { embeddingText, type ToolDoc } from '../../../src/toolsearch/tool-doc.js';

const doc = (server: string, tool: string, description: string, params: string[] = [], serverDescription = ''): ToolDoc => ({
  key: `${server}/${tool}`,
  serverId: server,
  server,
  serverDescription,
  tool,
  description,
  params: params.map((name) => ({ name, description: '' })),
});

describe('text normalisation', () => {
  test('identifiers split on camelCase, snake_case, kebab-case, acronyms and digits', () => {
    assert.deepEqual(splitWords('readMultipleFiles list_dir get-HTTPResponse v2Api'), ['read', 'multiple', 'files', 'list', 'dir', 'get', 'http', 'response', 'v', '2', 'api']);
  });

  test('inflections meet their stem; short words stay whole', () => {
    for (const [a, b] of [['files', 'file'], ['reading', 'read'], ['created', 'create'], ['creates', 'creating'], ['directories', 'directory'], ['running', 'run'], ['updated', 'updates']]) {
      assert.equal(stem(a!), stem(b!), `${a} / ${b}`);
    }
    assert.equal(stem('bus'), 'bus');
    assert.equal(stem('is'), 'is');
  });

  test('stop words and bare numbers are no terms', () => {
    assert.deepEqual(terms('Please list the 20 newest issues of my repo'), ['list', 'newest', 'issu', 'repo']);
  });
});

describe('hybrid ranking', () => {
  const docs = [
    doc('fs', 'read_file', 'Read the complete contents of a file as text.', ['path']),
    doc('fs', 'write_file', 'Create a new file or overwrite an existing file.', ['path', 'content']),
    doc('fs', 'list_directory', 'Get a detailed listing of all files and directories in a path.', ['path']),
    doc('github', 'create_issue', 'Open a new issue in a repository.', ['owner', 'repo', 'title'], 'GitHub API'),
    doc('slack', 'post_message', 'Post a message to a channel.', ['channel_id', 'text'], 'Slack workspace'),
  ];
  const embedder = new HashedEmbedder();
  const ranking = new ToolRanking(docs, docs.map((d) => embedder.embedOne(embeddingText(d))), DEFAULT_RANKING);
  const keys = (q: string, k = 3, allow?: (d: ToolDoc) => boolean) => ranking.search(q, embedder.embedOne(q), k, allow).map((r) => r.doc.key);

  test('field matches rank the right tool first, through inflections and identifier splitting', () => {
    assert.equal(keys('reading files')[0], 'fs/read_file');
    assert.equal(keys('list the directories')[0], 'fs/list_directory');
    assert.equal(keys('open an issue on GitHub')[0], 'github/create_issue');
    assert.equal(keys('send a message to a Slack channel')[0], 'slack/post_message');
  });

  test('the embedder ranks by shared word parts when no whole word matches', () => {
    assert.deepEqual(ranking.search('dirs', null, 5).map((r) => r.doc.key), [], 'no shared term: nothing lexically');
    assert.equal(keys('dirs')[0], 'fs/list_directory');
  });

  test('matched names the query terms the tool contains; allow filters before k is cut', () => {
    const [best] = ranking.search('read a file', embedder.embedOne('read a file'), 1);
    assert.deepEqual(best!.matched.sort(), ['file', 'read']);
    const others = keys('read a file', 1, (d) => d.server !== 'fs');
    assert.equal(others.length, 1, 'the best allowed tool, not an empty page');
    assert.ok(!others[0]!.startsWith('fs/'));
  });

  test("a server that matches the query lifts its other matching tools (cluster smoothing); the best tool keeps its place", () => {
    const tools = [
      doc('jotter', 'create_note', 'Create a note in the notebook.', ['title', 'content']),
      doc('jotter', 'files', 'Show the files it holds.'),
      doc('drive', 'show_files', 'Show the files on a drive.'),
    ];
    const vectors = tools.map((d) => embedder.embedOne(embeddingText(d)));
    const q = 'create a note in my notebook, then show the files';
    const order = (serverWeight: number) => new ToolRanking(tools, vectors, { lexicalWeight: 0.4, serverWeight, nameWeight: 0, diversity: 0 }).search(q, embedder.embedOne(q), 3).map((r) => r.doc.key);
    assert.deepEqual(order(0), ['jotter/create_note', 'drive/show_files', 'jotter/files'], 'by its own score alone the other server\'s tool is second');
    assert.deepEqual(order(0.3), ['jotter/create_note', 'jotter/files', 'drive/show_files']);
    const hidden = new ToolRanking(tools, vectors, { lexicalWeight: 0.4, serverWeight: 0.3, nameWeight: 0, diversity: 0 }).search(q, embedder.embedOne(q), 2, (d) => d.tool !== 'create_note');
    assert.deepEqual(hidden.map((r) => r.doc.key), ['drive/show_files', 'jotter/files'], 'a tool the caller may not use lends its server no weight');
    assert.ok(hidden.every((r) => r.score > 0 && r.score <= 1));
  });

  test('the offline embedder is deterministic and unit length', () => {
    const a = embedder.embedOne('Read a file');
    const b = embedder.embedOne('Read a file');
    assert.deepEqual([...a], [...b]);
    assert.ok(Math.abs(a.reduce((s, x) => s + x * x, 0) - 1) < 1e-5);
    assert.equal(a.length, embedder.dimensions);
  });
});
