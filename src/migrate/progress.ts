import { z } from 'zod';
import type { Store } from '../storage/types.js';

/**
 * The collection where a target keeps one progress document per source it was migrated from,
 * under the source's name. Never copied and never counted: it describes the migration, not the gateway.
 */
export const PROGRESS_COLLECTION = 'smartflow_migrate';

const progressSchema = z.object({
  source: z.string(),
  started_at: z.string(),
  finished_at: z.string().nullable(),
  spend: z.object({
    /** Spend rows the target held before this migration's first page (more than 0 only with --force). */
    base_rows: z.number().int().nonnegative(),
    /** Rows copied so far. */
    rows: z.number().int().nonnegative(),
    /** The source's scanSpend cursor after the last copied page; null before the first. */
    cursor: z.string().nullable(),
    /** Rows per page: a resumed run must read the very pages the stopped one read. */
    page_size: z.number().int().positive(),
    done: z.boolean(),
  }),
});

/** How far a migration from one source into this target got. */
export type MigrateProgress = z.infer<typeof progressSchema>;

export class MigrateError extends Error {
  override readonly name = 'MigrateError';
}

/** The progress of the migration from `source` into `target`, if one was started. */
export async function readProgress(target: Store, source: string): Promise<MigrateProgress | undefined> {
  const doc = await target.getDoc<unknown>(PROGRESS_COLLECTION, source);
  if (doc === undefined) return undefined;
  const parsed = progressSchema.safeParse(doc);
  if (!parsed.success) throw new MigrateError(`The target's progress document for ${source} (collection ${PROGRESS_COLLECTION}) is unreadable; delete it to start over.`);
  return parsed.data;
}

/** Saves the progress: an unconditional write, because one migration at a time writes it. */
export async function saveProgress(target: Store, progress: MigrateProgress): Promise<void> {
  await target.putDoc(PROGRESS_COLLECTION, progress.source, progress);
}

/** A new migration's progress. */
export function newProgress(source: string, baseRows: number, pageSize: number, now: Date): MigrateProgress {
  return { source, started_at: now.toISOString(), finished_at: null, spend: { base_rows: baseRows, rows: 0, cursor: null, page_size: pageSize, done: false } };
}
