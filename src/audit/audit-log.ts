import { randomBytes } from 'node:crypto';
import type { DocPage, ListOptions, Store } from '../storage/types.js';

/** One administrative action: who did what to which resource, and when. */
export interface AuditEvent {
  id: string;
  /** Epoch ms. */
  time: number;
  /** The principal id that acted (`master`, later an SSO user). */
  actor: string;
  /** `vkey.create`, `vkey.revoke`, `vkey.budget_reset`, `team.update` ... */
  action: string;
  target_type: string;
  target_id: string;
  details: Record<string, unknown>;
}

const COLLECTION = 'audit';
/** Larger than any epoch ms we will see; ids count down from it so the store's id order is newest first. */
const TIME_CEILING = 9_999_999_999_999;
/** Ids of events in the same millisecond count down from this, so they too list newest first. */
const SEQ_CEILING = 99_999_999;

/** Append-only record of admin actions, kept in the store. */
export class AuditLog {
  /** The time of the last event recorded here, and how many came before it in that millisecond. */
  private lastTime = Number.NaN;
  private seq = 0;

  constructor(
    private readonly store: Store,
    private readonly now: () => number,
  ) {}

  async record(event: Omit<AuditEvent, 'id' | 'time'>): Promise<AuditEvent> {
    const time = this.now();
    // A fast script (or a frozen test clock) records several events in one millisecond; the
    // random suffix alone would list them in random order.
    this.seq = time === this.lastTime ? Math.min(this.seq + 1, SEQ_CEILING) : 0;
    this.lastTime = time;
    const id = `${String(TIME_CEILING - time).padStart(13, '0')}-${String(SEQ_CEILING - this.seq).padStart(8, '0')}-${randomBytes(4).toString('hex')}`;
    const full: AuditEvent = { id, time, ...event };
    await this.store.putDoc(COLLECTION, id, full);
    return full;
  }

  /** Newest first. */
  async list(options: ListOptions): Promise<DocPage<AuditEvent>> {
    return this.store.listDocs<AuditEvent>(COLLECTION, options);
  }
}
