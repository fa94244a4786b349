import type { SseEvent } from './types.js';

/**
 * Incremental Server-Sent Events parser: feed it decoded text as it arrives, get complete
 * events back. Handles LF and CRLF line endings, multi-line data, comments and `event:` lines.
 */
export class SseParser {
  private buffer = '';
  private event: string | undefined;
  private data: string[] = [];

  push(text: string): SseEvent[] {
    this.buffer += text;
    const out: SseEvent[] = [];
    let start = 0;
    for (;;) {
      const nl = this.buffer.indexOf('\n', start);
      if (nl === -1) break;
      let line = this.buffer.slice(start, nl);
      start = nl + 1;
      if (line.endsWith('\r')) line = line.slice(0, -1);
      if (line === '') {
        if (this.data.length > 0) out.push(this.event === undefined ? { data: this.data.join('\n') } : { event: this.event, data: this.data.join('\n') });
        this.event = undefined;
        this.data = [];
        continue;
      }
      if (line.charCodeAt(0) === 58 /* ':' comment */) continue;
      const colon = line.indexOf(':');
      const field = colon === -1 ? line : line.slice(0, colon);
      let value = colon === -1 ? '' : line.slice(colon + 1);
      if (value.charCodeAt(0) === 32) value = value.slice(1);
      if (field === 'data') this.data.push(value);
      else if (field === 'event') this.event = value;
    }
    this.buffer = start === 0 ? this.buffer : this.buffer.slice(start);
    return out;
  }

  /** An event left without its terminating blank line when the stream ended (tolerated: some servers omit it). */
  flush(): SseEvent[] {
    return this.push('\n\n');
  }
}
