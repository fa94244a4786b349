/**
 * The text a streamed SSE frame adds, in the three stream formats the gateway sends (OpenAI chat
 * chunks, Anthropic events, Responses events), and the same frame with that text replaced.
 */
export interface FrameDelta {
  text: string;
  /** The frame with its text replaced. */
  with(text: string): string;
}

const DATA = 'data: ';

function dataOf(frame: string): { json: Record<string, unknown>; at: number; end: number } | null {
  const at = frame.startsWith(DATA) ? 0 : frame.indexOf(`\n${DATA}`) + 1;
  if (at <= 0 && !frame.startsWith(DATA)) return null;
  const start = at + DATA.length;
  if (frame.charCodeAt(start) !== 123 /* { */) return null;
  const nl = frame.indexOf('\n', start);
  const end = nl === -1 ? frame.length : nl;
  try {
    return { json: JSON.parse(frame.slice(start, end)) as Record<string, unknown>, at: start, end };
  } catch {
    return null;
  }
}

/** The frame's text delta, or null for frames without text (role, tool calls, usage, pings). */
export function frameDelta(frame: string): FrameDelta | null {
  // Cheap pre-filter: frames without these words carry no text.
  if (!frame.includes('"content"') && !frame.includes('"text"') && !frame.includes('"delta"')) return null;
  const data = dataOf(frame);
  if (!data) return null;
  const { json } = data;
  const rebuild = () => frame.slice(0, data.at) + JSON.stringify(json) + frame.slice(data.end);
  // OpenAI chat chunk.
  const choices = json['choices'];
  if (Array.isArray(choices) && choices.length > 0) {
    const delta = (choices[0] as { delta?: { content?: unknown } }).delta;
    if (delta && typeof delta.content === 'string' && delta.content.length > 0) {
      return { text: delta.content, with: (t) => ((delta.content = t), rebuild()) };
    }
    return null;
  }
  // Anthropic content_block_delta with a text_delta.
  const delta = json['delta'];
  if (json['type'] === 'content_block_delta' && typeof delta === 'object' && delta !== null) {
    const d = delta as { type?: unknown; text?: unknown };
    if (d.type === 'text_delta' && typeof d.text === 'string') return { text: d.text, with: (t) => ((d.text = t), rebuild()) };
    return null;
  }
  // Responses API output text delta.
  if (json['type'] === 'response.output_text.delta' && typeof delta === 'string') {
    return { text: delta, with: (t) => ((json['delta'] = t), rebuild()) };
  }
  return null;
}

/** The frame that ends a successful stream: held back until the end-of-stream check has passed. */
export function isTerminalFrame(frame: string): boolean {
  return frame.startsWith('data: [DONE]') || frame.startsWith('event: message_stop') || frame.startsWith('event: response.completed') || frame.includes('"type":"message_stop"');
}
