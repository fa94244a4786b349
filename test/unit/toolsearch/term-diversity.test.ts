import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { diversify } from '../../../src/toolsearch/term-diversity.js';

// Three tools: 0 and 1 match query term 0 ("note"), 2 matches term 1 ("files").
const ranked = [
  { i: 0, score: 0.9 },
  { i: 1, score: 0.85 },
  { i: 2, score: 0.6 },
];
const hits = Uint32Array.from([0b01, 0b01, 0b10]);
const run = (weight: number, k = 3, weights = [1, 1]) => diversify(ranked, k, hits, weights, weight);
const order = (weight: number, k = 3, weights = [1, 1]) => run(weight, k, weights).map((r) => r.i);

describe('term-level diversification', () => {
  test('weight 0: relevance order and scores, cut at k', () => {
    assert.deepEqual(run(0), ranked);
    assert.deepEqual(order(0, 2), [0, 1]);
  });

  test('a tool that brings query terms the list lacks moves up once its relevance plus the bonus beats the next tool', () => {
    // Second place: 0.6 + 0.25 × 1/2 = 0.725 < 0.85, not enough.
    assert.deepEqual(order(0.25, 2), [0, 1]);
    // 0.6 + 0.6 × 1/2 = 0.9 > 0.85.
    assert.deepEqual(order(0.6, 2), [0, 2]);
    assert.deepEqual(order(0.6), [0, 2, 1], 'the near-duplicate still follows');
  });

  test('rarer terms (higher weight) count more', () => {
    assert.deepEqual(order(0.4, 2, [1, 3]), [0, 2], '0.6 + 0.4 × 3/4 = 0.9 > 0.85');
    assert.deepEqual(order(0.4, 2, [3, 1]), [0, 1], '0.6 + 0.4 × 1/4 = 0.7 < 0.85');
  });

  test('first place: the tool matching more of the query gains (coordination)', () => {
    const both = Uint32Array.from([0b01, 0b11]);
    const two = [
      { i: 0, score: 0.8 },
      { i: 1, score: 0.75 },
    ];
    assert.deepEqual(diversify(two, 2, both, [1, 1], 0.25).map((r) => r.i), [1, 0], '0.75 + 0.25 > 0.8 + 0.125');
  });

  test('scores are the ordering\'s values over 1 + weight: best first, within [0, 1]', () => {
    const scores = run(0.6).map((r) => r.score);
    // (0.9 + 0.3) / 1.6, (0.6 + 0.3) / 1.6, 0.85 / 1.6
    assert.deepEqual(scores.map((s) => Math.round(s * 1e4) / 1e4), [0.75, 0.5625, 0.5313]);
  });
});
