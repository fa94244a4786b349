import { randomUUID } from 'node:crypto';
import { Cancellation } from '../core/cancellation.js';
import type { IncomingHeaders, RequestLog } from '../core/request-log.js';
import type { Principal } from '../keys/principal.js';
import type { Unsubscribe } from '../storage/types.js';
import type { AgentProfile } from './agent-schema.js';
import { runAgentTurn, type AgentRunnerDeps } from './agent-runner.js';
import { messageIn } from './dialects.js';
import { RpcError } from './rpc-errors.js';
import type { SendParams } from './rpc-params.js';
import { TERMINAL_STATES, taskView, type A2aMessage, type Json, type TaskEvent, type TaskRecord } from './task-model.js';
import { TaskStore } from './task-store.js';
import type { PushNotifier } from './push-notifier.js';
import type { PushConfig } from './task-model.js';

/** What a stream yields: the task itself first, then its events. */
export type StreamItem = TaskEvent | { kind: 'task'; task: Json };

export interface Caller {
  principal: Principal;
  headers: IncomingHeaders;
  traceId: string;
  log: RequestLog;
}

/** A stream with nothing new re-reads the task this often anyway, in case a notification was lost. */
const POLL_MS = 2000;

/** Interrupted states end a stream as terminal ones do: the client must act. */
const endsStream = (e: StreamItem) => e.kind === 'status-update' && (TERMINAL_STATES.has(e.status.state) || e.status.state === 'input-required' || e.status.state === 'auth-required');

/**
 * The A2A operations of hosted agents, free of any wire dialect: tasks are created in the task
 * store, run by the agent runner on this instance, and read, streamed and canceled from any.
 */
export class A2aService {
  private readonly running = new Map<string, Cancellation>();
  private readonly turns = new Set<Promise<void>>();
  private unsubscribe: Unsubscribe | null = null;

  constructor(
    private readonly deps: AgentRunnerDeps & { maxMessageBytes: number; push: PushNotifier },
  ) {}

  get tasks(): TaskStore {
    return this.deps.tasks;
  }

  async start(): Promise<void> {
    this.unsubscribe = await this.deps.tasks.onCancelRequest((id) => this.running.get(id)?.cancel());
  }

  /**
   * Aborts the turns this instance runs, waits for them to stop, and ends their tasks `failed`
   * (a client streaming from another instance is told, rather than left waiting on `working`).
   */
  async close(): Promise<void> {
    await this.unsubscribe?.();
    const interrupted = [...this.running.keys()];
    for (const abort of this.running.values()) abort.cancel();
    await Promise.allSettled([...this.turns]);
    for (const id of interrupted) {
      const task = await this.deps.tasks.get(id).catch(() => undefined);
      if (!task || TERMINAL_STATES.has(task.status.state)) continue;
      const message: A2aMessage = { kind: 'message', role: 'agent', messageId: randomUUID(), parts: [{ kind: 'text', text: 'The gateway instance running this task shut down; send the message again.' }], contextId: task.contextId, taskId: id };
      await this.deps.tasks.emit(id, [TaskStore.status(task, 'failed', this.deps.now(), message)]).catch(() => undefined);
    }
    await this.deps.push.drain();
  }

  /** A task of the caller's (an admin sees all); another key's task is as unknown as a missing one. */
  async taskOf(id: string, agent: string, caller: Pick<Caller, 'principal'>): Promise<TaskRecord> {
    const task = await this.deps.tasks.get(id);
    if (!task || task.agent !== agent || (!caller.principal.isAdmin && task.key_id !== caller.principal.keyId)) throw new RpcError('taskNotFound', `no task "${id.slice(0, 100)}"`);
    return task;
  }

  /**
   * A new task for the message (or a follow-up on an input-required one), its turn started.
   * Returns the record as created and the turn's promise.
   */
  async send(agent: AgentProfile, params: SendParams, caller: Caller): Promise<{ task: TaskRecord; done: Promise<void> }> {
    if (Buffer.byteLength(JSON.stringify(params.message)) > this.deps.maxMessageBytes) throw new RpcError('invalidParams', `the message is larger than ${this.deps.maxMessageBytes} bytes`);
    const configuration = params.configuration as Json | undefined;
    const rawPush = configuration?.['pushNotificationConfig'] ?? configuration?.['taskPushNotificationConfig'] ?? params['pushNotification'];
    const push = rawPush === undefined ? [] : [await this.pushConfig(rawPush)];
    const incoming = messageIn(params.message as Json);
    const now = this.deps.now();
    let task: TaskRecord;
    const existingId = incoming.taskId ?? params.id;
    const existing = existingId === undefined ? undefined : await this.deps.tasks.get(existingId);
    if (existing && incoming.taskId !== undefined) {
      const owned = await this.taskOf(existing.id, agent.id, caller);
      if (owned.status.state !== 'input-required') throw new RpcError('unsupportedOperation', `task "${owned.id}" is ${owned.status.state} and takes no more messages`);
      const message: A2aMessage = { ...incoming, contextId: owned.contextId, taskId: owned.id };
      const updated = await this.deps.tasks.update(owned.id, (t) => ({ ...t, history: [...t.history, message] }));
      if (!updated) throw new RpcError('unsupportedOperation', `task "${owned.id}" ended`);
      task = updated;
    } else if (incoming.taskId !== undefined) {
      throw new RpcError('taskNotFound', `no task "${incoming.taskId.slice(0, 100)}"`);
    } else {
      // 0.1 names the task id itself; an id already taken is refused rather than overwritten.
      if (existing) throw new RpcError('invalidParams', `task id "${existing.id.slice(0, 100)}" is already used`);
      const id = params.id ?? randomUUID();
      const contextId = incoming.contextId ?? params.sessionId ?? randomUUID();
      task = {
        id,
        contextId,
        agent: agent.id,
        trace_id: caller.traceId,
        status: { state: 'submitted', timestamp: new Date(now).toISOString() },
        history: [{ ...incoming, contextId, taskId: id }],
        artifacts: [],
        ...(params.metadata ? { metadata: params.metadata } : {}),
        events: [],
        steps: [],
        cost_micros: 0,
        key_id: caller.principal.keyId,
        principal: caller.principal.id,
        push_configs: push,
        created_at: now,
        updated_at: now,
      };
      await this.deps.tasks.create(task);
    }
    caller.log.info({ a2a_agent: agent.id, a2a_task: task.id, trace_id: caller.traceId }, 'A2A task submitted');
    return { task, done: this.startTurn(agent, task.id, caller) };
  }

  async cancel(id: string, agent: string, caller: Caller): Promise<TaskRecord> {
    const task = await this.taskOf(id, agent, caller);
    if (TERMINAL_STATES.has(task.status.state)) throw new RpcError('taskNotCancelable', `task "${id.slice(0, 100)}" is ${task.status.state}`);
    const canceled = await this.deps.tasks.emit(id, [TaskStore.status(task, 'canceled', this.deps.now())]);
    // Ended in between (completed a moment ago): that state stands.
    if (!canceled || canceled.status.state !== 'canceled') throw new RpcError('taskNotCancelable', `task "${id.slice(0, 100)}" ended before the cancel`);
    this.running.get(id)?.cancel();
    await this.deps.tasks.requestCancel(id);
    this.deps.push.notify(canceled);
    caller.log.info({ a2a_agent: agent, a2a_task: id, trace_id: task.trace_id }, 'A2A task canceled');
    return canceled;
  }

  /** A webhook config from the client, its URL checked against SSRF (-32602 when refused). */
  async pushConfig(raw: unknown): Promise<PushConfig> {
    const c = (typeof raw === 'object' && raw !== null ? raw : {}) as Json;
    if (typeof c['url'] !== 'string') throw new RpcError('invalidParams', 'pushNotificationConfig.url is required');
    if (c['token'] !== undefined && typeof c['token'] !== 'string') throw new RpcError('invalidParams', 'pushNotificationConfig.token must be a string');
    const url = await this.deps.push.validate(c['url']);
    const auth = c['authentication'];
    return {
      id: typeof c['id'] === 'string' && c['id'] !== '' ? c['id'].slice(0, 256) : randomUUID(),
      url: url.toString(),
      ...(typeof c['token'] === 'string' ? { token: c['token'] } : {}),
      ...(typeof auth === 'object' && auth !== null ? { authentication: auth as Json } : {}),
    };
  }

  /** Adds (or replaces, by id) a webhook of the caller's task. */
  async setPush(taskId: string, agent: string, caller: Caller, raw: unknown): Promise<PushConfig> {
    await this.taskOf(taskId, agent, caller);
    const config = await this.pushConfig(raw);
    await this.deps.tasks.update(taskId, (t) => ({ ...t, push_configs: [...t.push_configs.filter((p) => p.id !== config.id), config] }), { evenIfTerminal: true });
    return config;
  }

  async deletePush(taskId: string, agent: string, caller: Caller, configId: string): Promise<void> {
    const task = await this.taskOf(taskId, agent, caller);
    if (!task.push_configs.some((p) => p.id === configId)) throw new RpcError('invalidParams', `task "${taskId.slice(0, 100)}" has no push config "${configId.slice(0, 100)}"`);
    await this.deps.tasks.update(taskId, (t) => ({ ...t, push_configs: t.push_configs.filter((p) => p.id !== configId) }), { evenIfTerminal: true });
  }

  /**
   * The task's stream: a snapshot of the task, then every event after it, until an event that
   * ends the stream (terminal or interrupted). Works on any instance: changes are announced
   * through the store, and each one is read back from it.
   */
  async *follow(id: string, snapshot?: TaskRecord, signal?: Cancellation): AsyncGenerator<StreamItem> {
    let wake: (() => void) | null = null;
    let pending = false;
    const notify = () => {
      pending = true;
      wake?.();
    };
    const unsubscribe = await this.deps.tasks.watch(id, notify);
    const onAbort = () => notify();
    signal?.on('abort', onAbort);
    try {
      const first = snapshot ?? (await this.deps.tasks.get(id));
      if (!first) return;
      yield { kind: 'task', task: taskView(first) };
      let seen = first.events.length;
      if (TERMINAL_STATES.has(first.status.state) && seen > 0) return;
      for (;;) {
        if (signal?.aborted) return;
        const task = await this.deps.tasks.get(id);
        if (!task) return;
        for (const event of task.events.slice(seen)) {
          seen = event.seq;
          yield event;
          if (endsStream(event)) return;
        }
        if (!pending) {
          await new Promise<void>((resolve) => {
            const timer = setTimeout(resolve, POLL_MS);
            wake = () => {
              clearTimeout(timer);
              resolve();
            };
          });
          wake = null;
        }
        pending = false;
      }
    } finally {
      signal?.off('abort', onAbort);
      await unsubscribe();
    }
  }

  private startTurn(agent: AgentProfile, taskId: string, caller: Caller): Promise<void> {
    const abort = new Cancellation();
    this.running.set(taskId, abort);
    const turn = runAgentTurn({ ...this.deps, onStatus: (task) => this.deps.push.notify(task) }, agent, taskId, { principal: caller.principal, headers: caller.headers, abort, log: caller.log })
      .catch((err: unknown) => caller.log.error({ err, a2a_task: taskId }, 'A2A task runner failed'))
      .finally(() => {
        this.running.delete(taskId);
        this.turns.delete(turn);
      });
    this.turns.add(turn);
    return turn;
  }
}
