import type { A2aMessage, A2aPart, Json, TaskEvent, TaskState } from './task-model.js';

/**
 * The three wire dialects of A2A JSON-RPC mapped onto one set of operations and the internal
 * (0.3) shapes. 0.1 is the seed's (`tasks/send`, `sessionId`, parts with `type`); 0.3 is the
 * internal model; 1.0 (`A2A-Version: 1.0`) uses PascalCase methods, proto-JSON enums, parts
 * without a discriminator and no `final` on stream events.
 */
export type Dialect = '0.1' | '0.3' | '1.0';

export type Operation = 'send' | 'stream' | 'get' | 'cancel' | 'resubscribe' | 'list' | 'push.set' | 'push.get' | 'push.list' | 'push.delete' | 'extendedCard';

const METHODS: Record<Dialect, Record<string, Operation>> = {
  '0.1': {
    'tasks/send': 'send',
    'tasks/sendSubscribe': 'stream',
    'tasks/get': 'get',
    'tasks/cancel': 'cancel',
    'tasks/resubscribe': 'resubscribe',
    'tasks/pushNotification/set': 'push.set',
    'tasks/pushNotification/get': 'push.get',
  },
  '0.3': {
    'message/send': 'send',
    'message/stream': 'stream',
    'tasks/get': 'get',
    'tasks/cancel': 'cancel',
    'tasks/resubscribe': 'resubscribe',
    'tasks/pushNotificationConfig/set': 'push.set',
    'tasks/pushNotificationConfig/get': 'push.get',
    'tasks/pushNotificationConfig/list': 'push.list',
    'tasks/pushNotificationConfig/delete': 'push.delete',
    'agent/getAuthenticatedExtendedCard': 'extendedCard',
  },
  '1.0': {
    SendMessage: 'send',
    SendStreamingMessage: 'stream',
    GetTask: 'get',
    CancelTask: 'cancel',
    SubscribeToTask: 'resubscribe',
    ListTasks: 'list',
    CreateTaskPushNotificationConfig: 'push.set',
    GetTaskPushNotificationConfig: 'push.get',
    ListTaskPushNotificationConfigs: 'push.list',
    DeleteTaskPushNotificationConfig: 'push.delete',
    GetExtendedAgentCard: 'extendedCard',
  },
};

/**
 * Which dialect and operation a method is. Without `A2A-Version` a request is 0.3 (spec §3.6),
 * and the 0.1 names that 0.3 renamed are still understood there; with 1.0 only the 1.0 names.
 */
export function resolveMethod(method: string, version: '0.3' | '1.0'): { dialect: Dialect; op: Operation } | undefined {
  if (version === '1.0') {
    const op = Object.hasOwn(METHODS['1.0'], method) ? METHODS['1.0'][method] : undefined;
    return op ? { dialect: '1.0', op } : undefined;
  }
  if (Object.hasOwn(METHODS['0.3'], method)) return { dialect: '0.3', op: METHODS['0.3'][method]! };
  if (Object.hasOwn(METHODS['0.1'], method)) return { dialect: '0.1', op: METHODS['0.1'][method]! };
  return undefined;
}

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** A part in any dialect as a 0.3 part; fields the gateway does not know stay. */
function partIn(part: Json): A2aPart {
  if (typeof part['kind'] === 'string') return part as A2aPart;
  if (typeof part['type'] === 'string') {
    const { type, ...rest } = part;
    return { kind: type as string, ...rest };
  }
  // 1.0: the content field names the kind.
  const { text, data, url, raw, mediaType, filename, ...rest } = part;
  if (typeof text === 'string') return { kind: 'text', text, ...rest, ...(mediaType === undefined ? {} : { mediaType }) };
  if (data !== undefined) return { kind: 'data', data, ...rest, ...(mediaType === undefined ? {} : { mediaType }) };
  if (url !== undefined || raw !== undefined) {
    const file: Json = { ...(url === undefined ? { bytes: raw } : { uri: url }), ...(mediaType === undefined ? {} : { mimeType: mediaType }), ...(filename === undefined ? {} : { name: filename }) };
    return { kind: 'file', file, ...rest };
  }
  return { kind: 'unknown', ...part };
}

/** A message in any dialect as a 0.3 message (`sessionId` → `contextId`, `ROLE_USER` → `user`). */
export function messageIn(message: Json): A2aMessage {
  const { role, parts, sessionId, ...rest } = message;
  const normalRole = role === 'ROLE_AGENT' || role === 'agent' ? 'agent' : 'user';
  const out: A2aMessage = {
    ...rest,
    kind: 'message',
    role: normalRole,
    messageId: typeof rest['messageId'] === 'string' ? rest['messageId'] : crypto.randomUUID(),
    parts: (parts as Json[]).map(partIn),
  };
  if (out.contextId === undefined && typeof sessionId === 'string') out.contextId = sessionId;
  return out;
}

const STATE_1_0 = (state: TaskState) => `TASK_STATE_${state.toUpperCase().replace(/-/g, '_')}`;

function partOut(part: A2aPart, dialect: Dialect): Json {
  if (dialect === '0.3') return part;
  const { kind, ...rest } = part;
  if (dialect === '0.1') return { type: kind, ...rest };
  if (kind === 'file') {
    const { file, ...others } = rest;
    const f = (file ?? {}) as Json;
    return { ...others, ...(f['uri'] !== undefined ? { url: f['uri'] } : { raw: f['bytes'] }), ...(f['mimeType'] === undefined ? {} : { mediaType: f['mimeType'] }), ...(f['name'] === undefined ? {} : { filename: f['name'] }) };
  }
  return rest;
}

function messageOut(message: A2aMessage, dialect: Dialect): Json {
  if (dialect === '0.3') return message;
  const { kind: _kind, role, parts, contextId, ...rest } = message;
  const out: Json = { ...rest, parts: parts.map((p) => partOut(p, dialect)) };
  if (dialect === '0.1') return { ...out, role, ...(contextId === undefined ? {} : { sessionId: contextId }) };
  return { ...out, role: role === 'agent' ? 'ROLE_AGENT' : 'ROLE_USER', ...(contextId === undefined ? {} : { contextId }) };
}

function statusOut(status: Json, dialect: Dialect): Json {
  if (dialect === '0.3') return status;
  const message = status['message'] as A2aMessage | undefined;
  return {
    state: dialect === '1.0' ? STATE_1_0(status['state'] as TaskState) : status['state'],
    ...(message ? { message: messageOut(message, dialect) } : {}),
    timestamp: status['timestamp'],
  };
}

function artifactOut(artifact: Json, dialect: Dialect): Json {
  if (dialect === '0.3') return artifact;
  const { parts, artifactId, ...rest } = artifact;
  const out = { ...rest, parts: (parts as A2aPart[]).map((p) => partOut(p, dialect)) };
  return dialect === '0.1' ? out : { artifactId, ...out };
}

/** A 0.3 Task object as the dialect shows it (1.0: not wrapped; the caller wraps results). */
export function taskOut(task: Json, dialect: Dialect): Json {
  if (dialect === '0.3') return task;
  const { kind: _kind, contextId, status, history, artifacts, ...rest } = task;
  return {
    ...rest,
    ...(dialect === '0.1' ? { sessionId: contextId } : { contextId }),
    status: statusOut(status as Json, dialect),
    artifacts: (artifacts as Json[]).map((a) => artifactOut(a, dialect)),
    history: (history as A2aMessage[]).map((m) => messageOut(m, dialect)),
  };
}

/** The result of a send that returns the task. */
export function sendResultOut(task: Json, dialect: Dialect): Json {
  return dialect === '1.0' ? { task: taskOut(task, dialect) } : taskOut(task, dialect);
}

/** One stream event as the dialect sends it: 1.0 wraps and has no `final`; 0.1 names the task `id`. */
export function eventOut(event: TaskEvent | { kind: 'task'; task: Json }, dialect: Dialect): Json {
  if (event.kind === 'task') return dialect === '1.0' ? { task: taskOut(event.task, dialect) } : taskOut(event.task, dialect);
  const { seq: _seq, ...wire } = event;
  if (dialect === '0.3') return wire;
  if (wire.kind === 'status-update') {
    if (dialect === '0.1') return { id: wire.taskId, status: statusOut(wire.status as unknown as Json, dialect), final: wire.final };
    return { statusUpdate: { taskId: wire.taskId, contextId: wire.contextId, status: statusOut(wire.status as unknown as Json, dialect) } };
  }
  if (dialect === '0.1') return { id: wire.taskId, artifact: artifactOut(wire.artifact, dialect) };
  return { artifactUpdate: { taskId: wire.taskId, contextId: wire.contextId, artifact: artifactOut(wire.artifact, dialect), append: wire.append, lastChunk: wire.lastChunk } };
}

export { isObject };
