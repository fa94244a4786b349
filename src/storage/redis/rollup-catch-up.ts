import type { Redis } from 'ioredis';
import { rollUp } from '../../spend/spend-rollup.js';
import type { SpendRecord } from '../../spend/spend-record.js';
import { ADD_UNMARKED, READ_UNMARKED } from './spend-rollup-lua.js';
import { rollupArgs, type RollupLayout } from './spend-rollups.js';
import { recordOf } from './spend-stream.js';

/** Stream entries per READ_UNMARKED call. */
const BATCH = 1_000;

/**
 * Adds to the rollups every stream entry after the "rolled up to" mark that is not in them: on a
 * stream from before rollups, the whole log (the backfill of an upgrade); afterwards, what
 * gateways of an earlier version appended during a rolling upgrade. Appends move the mark along
 * as long as nothing unmarked lies behind them (spend-rollup-lua.ts), so once caught up this
 * reads nothing. Batch by batch, each applied only if no other gateway moved the mark meanwhile,
 * so gateways starting together add every entry once.
 */
export async function rollUpUnmarked(client: Redis, layout: RollupLayout, recordField: string): Promise<void> {
  for (;;) {
    const [mark, last, json] = (await READ_UNMARKED.run(client, [layout.spendKey, layout.markKey], [BATCH, recordField])) as [string, string | null, string[]];
    if (last === null) return;
    const records = json.map((j) => recordOf([recordField, j])).filter((r): r is SpendRecord => r !== undefined);
    const { keys, args } = rollupArgs(layout, rollUp(records), 'add');
    // 0 when another gateway moved the mark first: the next read starts from where it left it.
    await ADD_UNMARKED.run(client, [layout.markKey, ...keys], [mark, last, ...args]);
  }
}
