import { lookup } from 'node:dns/promises';
import { BlockList, isIP } from 'node:net';
import { request } from 'undici';
import type { RequestLog } from '../core/request-log.js';
import { RpcError } from './rpc-errors.js';
import { taskView, type PushConfig, type TaskRecord } from './task-model.js';

/** Loopback, link-local, private and other non-public ranges a webhook may not reach by default. */
const NON_PUBLIC = new BlockList();
for (const [net, bits] of [['0.0.0.0', 8], ['10.0.0.0', 8], ['100.64.0.0', 10], ['127.0.0.0', 8], ['169.254.0.0', 16], ['172.16.0.0', 12], ['192.168.0.0', 16], ['198.18.0.0', 15], ['224.0.0.0', 4], ['240.0.0.0', 4]] as const) NON_PUBLIC.addSubnet(net, bits, 'ipv4');
for (const [net, bits] of [['::', 128], ['::1', 128], ['fc00::', 7], ['fe80::', 10], ['ff00::', 8]] as const) NON_PUBLIC.addSubnet(net, bits, 'ipv6');

/** An IPv4-mapped IPv6 address (`::ffff:7f00:1`, `::ffff:127.0.0.1`) as the IPv4 address it stands for. */
function unmapped(address: string): string {
  const mapped = /^::ffff:(?:(\d+\.\d+\.\d+\.\d+)|([0-9a-f]{1,4}):([0-9a-f]{1,4}))$/i.exec(address);
  if (!mapped) return address;
  if (mapped[1]) return mapped[1];
  const hi = Number.parseInt(mapped[2]!, 16);
  const lo = Number.parseInt(mapped[3]!, 16);
  return `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
}

/** Waits between delivery attempts: the first try, then these. */
const RETRY_DELAYS_MS = [250, 1000, 4000];
const TIMEOUT_MS = 5000;

export interface PushNotifierOptions {
  /** `a2a.push_allow_private`: webhooks may target loopback, link-local and private addresses. */
  allowPrivate: boolean;
  log: RequestLog;
  /** Test hook for the retry waits. */
  retryDelaysMs?: readonly number[];
}

/**
 * Validates push-notification webhooks against SSRF and delivers task updates to them: POST of
 * the task (0.3 Task JSON) with the client's token in `X-A2A-Notification-Token`, retried on
 * failure, in order per webhook, and never awaited by the task itself.
 */
export class PushNotifier {
  private readonly queues = new Map<string, Promise<void>>();

  constructor(private readonly options: PushNotifierOptions) {}

  /** Refuses (-32602) a URL that is not http(s) or whose host resolves to a non-public address. */
  async validate(raw: string): Promise<URL> {
    let url: URL;
    try {
      url = new URL(raw);
    } catch {
      throw new RpcError('invalidParams', 'pushNotificationConfig.url is not a URL');
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new RpcError('invalidParams', 'pushNotificationConfig.url must be http(s)');
    if (url.username || url.password) throw new RpcError('invalidParams', 'pushNotificationConfig.url may not hold credentials');
    if (this.options.allowPrivate) return url;
    const host = url.hostname.replace(/^\[|\]$/g, '');
    let addresses: string[];
    try {
      addresses = isIP(host) ? [host] : (await lookup(host, { all: true })).map((a) => a.address);
    } catch {
      throw new RpcError('invalidParams', `pushNotificationConfig.url: the host "${host.slice(0, 100)}" does not resolve`);
    }
    for (const found of addresses) {
      const address = unmapped(found);
      if (NON_PUBLIC.check(address, isIP(address) === 6 ? 'ipv6' : 'ipv4')) throw new RpcError('invalidParams', 'pushNotificationConfig.url points to a loopback, link-local or private address (set a2a.push_allow_private to allow it)');
    }
    return url;
  }

  /** Queues the task's current state for each of its webhooks; returns at once. */
  notify(task: TaskRecord): void {
    for (const config of task.push_configs) {
      const key = `${task.id}|${config.id}`;
      const body = JSON.stringify(taskView(task));
      const next = (this.queues.get(key) ?? Promise.resolve()).then(() => this.deliver(task, config, body));
      this.queues.set(key, next);
      void next.finally(() => {
        if (this.queues.get(key) === next) this.queues.delete(key);
      });
    }
  }

  /** Resolves when every queued delivery has finished (shutdown, tests). */
  async drain(): Promise<void> {
    await Promise.allSettled([...this.queues.values()]);
  }

  private async deliver(task: TaskRecord, config: PushConfig, body: string): Promise<void> {
    const delays = this.options.retryDelaysMs ?? RETRY_DELAYS_MS;
    const headers: Record<string, string> = { 'content-type': 'application/json', 'x-a2a-trace-id': task.trace_id };
    if (config.token) headers['x-a2a-notification-token'] = config.token;
    const credentials = config.authentication?.['credentials'];
    if (typeof credentials === 'string') headers['authorization'] = `Bearer ${credentials}`;
    for (let attempt = 0; attempt <= delays.length; attempt++) {
      try {
        // Checked again at delivery: the name may resolve elsewhere by now.
        await this.validate(config.url);
        const res = await request(config.url, { method: 'POST', headers, body, headersTimeout: TIMEOUT_MS, bodyTimeout: TIMEOUT_MS });
        await res.body.dump();
        if (res.statusCode < 300) return;
        if (res.statusCode < 500 && res.statusCode !== 429) break;
      } catch (err) {
        if (err instanceof RpcError) {
          this.options.log.warn({ a2a_task: task.id, trace_id: task.trace_id, err: err.message }, 'A2A push notification refused');
          return;
        }
      }
      if (attempt < delays.length) await new Promise((r) => setTimeout(r, delays[attempt]));
    }
    this.options.log.warn({ a2a_task: task.id, trace_id: task.trace_id, push_config: config.id }, 'A2A push notification not delivered');
  }
}
