import { z } from 'zod';

/** Nested quantifiers such as `(a+)+` or `(\w*)*`: the shapes that backtrack catastrophically. */
const NESTED_QUANTIFIER = /\([^()]*[+*][^()]*\)[+*{]/;

/**
 * An admin-supplied regular expression: it must compile (with the `u` flag, as it will run) and
 * must not nest quantifiers, since it runs on every request's text.
 */
export const safePattern = z
  .string()
  .min(1)
  .max(1000)
  .superRefine((source, ctx) => {
    try {
      new RegExp(source, 'giu');
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: `not a valid regular expression: ${err instanceof Error ? err.message : String(err)}` });
      return;
    }
    if (NESTED_QUANTIFIER.test(source)) ctx.addIssue({ code: 'custom', message: 'nested quantifiers such as (a+)+ can take exponential time; rewrite the pattern' });
  });
