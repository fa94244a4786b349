import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { diversify } from '../../../src/toolsearch/term-diversity.js';

// Three tools: 0 and 1 match query term 0 ("note"), 2 matches term 1 ("files"); equal term weights.
const ranked = [
  { i: 0, score: 0.9 },
  { i: 1, score: 0.85 },
  { i: 2, score: 0.6 },
];
const hits = Uint32Array.from([0b01, 0b01, 0b10]);
const order = (weight: number, k = 3, weights = [1, 1]) => diversify(ranked, k, hits, weights, weight).map((r) => r.i);

describe('term-level diversification', () => {
  test('weight 0: relevance order, cut at k', () => {
    assert.deepEqual(order(0), [0, 1, 2]);
    assert.deepEqual(order(0, 2), [0, 1]);
  });

  test('a tool that brings query terms the list lacks moves up once its relevance plus the bonus beats the next tool', () => {
    // 0.6 + 0.25 × 1/2 = 0.725 < 0.85: not enough.
    assert.deepEqual(order(0.25, 2), [0, 1]);
    // 0.6 + 0.6 × 1/2 = 0.9 > 0.85.
    assert.deepEqual(order(0.6, 2), [0, 2]);
    assert.deepEqual(order(0.6), [0, 2, 1], 'the near-duplicate still follows');
  });

  test('the most relevant tool always stays first; rarer terms (higher weight) count more', () => {
    assert.equal(order(5)[0], 0);
    assert.deepEqual(order(0.4, 2, [1, 3]), [0, 2], '0.6 + 0.4 × 3/4 = 0.9');
    assert.deepEqual(order(0.4, 2, [3, 1]), [0, 1], '0.6 + 0.4 × 1/4 = 0.7');
  });

  test('scores stay the relevance', () => {
    assert.deepEqual(diversify(ranked, 3, hits, [1, 1], 0.6).map((r) => r.score), [0.9, 0.6, 0.85]);
  });
});
