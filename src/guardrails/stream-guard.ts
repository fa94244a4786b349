import { guardrailBlocked } from './blocked-error.js';
import { evaluateText, type CompiledGuardrail, type GuardrailHit } from './compile.js';
import { maskSpans } from './spans.js';
import { frameDelta, isTerminalFrame } from './stream-deltas.js';
import type { Finding } from './types.js';

/** Characters of earlier output each new delta is checked with, so a match split across frames is still seen. */
const WINDOW = 256;
/** Output kept for the end-of-stream check; past it only the sliding window is checked. */
const MAX_KEPT = 1 << 20;

/**
 * Wraps a stream so post-stage guardrails check it as it flows: each text delta is checked
 * together with the end of the text before it (a sliding window) and sent on at once, masked if a
 * mask span lies within it; the whole text is checked again before the frame that ends the stream.
 * A block ends the stream with an error (the route renders its error event). Nothing is held
 * back except that final frame, so the first token is not delayed.
 */
export function guardStream(frames: AsyncIterable<string>, guardrails: readonly CompiledGuardrail[], report: (hit: GuardrailHit) => void): AsyncIterable<string> {
  const sync = guardrails.filter((g) => 'sync' in g.check);
  const reported = new Set<string>();
  const note = (hit: GuardrailHit) => {
    const key = `${hit.guardrail}:${hit.action}`;
    if (reported.has(key)) return;
    reported.add(key);
    report(hit);
  };
  return (async function* guarded() {
    let full = '';
    for await (const frame of frames) {
      if (isTerminalFrame(frame)) {
        const verdict = await evaluateText(full, guardrails, 'post');
        // The text is out already: what would have been masked can only be reported.
        for (const hit of verdict.hits) note(hit.action === 'mask' ? { ...hit, action: 'flag' } : hit);
        if (verdict.blocked) throw guardrailBlocked(verdict.blocked, 'output');
        yield frame;
        continue;
      }
      const delta = frameDelta(frame);
      if (!delta) {
        yield frame;
        continue;
      }
      const tail = full.length > WINDOW ? full.slice(-WINDOW) : full;
      const window = tail + delta.text;
      if (full.length < MAX_KEPT) full += delta.text;
      let masks: Finding[] | null = null;
      for (const g of sync) {
        const findings = (g.check as { sync: (t: string) => Finding[] }).sync(window).filter((f) => f.end > tail.length);
        if (findings.length === 0) continue;
        const block = findings.find((f) => f.action === 'block');
        const hit: GuardrailHit = { guardrail: g.name, action: block ? 'block' : 'flag', categories: [...new Set(findings.map((f) => f.category))] };
        if (block) {
          note(hit);
          throw guardrailBlocked(hit, 'output');
        }
        for (const f of findings) {
          if (f.action !== 'mask') continue;
          if (f.start >= tail.length) (masks ??= []).push({ ...f, start: f.start - tail.length, end: f.end - tail.length });
        }
        note({ ...hit, action: findings.some((f) => f.action === 'mask' && f.start >= tail.length) ? 'mask' : 'flag' });
      }
      yield masks ? delta.with(maskSpans(delta.text, masks)) : frame;
    }
  })();
}
