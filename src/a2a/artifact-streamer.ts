import type { A2aArtifact, TaskRecord } from './task-model.js';
import type { TaskStore } from './task-store.js';

/** Chunks are written to the task at most this often: each write is a compare-and-set of the task. */
const FLUSH_MS = 50;

/**
 * Streams a turn's answer as chunks of one artifact: `artifact-update` events with `append: true`
 * after the first, the text gathered for a short while per event, and a last event with
 * `lastChunk: true`. The task's stored artifact holds the whole text so far.
 */
export class ArtifactStreamer {
  private pending = '';
  private sent = false;
  private timer: NodeJS.Timeout | null = null;
  private writing: Promise<void> = Promise.resolve();

  constructor(
    private readonly tasks: TaskStore,
    private readonly task: Pick<TaskRecord, 'id' | 'contextId'>,
    private readonly artifactId: string,
  ) {}

  add(text: string): void {
    if (text === '') return;
    this.pending += text;
    this.timer ??= setTimeout(() => {
      this.timer = null;
      this.writing = this.writing.then(() => this.write(false));
    }, FLUSH_MS);
  }

  /** Writes what is pending as the last chunk, with the artifact's metadata, and returns the artifact's whole text. */
  async finish(metadata: Record<string, unknown>): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.writing;
    await this.write(true, metadata);
  }

  /** Stops without a last chunk (the turn failed or was canceled). */
  async abandon(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.writing;
  }

  private async write(last: boolean, metadata?: Record<string, unknown>): Promise<void> {
    const text = this.pending;
    if (text === '' && !last) return;
    this.pending = '';
    const append = this.sent;
    this.sent = true;
    const chunk: A2aArtifact = { artifactId: this.artifactId, name: 'answer', parts: [{ kind: 'text', text }], ...(metadata ? { metadata } : {}) };
    await this.tasks.emit(this.task.id, [{ kind: 'artifact-update', taskId: this.task.id, contextId: this.task.contextId, artifact: chunk, append, lastChunk: last }], (t) => ({ artifacts: merged(t.artifacts, chunk, append) }));
  }
}

/** The task's artifacts with the chunk applied: a new artifact, or its text appended to the one with its id. */
function merged(artifacts: A2aArtifact[], chunk: A2aArtifact, append: boolean): A2aArtifact[] {
  const index = artifacts.findIndex((a) => a.artifactId === chunk.artifactId);
  if (index === -1 || !append) return [...artifacts.filter((a) => a.artifactId !== chunk.artifactId), chunk];
  const current = artifacts[index]!;
  const before = current.parts[0]?.['text'];
  const added = chunk.parts[0]?.['text'];
  const next: A2aArtifact = { ...current, ...(chunk['metadata'] ? { metadata: chunk['metadata'] } : {}), parts: [{ kind: 'text', text: `${typeof before === 'string' ? before : ''}${typeof added === 'string' ? added : ''}` }] };
  return artifacts.map((a, i) => (i === index ? next : a));
}
