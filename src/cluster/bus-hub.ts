import type { Worker } from 'node:cluster';
import type { BusWire } from '../storage/sqlite/cluster-relay.js';

interface Pending {
  from: Worker;
  id: number;
  waitingFor: Set<number>;
}

/**
 * The primary's half of the SQLite store's cross-worker pub/sub (storage/sqlite/cluster-relay.ts):
 * a message from one worker goes to every other live worker; when they have all acknowledged
 * it (or died), the publisher hears "done".
 */
export class BusHub {
  private readonly workers = new Map<number, Worker>();
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;

  /** Listens to a new worker; it receives messages once its relay has joined (before, nothing would acknowledge them). */
  add(worker: Worker): void {
    worker.on('message', (raw: unknown) => this.receive(worker, raw));
  }

  /** A worker that is gone acknowledges nothing: stop waiting for it. */
  remove(worker: Worker): void {
    this.workers.delete(worker.id);
    for (const [id, p] of this.pending) {
      if (p.waitingFor.delete(worker.id)) this.settleIfDone(id, p);
    }
  }

  private receive(worker: Worker, raw: unknown): void {
    if (typeof raw !== 'object' || raw === null) return;
    const msg = raw as Partial<BusWire>;
    if (msg.sf === 'bus-join') this.workers.set(worker.id, worker);
    else if (msg.sf === 'bus' && typeof msg.id === 'number') {
      const id = this.nextId++;
      const p: Pending = { from: worker, id: msg.id, waitingFor: new Set() };
      for (const other of this.workers.values()) {
        if (other === worker || !other.isConnected()) continue;
        p.waitingFor.add(other.id);
        other.send({ ...(msg as BusWire), id });
      }
      this.pending.set(id, p);
      this.settleIfDone(id, p);
    } else if (msg.sf === 'bus-ack' && typeof msg.id === 'number') {
      const p = this.pending.get(msg.id);
      if (p && p.waitingFor.delete(worker.id)) this.settleIfDone(msg.id, p);
    }
  }

  private settleIfDone(id: number, p: Pending): void {
    if (p.waitingFor.size > 0) return;
    this.pending.delete(id);
    if (p.from.isConnected()) p.from.send({ sf: 'bus-done', id: p.id } satisfies BusWire);
  }
}
