import type { Store, Unsubscribe } from '../storage/types.js';
import { UNCHANGED, updateDoc } from '../storage/update-doc.js';
import { TERMINAL_STATES, type TaskEvent, type TaskRecord, type TaskState, type TaskStatus } from './task-model.js';

const COLLECTION = 'a2a_tasks';
/** Every instance listens here; the one running the task aborts it. */
const CANCEL_CHANNEL = 'a2a-task-cancel';
const changedChannel = (id: string) => `a2a-task:${id}`;

type EventInput = TaskEvent extends infer E ? (E extends TaskEvent ? Omit<E, 'seq'> : never) : never;

/**
 * Tasks in the Store (SQLite or Redis) as documents written with compare-and-set, so the runner
 * and a cancel arriving on another instance cannot undo each other. Every change is announced on
 * the task's channel: streams on any instance re-read the record and send the events they have
 * not sent yet, so a resubscribe works wherever the task runs.
 */
export class TaskStore {
  constructor(
    private readonly store: Store,
    private readonly options: { retentionMs: number; now: () => number },
  ) {}

  async create(task: TaskRecord): Promise<void> {
    await this.store.putDoc(COLLECTION, task.id, task);
    await this.announce(task.id);
  }

  /** The task, or undefined when unknown or past retention (then it is removed). */
  async get(id: string): Promise<TaskRecord | undefined> {
    const task = await this.store.getDoc<TaskRecord>(COLLECTION, id);
    if (task && this.expired(task)) {
      await this.store.deleteDoc(COLLECTION, id);
      return undefined;
    }
    return task;
  }

  /**
   * Applies `change` with compare-and-set unless the task already ended (a late runner write after
   * a cancel changes nothing). Returns the record as stored afterwards.
   */
  async update(id: string, change: (task: TaskRecord) => TaskRecord | typeof UNCHANGED, options: { evenIfTerminal?: boolean } = {}): Promise<TaskRecord | undefined> {
    const result = await updateDoc<TaskRecord>(this.store, COLLECTION, id, (task) => {
      if (!options.evenIfTerminal && TERMINAL_STATES.has(task.status.state)) return UNCHANGED;
      const next = change(task);
      return next === UNCHANGED ? next : { ...next, updated_at: this.options.now() };
    });
    if (result && result.after !== result.before) await this.announce(id);
    return result?.after;
  }

  /** Appends events (numbered in order) and, for a status event, moves the task to that status. */
  async emit(id: string, events: EventInput[], extra: (task: TaskRecord) => Partial<TaskRecord> = () => ({})): Promise<TaskRecord | undefined> {
    return this.update(id, (task) => {
      let seq = task.events.length;
      const numbered = events.map((e) => ({ ...e, seq: ++seq }) as TaskEvent);
      const lastStatus = [...numbered].reverse().find((e) => e.kind === 'status-update');
      return { ...task, ...extra(task), events: [...task.events, ...numbered], ...(lastStatus && lastStatus.kind === 'status-update' ? { status: lastStatus.status } : {}) };
    });
  }

  /** A status event for the task's current ids. */
  static status(task: Pick<TaskRecord, 'id' | 'contextId'>, state: TaskState, now: number, message?: TaskStatus['message']): EventInput {
    const status: TaskStatus = { state, timestamp: new Date(now).toISOString(), ...(message ? { message } : {}) };
    return { kind: 'status-update', taskId: task.id, contextId: task.contextId, status, final: TERMINAL_STATES.has(state) || state === 'input-required' };
  }

  /** Tasks newest first, filtered; reads every task document (an audit listing, not a hot path). */
  async list(filter: { agent?: string; state?: string; trace_id?: string; contextId?: string; limit: number }): Promise<TaskRecord[]> {
    const out: TaskRecord[] = [];
    let cursor: string | undefined;
    do {
      const page = await this.store.listDocs<TaskRecord>(COLLECTION, { limit: 500, ...(cursor ? { cursor } : {}) });
      for (const { id, doc } of page.items) {
        if (this.expired(doc)) {
          await this.store.deleteDoc(COLLECTION, id);
          continue;
        }
        if (filter.agent !== undefined && doc.agent !== filter.agent) continue;
        if (filter.state !== undefined && doc.status.state !== filter.state) continue;
        if (filter.trace_id !== undefined && doc.trace_id !== filter.trace_id) continue;
        if (filter.contextId !== undefined && doc.contextId !== filter.contextId) continue;
        out.push(doc);
      }
      cursor = page.next_cursor ?? undefined;
    } while (cursor);
    return out.sort((a, b) => b.created_at - a.created_at || (a.id < b.id ? 1 : -1)).slice(0, filter.limit);
  }

  /** Calls `listener` whenever the task changes, on any instance. */
  watch(id: string, listener: () => void): Promise<Unsubscribe> {
    return this.store.subscribe(changedChannel(id), listener);
  }

  /** Asks whichever instance runs the task to abort it. */
  requestCancel(id: string): Promise<void> {
    return this.store.publish(CANCEL_CHANNEL, id);
  }

  onCancelRequest(listener: (id: string) => void): Promise<Unsubscribe> {
    return this.store.subscribe(CANCEL_CHANNEL, listener);
  }

  private announce(id: string): Promise<void> {
    return this.store.publish(changedChannel(id), '1');
  }

  private expired(task: TaskRecord): boolean {
    return task.updated_at + this.options.retentionMs < this.options.now();
  }
}
