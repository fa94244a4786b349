import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { countRows, formatCountTable, mismatches } from '../../../src/migrate/count-table.js';
import type { Inventory } from '../../../src/migrate/inventory.js';

const inventory = (fields: Partial<Inventory>): Inventory => ({
  documents: new Map(),
  counters: { lasting: 0, expiries: [] },
  entries: { lasting: 0, expiries: [] },
  spendRows: 0,
  rollups: { rows: 0, requests: 0 },
  ...fields,
});

describe('migrate count check', () => {
  test('expiring items count at one moment on both sides: one that expired between the two reads counts on neither', () => {
    const source = inventory({ counters: { lasting: 2, expiries: [1_000, 5_000] }, entries: { lasting: 0, expiries: [999, 2_000] } });
    // The target was read later: the counter expiring at 1,000 was already gone, the entry of 999 too.
    const target = inventory({ counters: { lasting: 2, expiries: [5_000] }, entries: { lasting: 0, expiries: [2_000] } });
    const rows = countRows(source, target, 1_500);
    assert.deepEqual(rows.find((r) => r.what === 'counters'), { what: 'counters', source: 3, target: 3 });
    assert.deepEqual(rows.find((r) => r.what === 'entries'), { what: 'entries', source: 1, target: 1 });
    assert.deepEqual(mismatches(rows), []);
  });

  test('every collection either side holds is a row; a difference is marked', () => {
    const rows = countRows(
      inventory({ documents: new Map([['vkeys', 2], ['teams', 1]]), spendRows: 6, rollups: { rows: 4, requests: 90 } }),
      inventory({ documents: new Map([['vkeys', 3], ['audit', 1]]), spendRows: 6, rollups: { rows: 4, requests: 6 } }),
      0,
    );
    assert.deepEqual(mismatches(rows).map((r) => r.what), ['documents audit', 'documents teams', 'documents vkeys', 'spend rollup requests']);
    assert.equal(
      formatCountTable(rows),
      [
        '                       source  target',
        'documents audit             0       1  <- differs',
        'documents teams             1       0  <- differs',
        'documents vkeys             2       3  <- differs',
        'counters                    0       0',
        'entries                     0       0',
        'spend rows                  6       6',
        'spend rollups               4       4',
        'spend rollup requests      90       6  <- differs',
      ].join('\n'),
    );
    assert.equal(
      formatCountTable(countRows(inventory({ spendRows: 12, rollups: { rows: 3, requests: 40 } }), undefined, 0)),
      ['                       source', 'counters                    0', 'entries                     0', 'spend rows                 12', 'spend rollups               3', 'spend rollup requests      40'].join('\n'),
    );
  });
});
