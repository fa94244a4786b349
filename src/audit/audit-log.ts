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

/** Append-only record of admin actions, kept in the store. */
export class AuditLog {
  constructor(
    private readonly store: Store,
    private readonly now: () => number,
  ) {}

  async record(event: Omit<AuditEvent, 'id' | 'time'>): Promise<AuditEvent> {
    const time = this.now();
    const id = `${String(TIME_CEILING - time).padStart(13, '0')}-${randomBytes(4).toString('hex')}`;
    const full: AuditEvent = { id, time, ...event };
    await this.store.putDoc(COLLECTION, id, full);
    return full;
  }

  /** Newest first. */
  async list(options: ListOptions): Promise<DocPage<AuditEvent>> {
    return this.store.listDocs<AuditEvent>(COLLECTION, options);
  }
}
