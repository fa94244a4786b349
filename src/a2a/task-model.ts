/**
 * The one internal task model: the A2A 0.3 JSON shapes (`kind` discriminators, lower-case states).
 * The 0.1 and 1.0 dialects map onto it on the way in and out (dialects.ts). Unknown fields of
 * messages and parts are kept as they came, so nothing a client sends is dropped from the record.
 */

export type TaskState = 'submitted' | 'working' | 'input-required' | 'completed' | 'canceled' | 'failed' | 'rejected' | 'auth-required' | 'unknown';

export const TERMINAL_STATES: ReadonlySet<TaskState> = new Set(['completed', 'canceled', 'failed', 'rejected']);

export type Json = Record<string, unknown>;

export interface A2aPart extends Json {
  kind: string;
}

export interface A2aMessage extends Json {
  kind: 'message';
  role: 'user' | 'agent';
  messageId: string;
  parts: A2aPart[];
  contextId?: string;
  taskId?: string;
}

export interface TaskStatus {
  state: TaskState;
  message?: A2aMessage;
  timestamp: string;
}

export interface A2aArtifact extends Json {
  artifactId: string;
  parts: A2aPart[];
}

/** One event of a task's stream, as 0.3 sends it; `seq` orders them for replay. */
export type TaskEvent =
  | { seq: number; kind: 'status-update'; taskId: string; contextId: string; status: TaskStatus; final: boolean }
  | { seq: number; kind: 'artifact-update'; taskId: string; contextId: string; artifact: A2aArtifact; append: boolean; lastChunk: boolean };

/** One LLM call or tool call of a task, for the audit API. */
export interface TaskStep {
  type: 'llm' | 'tool';
  step: number;
  /** The model asked for, or the `{alias}_{tool}` name. */
  name: string;
  started_at: string;
  duration_ms: number;
  status: 'ok' | 'error';
  input_tokens?: number;
  output_tokens?: number;
  cost_micros?: number;
  error?: string;
}

export interface PushConfig {
  id: string;
  url: string;
  token?: string;
  authentication?: Json;
}

/** A task as the store keeps it. */
export interface TaskRecord {
  id: string;
  contextId: string;
  agent: string;
  trace_id: string;
  status: TaskStatus;
  history: A2aMessage[];
  artifacts: A2aArtifact[];
  metadata?: Json;
  events: TaskEvent[];
  steps: TaskStep[];
  cost_micros: number;
  /** The key that pays (its id; never the key itself). */
  key_id: string | null;
  principal: string;
  push_configs: PushConfig[];
  created_at: number;
  updated_at: number;
}

/** The 0.3 Task object of a record (history cut to the last `historyLength` messages when asked). */
export function taskView(task: TaskRecord, historyLength?: number): Json {
  const history = historyLength === undefined ? task.history : historyLength <= 0 ? [] : task.history.slice(-historyLength);
  return {
    kind: 'task',
    id: task.id,
    contextId: task.contextId,
    status: task.status,
    history,
    artifacts: task.artifacts,
    ...(task.metadata === undefined ? {} : { metadata: task.metadata }),
  };
}

/** The text a message says to a model: text parts as they are, data as JSON, files by name and address. */
export function messageText(message: A2aMessage): string {
  return message.parts
    .map((p) => {
      if (p.kind === 'text' && typeof p['text'] === 'string') return p['text'];
      if (p.kind === 'data') return JSON.stringify(p['data']);
      if (p.kind === 'file') {
        const file = (p['file'] ?? {}) as Json;
        return `[file ${String(file['name'] ?? '')} ${String(file['uri'] ?? '(inline bytes)')} ${String(file['mimeType'] ?? '')}]`.replace(/\s+/g, ' ');
      }
      return JSON.stringify(p);
    })
    .join('\n');
}
