import type { EventStore } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';

export interface SessionEventStoreLimits {
  /** Events kept per session; the oldest go first. */
  maxEvents: number;
  /** Serialized bytes kept per session; the oldest events go first. */
  maxBytes: number;
}

interface StoredEvent {
  seq: number;
  streamId: string;
  message: JSONRPCMessage;
  bytes: number;
}

/**
 * The events one Streamable HTTP session sent on its SSE streams, kept so a client that lost a
 * stream can reconnect with `Last-Event-ID` and get what it missed (2025-03-26 resumability).
 * One store per session, in this instance's memory, dropped with the session. Bounded: when
 * over `maxEvents` or `maxBytes` the oldest events are forgotten, so a client away for too
 * long resumes with a gap rather than the gateway growing without limit.
 */
export class SessionEventStore implements EventStore {
  private readonly events: StoredEvent[] = [];
  /** Events held per stream: a stream none of whose events are left is forgotten (a POST stream per request would pile up). */
  private readonly streams = new Map<string, number>();
  private seq = 0;
  private bytes = 0;

  constructor(private readonly limits: SessionEventStoreLimits) {}

  /** Events held now (for the limits' sake). */
  get size(): number {
    return this.events.length;
  }

  async storeEvent(streamId: string, message: JSONRPCMessage): Promise<string> {
    this.seq += 1;
    const bytes = Buffer.byteLength(JSON.stringify(message));
    this.events.push({ seq: this.seq, streamId, message, bytes });
    this.streams.set(streamId, (this.streams.get(streamId) ?? 0) + 1);
    this.bytes += bytes;
    while (this.events.length > this.limits.maxEvents || (this.bytes > this.limits.maxBytes && this.events.length > 1)) {
      const dropped = this.events.shift()!;
      this.bytes -= dropped.bytes;
      const left = (this.streams.get(dropped.streamId) ?? 1) - 1;
      if (left === 0) this.streams.delete(dropped.streamId);
      else this.streams.set(dropped.streamId, left);
    }
    return `${this.seq}_${streamId}`;
  }

  async getStreamIdForEventId(eventId: string): Promise<string | undefined> {
    return this.parse(eventId)?.streamId;
  }

  async replayEventsAfter(lastEventId: string, { send }: { send: (eventId: string, message: JSONRPCMessage) => Promise<void> }): Promise<string> {
    const last = this.parse(lastEventId);
    if (!last) return '';
    for (const event of this.events) {
      // Priming events (SEP-1699) are stored as `{}`: they only hand the client an id to resume from.
      if (event.seq <= last.seq || event.streamId !== last.streamId || !('jsonrpc' in event.message)) continue;
      await send(`${event.seq}_${event.streamId}`, event.message);
    }
    return last.streamId;
  }

  /** The id's stream, when it is one this store gave out and still holds events of (the event itself may have been dropped). */
  private parse(eventId: string): { seq: number; streamId: string } | undefined {
    const split = eventId.indexOf('_');
    if (split <= 0) return undefined;
    const seq = Number(eventId.slice(0, split));
    const streamId = eventId.slice(split + 1);
    if (!Number.isSafeInteger(seq) || seq < 1 || seq > this.seq || !this.streams.has(streamId)) return undefined;
    return { seq, streamId };
  }
}
