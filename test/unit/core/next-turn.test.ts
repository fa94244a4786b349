import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { nextTurn } from '../../../src/core/next-turn.js';

describe('nextTurn', () => {
  test('callers of one turn share one wait and resume together, in the order they asked', async () => {
    const order: string[] = [];
    const first = nextTurn();
    const second = nextTurn();
    assert.equal(first, second, 'one promise per turn');
    const a = first.then(() => order.push('a'));
    const b = second.then(() => order.push('b'));
    await Promise.all([a, b]);
    assert.deepEqual(order, ['a', 'b']);
  });

  test('a caller that arrives after the turn has resumed waits for the next one', async () => {
    const first = nextTurn();
    await first;
    const later = nextTurn();
    assert.notEqual(later, first);
    let resolved = false;
    void later.then(() => (resolved = true));
    await Promise.resolve();
    assert.equal(resolved, false, 'it does not resolve in the same microtask run');
    await later;
    assert.equal(resolved, true);
  });
});
