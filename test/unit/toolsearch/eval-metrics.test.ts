import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, test } from 'node:test';
import { ndcgAt, recallAt } from '../../../scripts/toolsearch-eval/metrics.js';

const run = promisify(execFile);
const close = (actual: number, expected: number) => assert.ok(Math.abs(actual - expected) < 1e-9, `${actual} != ${expected}`);

describe('tool search eval metrics', () => {
  test('recall@k counts groups with any member in the top k', () => {
    const groups = [['a1', 'a2'], ['b']];
    close(recallAt(['x', 'a2', 'b'], groups, 1), 0);
    close(recallAt(['x', 'a2', 'b'], groups, 2), 0.5);
    close(recallAt(['x', 'a2', 'b'], groups, 5), 1);
  });

  test('nDCG@5: binary gain only for a rank that covers a new group, over the ideal for the number of groups', () => {
    // Ranks 2 and 4 cover the two groups: (1/log2 3 + 1/log2 5) / (1 + 1/log2 3).
    close(ndcgAt(['x', 'a', 'y', 'b'], [['a'], ['b']], 5), (1 / Math.log2(3) + 1 / Math.log2(5)) / (1 + 1 / Math.log2(3)));
    // A second member of a covered group gains nothing: (1 + 1/log2 4) / (1 + 1/log2 3).
    close(ndcgAt(['a1', 'a2', 'b'], [['a1', 'a2'], ['b']], 5), (1 + 0.5) / (1 + 1 / Math.log2(3)));
    close(ndcgAt(['a'], [['a']], 5), 1);
    close(ndcgAt(['x', 'y'], [['a']], 5), 0);
    // More groups than ranks: the ideal stops at rank 5.
    close(ndcgAt(['a', 'b', 'c', 'd', 'e'], [['a'], ['b'], ['c'], ['d'], ['e'], ['f']], 5), 1);
  });

  test('npm run eval:toolsearch on a hand-made file: exact recall@1, recall@5 and nDCG@5', async () => {
    const { stdout } = await run(process.execPath, ['--import', 'tsx', 'scripts/toolsearch-eval/run.ts', 'test/unit/fixtures/toolsearch-tiny.json']);
    const out = JSON.parse(stdout);
    assert.equal(out.tools, 4);
    assert.equal(out.queries, 3);
    // read a file: found first (1, 1, 1); email + issue: one of two at rank 1, both in the top 2 (0.5, 1, 1); no such tool (0, 0, 0).
    assert.equal(out.recall_at_1, 0.5);
    assert.equal(out.recall_at_5, 0.667);
    assert.equal(out.ndcg_at_5, 0.667);
  });
});
