import { createHash } from 'node:crypto';
import pg from 'pg';
import { deliverMessage } from '../deliver-message.js';

type Handler = (message: string) => void;

/** NOTIFY payloads must be shorter than 8,000 bytes; longer messages travel through the messages table. */
const MAX_PAYLOAD_BYTES = 7_900;
/** How long a long message's row is kept for listeners to read it. */
const LONG_MESSAGE_TTL_MS = 60_000;
const RECONNECT_MIN_MS = 100;
const RECONNECT_MAX_MS = 2_000;

/** What one notification carries: the gateway channel and either the message or the row holding it. */
type Payload = { c: string; m: string } | { c: string; r: number };

/** One PostgreSQL channel per schema, so stores on other schemas of the same database hear nothing. */
export function notifyChannel(schema: string): string {
  return `smartflow_${createHash('sha256').update(schema).digest('hex').slice(0, 24)}`;
}

export interface NotificationBusOptions {
  /** Client settings for the listening connection (the pool's, without pooling). */
  clientConfig: pg.ClientConfig;
  pool: pg.Pool;
  channel: string;
  now: () => number;
}

/**
 * Publish/subscribe over LISTEN/NOTIFY. Every store listens on one dedicated connection to one
 * PostgreSQL channel and fans messages out to its handlers by gateway channel. A dropped
 * connection is re-established in the background (messages sent meanwhile are lost, as with
 * Redis pub/sub); publishing goes through the pool, so it does not depend on the listener.
 */
export class NotificationBus {
  private readonly handlers = new Map<string, Set<Handler>>();
  private client: pg.Client | undefined;
  private closed = false;
  private reconnectDelay = RECONNECT_MIN_MS;
  private reconnectTimer: NodeJS.Timeout | undefined;
  /** Delivery of a long message whose row is being read; later notifications queue behind it. */
  private pending: Promise<void> | undefined;

  constructor(private readonly options: NotificationBusOptions) {}

  /** Connects and starts listening; rejects when the server cannot be reached. */
  async start(): Promise<void> {
    this.client = await this.listen();
  }

  async publish(channel: string, message: string): Promise<void> {
    let payload = JSON.stringify({ c: channel, m: message } satisfies Payload);
    if (Buffer.byteLength(payload) > MAX_PAYLOAD_BYTES) {
      const { rows } = await this.options.pool.query<{ id: number }>('INSERT INTO messages (body, expires_at) VALUES ($1, $2) RETURNING id', [
        message,
        this.options.now() + LONG_MESSAGE_TTL_MS,
      ]);
      payload = JSON.stringify({ c: channel, r: rows[0]!.id } satisfies Payload);
    }
    await this.options.pool.query('SELECT pg_notify($1, $2)', [this.options.channel, payload]);
  }

  /** Adds a handler; the connection already listens, so the subscription is live when this returns. */
  subscribe(channel: string, handler: Handler): () => void {
    let set = this.handlers.get(channel);
    if (!set) this.handlers.set(channel, (set = new Set()));
    // Each subscription gets its own wrapper so the same function subscribed twice is two subscriptions.
    const entry: Handler = (message) => handler(message);
    set.add(entry);
    return () => {
      const current = this.handlers.get(channel);
      current?.delete(entry);
      if (current?.size === 0) this.handlers.delete(channel);
    };
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.reconnectTimer);
    this.handlers.clear();
    const client = this.client;
    this.client = undefined;
    await client?.end().catch(() => undefined);
  }

  private async listen(): Promise<pg.Client> {
    const client = new pg.Client(this.options.clientConfig);
    // Failures surface as 'error' then 'end'; without a listener the process would crash.
    client.on('error', () => undefined);
    try {
      await client.connect();
      await client.query(`LISTEN ${this.options.channel}`);
    } catch (err) {
      await client.end().catch(() => undefined);
      throw err;
    }
    client.on('notification', (n) => {
      if (n.channel === this.options.channel && n.payload !== undefined) this.receive(n.payload);
    });
    client.on('end', () => {
      if (this.client === client) this.client = undefined;
      this.scheduleReconnect();
    });
    this.reconnectDelay = RECONNECT_MIN_MS;
    return client;
  }

  private scheduleReconnect(): void {
    if (this.closed || this.reconnectTimer !== undefined) return;
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      if (this.closed) return;
      this.listen().then(
        (client) => {
          if (this.closed) void client.end().catch(() => undefined);
          else this.client = client;
        },
        () => {
          this.reconnectDelay = Math.min(this.reconnectDelay * 2, RECONNECT_MAX_MS);
          this.scheduleReconnect();
        },
      );
    }, this.reconnectDelay);
    this.reconnectTimer.unref();
  }

  /**
   * Hands a notification to its handlers in arrival order: a long message's row is read first,
   * and notifications behind it wait for it.
   */
  private receive(raw: string): void {
    let payload: Payload;
    try {
      payload = JSON.parse(raw) as Payload;
    } catch {
      return;
    }
    if ('m' in payload && this.pending === undefined) {
      this.dispatch(payload.c, payload.m);
      return;
    }
    const queued = (this.pending ?? Promise.resolve()).then(async () => {
      if ('m' in payload) return this.dispatch(payload.c, payload.m);
      const row = await this.options.pool.query<{ body: string }>('SELECT body FROM messages WHERE id = $1', [payload.r]).catch(() => undefined);
      const body = row?.rows[0]?.body;
      if (body !== undefined) this.dispatch(payload.c, body);
    });
    this.pending = queued;
    void queued.then(() => {
      if (this.pending === queued) this.pending = undefined;
    });
  }

  private dispatch(channel: string, message: string): void {
    deliverMessage(this.handlers.get(channel), message);
  }
}
