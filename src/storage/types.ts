import type { SpendPage, SpendQuery, SpendRecord, SpendSummary, SpendSummaryQuery } from '../spend/spend-record.js';
import type { SpendRollupRow } from '../spend/spend-rollup.js';

/** A document with the version of its last write (1 after creation, +1 on each write). */
export interface VersionedDoc<T> {
  doc: T;
  version: number;
}

/** A stored JSON document with its id. */
export interface StoredDoc<T> {
  id: string;
  doc: T;
  version: number;
}

export interface ListOptions {
  /** At most this many documents (default 100). */
  limit?: number;
  /** Opaque cursor from a previous page. */
  cursor?: string;
}

export interface DocPage<T> {
  items: Array<StoredDoc<T>>;
  next_cursor: string | null;
}

/** One counter in an atomic guarded increment. */
export interface GuardedIncrement {
  key: string;
  delta: number;
  /** The increment is refused if it would take the counter above this value. Omit for no limit. */
  limit?: number;
  /** Expire the counter this many ms after its first increment (period-keyed counters). */
  ttl_ms?: number;
  /**
   * Money (budget spend and reservations): a store that keeps counters in a cache it may lose
   * (PostgreSQL with Redis in front) writes this one behind to durable storage. Others ignore it.
   */
  durable?: boolean;
}

export type GuardedIncrementResult =
  | { ok: true; values: number[] }
  /** `index` is the first entry whose limit would be exceeded; `values` are the unchanged current values. */
  | { ok: false; index: number; values: number[] };

/** One set's outcome in a batch: its result, or the error that set alone failed with (an invalid number). */
export type GuardedIncrementBatchResult = GuardedIncrementResult | { ok: false; error: Error };

/** A live counter as Store.scanCounters reads it and Store.importCounter writes it. */
export interface CounterItem {
  key: string;
  value: number;
  /** Milliseconds until it expires; null when it never does. */
  ttl_ms: number | null;
}

/** A live entry as Store.scanEntries reads it (Store.setEntry writes it back). */
export interface EntryItem {
  key: string;
  value: string;
  /** Milliseconds until it expires. */
  ttl_ms: number;
}

/** One page of a scan; pass `next_cursor` back as `cursor` for the next, until it is null. */
export interface ScanPage<T> {
  items: T[];
  next_cursor: string | null;
}

/** How many live entries a group holds and the bytes of their values. */
export interface EntryMeasure {
  entries: number;
  bytes: number;
}

export type Unsubscribe = () => Promise<void>;

/**
 * The gateway's one storage interface. Three backends implement it (SQLite, Redis, PostgreSQL)
 * and one contract suite (test/contract/storage.contract.ts) runs against all three.
 *
 * Every method may reject with GatewayError SF_ERR_STORE_UNAVAILABLE when the backend
 * cannot be reached.
 */
export interface Store {
  readonly kind: 'sqlite' | 'redis' | 'postgres';

  // Documents by collection (keys, teams, chains, servers ...). Collections and ids are free-form strings.
  getDoc<T>(collection: string, id: string): Promise<T | undefined>;
  /** The document with its version, for a compare-and-set write. */
  getVersionedDoc<T>(collection: string, id: string): Promise<VersionedDoc<T> | undefined>;
  /**
   * Unconditional upsert (bumps the version). Only for documents written once or by one writer;
   * documents that admins and sync jobs change go through compareAndSetDoc (storage/update-doc.ts).
   */
  putDoc<T>(collection: string, id: string, doc: T): Promise<void>;
  /**
   * Writes the document only if its stored version is still `expectedVersion` (0: only if no
   * document has this id). Returns the new version, or null when another writer came first.
   * Atomic across instances.
   */
  compareAndSetDoc<T>(collection: string, id: string, doc: T, expectedVersion: number): Promise<number | null>;
  /** Insert only if no document has this id; returns false when one exists. */
  createDoc<T>(collection: string, id: string, doc: T): Promise<boolean>;
  deleteDoc(collection: string, id: string): Promise<boolean>;
  /** Documents ordered by id. */
  listDocs<T>(collection: string, options?: ListOptions): Promise<DocPage<T>>;

  // Atomic integer counters (money in micro-USD, request counts, tokens).
  getCounter(key: string): Promise<number>;
  /** Adds delta (may be negative) and returns the new value. ttl_ms sets the expiry when the counter is created. */
  incrCounter(key: string, delta: number, ttl_ms?: number): Promise<number>;
  /** Applies every increment or none: refused if any entry would exceed its limit. Atomic across instances. */
  guardedIncrement(entries: GuardedIncrement[]): Promise<GuardedIncrementResult>;
  /**
   * Several independent guarded increments, applied in order in one transaction (SQLite) or one
   * round trip (Redis): each is all-or-nothing on its own, exactly as if made one after another.
   * A set with an invalid number (not a safe integer) fails alone with `{ ok: false, error }`
   * and changes nothing; the call itself rejects only when the store fails.
   */
  guardedIncrementBatch(batches: GuardedIncrement[][]): Promise<GuardedIncrementBatchResult[]>;

  // Entries that expire (cache entries, OAuth state, locks).
  setEntry(key: string, value: string, ttl_ms: number): Promise<void>;
  getEntry(key: string): Promise<string | undefined>;
  deleteEntry(key: string): Promise<boolean>;
  /** Deletes every entry whose key starts with prefix; returns how many went. */
  deleteEntriesByPrefix(prefix: string): Promise<number>;
  /**
   * Live entries whose key starts with prefix and the UTF-8 bytes of their values, grouped by
   * the part of the key after the prefix up to the next `:` (all of it when there is none).
   * For statistics: it reads every matching key.
   */
  measureEntries(prefix: string): Promise<Map<string, EntryMeasure>>;

  // Publish/subscribe for cross-instance invalidation. SQLite: in-process only.
  publish(channel: string, message: string): Promise<void>;
  subscribe(channel: string, handler: (message: string) => void): Promise<Unsubscribe>;

  // The spend log, and its daily rollups (totals per UTC day, key, team and model, spend/spend-rollup.ts).
  /** Appends the rows and adds them to the rollups, in one write: all or nothing. */
  appendSpend(records: SpendRecord[]): Promise<void>;
  querySpend(query: SpendQuery): Promise<SpendPage>;
  /**
   * Totals per key or per team over a time range, most expensive first (ties by id): the whole
   * UTC days from the rollups, the partial days at the edges from the raw rows (storage/spend-summary.ts).
   */
  summarizeSpend(query: SpendSummaryQuery): Promise<SpendSummary>;
  /**
   * Deletes at most `limit` of the oldest spend rows whose time is before `time` (retention) and
   * returns how many went; 0 when none is left. Never deletes a row at or after `time`. Redis keeps
   * its stream in append order and stops at the first newer row, so a row written late behind it
   * waits for a later call. The rollups keep counting the deleted rows.
   */
  deleteSpendBefore(time: number, limit: number): Promise<number>;
  /**
   * Deletes the rollups of at most `limit` of the oldest days that ended at or before `time`
   * (rollup retention) and returns how many days went; 0 when none is left.
   */
  deleteSpendRollupsBefore(time: number, limit: number): Promise<number>;

  // Export and import, for `smartflow migrate` (src/migrate/); never on a request path. Scans
  // page with ListOptions (`limit` 500 by default, at most 1,000) and return everything live for
  // the whole scan at least once. Redis follows SCAN: `limit` is a hint, a page may be larger,
  // smaller or empty with a cursor, and a key may come twice.
  /** The collections that hold at least one document, in byte order. */
  listCollections(): Promise<string[]>;
  /**
   * Writes a document with the given version (a positive safe integer), replacing any with its id:
   * a copy keeps the versions its ETags and compare-and-set writers know.
   */
  importDoc<T>(collection: string, id: string, doc: T, version: number): Promise<void>;
  /** Live counters with the time each has left. */
  scanCounters(options?: ListOptions): Promise<ScanPage<CounterItem>>;
  /** Sets a counter to `value` expiring in `ttl_ms` (null: never; <= 0: deletes it), whatever it held. */
  importCounter(counter: CounterItem): Promise<void>;
  /** Live entries with the time each has left. */
  scanEntries(options?: ListOptions): Promise<ScanPage<EntryItem>>;
  /** The whole spend log oldest first, in the store's own order (Redis: append order). */
  scanSpend(options?: ListOptions): Promise<SpendPage>;
  /**
   * Appends rows in exactly the given order (appendSpend sorts each batch by time and id), so
   * rows copied oldest first from scanSpend come back newest first as they did from the source.
   * Adds them to the rollups as appendSpend does. All or nothing. Redis gives each row a stream
   * id from its time, so time ranges find it.
   */
  importSpend(records: SpendRecord[]): Promise<void>;
  /** The raw rows the spend log holds. */
  countSpend(): Promise<number>;
  /**
   * The rollups, oldest day first, a day's rows by key, team and model (null first, then byte
   * order). A page holds whole days: as many as fit in `limit` rows, and at least one, which may
   * hold more.
   */
  scanSpendRollups(options?: ListOptions): Promise<ScanPage<SpendRollupRow>>;
  /**
   * Writes rollup rows, each replacing the one of its day, key, team and model: after
   * importSpend added the copied raw rows, this restores the totals of days whose raw rows the
   * source no longer held. All or nothing.
   */
  importSpendRollups(rows: SpendRollupRow[]): Promise<void>;

  /** Resolves when the backend answers; used by /health/readiness. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

export interface StoreOptions {
  /** Clock for expiry decisions the backend makes itself (SQLite); tests pass a controllable one. */
  now?: () => number;
  /** Key prefix for every key the backend writes (Redis), so tests and tenants can share a server. */
  prefix?: string;
}
