import type { Store } from '../storage/types.js';
import { copyDocuments } from './copy-docs.js';
import { copyCounters, copyEntries } from './copy-expiring.js';
import { copySpendRollups } from './copy-rollups.js';
import { copySpend } from './copy-spend.js';
import { countRows, formatCountTable, mismatches } from './count-table.js';
import { countDocuments, takeInventory } from './inventory.js';
import { MigrateError, newProgress, readProgress, saveProgress, type MigrateProgress } from './progress.js';

/** Spend rows per page: one page is all the copy holds in memory (about 1 KB a row). */
const SPEND_PAGE_SIZE = 1_000;

export interface MigrateOptions {
  source: Store;
  target: Store;
  /** The source named without credentials (the CLI uses scheme, host, port, database or path, prefix or schema): the key of its progress in the target. */
  sourceName: string;
  /** Copy into a target that holds another gateway's data. */
  force: boolean;
  /** Prints one line of the report. */
  print: (line: string) => void;
  now?: () => number;
}

/** A source with neither documents nor spend rows is almost always a wrong path, prefix or schema. */
async function requireData(source: Store): Promise<void> {
  const collections = (await source.listCollections()).length;
  if (collections === 0 && (await source.scanSpend({ limit: 1 })).rows.length === 0) {
    throw new MigrateError('The source holds no documents and no spend rows: nothing to migrate. Check --from (and --from-prefix or --from-schema).');
  }
}

/**
 * The progress of this source's migration into the target: resumed when an earlier run saved
 * one, else new. A target that holds documents or spend rows and no progress from this source
 * holds another gateway's data (or one started on it early): copying would mix the two, so it
 * is refused unless `force`.
 */
async function claimTarget(options: MigrateOptions, now: () => number): Promise<{ progress: MigrateProgress; resumed: boolean }> {
  const { target, sourceName, force } = options;
  const saved = await readProgress(target, sourceName);
  if (saved) return { progress: saved, resumed: true };
  const documents = [...(await countDocuments(target)).values()].reduce((a, b) => a + b, 0);
  const spendRows = await target.countSpend();
  if ((documents > 0 || spendRows > 0) && !force) {
    throw new MigrateError(
      `The target already holds ${documents} documents and ${spendRows} spend rows that were not copied from ${sourceName}. ` +
        'Copying would mix two gateways\' data. Use an empty target, or pass --force to copy into this one anyway (what it holds stays, and the count check will show it).',
    );
  }
  const progress = newProgress(sourceName, spendRows, SPEND_PAGE_SIZE, new Date(now()));
  await saveProgress(target, progress);
  return { progress, resumed: false };
}

/** Copies documents, counters, entries, the spend log (from where an earlier run stopped) and its rollups, then marks the migration finished. */
async function copyAll({ source, target, print }: MigrateOptions, progress: MigrateProgress, resumed: boolean, now: () => number): Promise<void> {
  const documents = await copyDocuments(source, target);
  print(`documents: ${[...documents.values()].reduce((a, b) => a + b, 0)} in ${documents.size} collections`);
  print(`counters: ${await copyCounters(source, target, now)}`);
  print(`entries: ${await copyEntries(source, target, now)}`);
  let shown = 0;
  const copied = await copySpend(
    {
      source,
      target,
      progress,
      onPage: (rows) => {
        // A line every 100,000 rows: a long copy shows it is alive without flooding the terminal.
        if (rows - shown < 100_000) return;
        shown = rows;
        print(`spend log: ${rows} rows so far`);
      },
    },
    resumed,
  );
  print(`spend log: ${copied} rows copied${copied === progress.spend.rows ? '' : ` (${progress.spend.rows} in all)`}`);
  print(`spend rollups: ${await copySpendRollups(source, target)} rows copied`);
  progress.finished_at = new Date(now()).toISOString();
  await saveProgress(target, progress);
}

/**
 * Copies everything a gateway keeps from `source` to `target` (documents with their versions,
 * counters and entries with the time they have left, the whole spend log in order, its daily
 * rollups), then verifies by counting both. Resumable: run again after a stop, it finishes
 * without duplicating anything; run again after it finished, it only counts (with `force`, it
 * copies documents, counters, entries and rollups again). The source's gateways must be stopped
 * (or read-only) meanwhile: a counter changed during the copy is copied as it was read. Returns
 * whether the counts match.
 */
export async function migrate(options: MigrateOptions): Promise<boolean> {
  const { source, target, print } = options;
  const now = options.now ?? Date.now;
  await requireData(source);
  const { progress, resumed } = await claimTarget(options, now);
  if (resumed && progress.finished_at !== null && !options.force) {
    // Its gateways may have changed the target since: copying again would undo their writes.
    print(`Migrated from this source before (finished ${progress.finished_at}): nothing copied, only counted (--force copies again).`);
  } else {
    if (resumed && progress.finished_at !== null) print(`Migrated from this source before (finished ${progress.finished_at}): copying documents, counters, entries and spend rollups again; the spend log is complete.`);
    else if (resumed) print(`Resuming the migration started ${progress.started_at}: ${progress.spend.rows} spend rows were copied.`);
    await copyAll(options, progress, resumed, now);
  }

  print('Counting both stores:');
  const [sourceCount, targetCount] = [await takeInventory(source, now), await takeInventory(target, now)];
  // Both read: an item still live now counts, on both sides alike.
  const rows = countRows(sourceCount, targetCount, now());
  print(formatCountTable(rows));
  const differ = mismatches(rows);
  print(differ.length === 0 ? 'OK: every count matches.' : `MISMATCH: ${differ.length} of ${rows.length} counts differ.`);
  return differ.length === 0;
}

/** What `migrate --dry-run` prints: the source's counts, read without writing anything anywhere. */
export async function describeSource(source: Store, print: (line: string) => void, now: () => number = Date.now): Promise<void> {
  print(formatCountTable(countRows(await takeInventory(source, now), undefined, now())));
}
