/** What a guardrail does when it fires: refuse the request, redact the match, or only report it. */
export type GuardrailMode = 'block' | 'mask' | 'flag';
/** Where a guardrail runs: on the input, on the output, or both. */
export type GuardrailStage = 'pre' | 'post' | 'both';

/** One thing a guardrail found in a text: the span, why, and what to do about it. */
export interface Finding {
  /** A short label: the PII entity, the toxicity category, the compliance rule's category ... */
  category: string;
  start: number;
  end: number;
  action: GuardrailMode;
}

/** A built-in guardrail's check: pure, synchronous, allocation-light (it runs on every request). */
export type TextCheck = (text: string) => Finding[];

/** The custom webhook's check is the one that waits on the network. */
export type AsyncTextCheck = (text: string, stage: 'pre' | 'post') => Promise<Finding[] | MaskedText>;

/** A webhook may hand back the text it redacted itself. */
export interface MaskedText {
  masked: string;
  category: string;
}
