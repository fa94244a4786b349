import type { SecretBox } from './secret-box.js';

/** Moves sealed values from one key to another for `smartflow secrets rotate`, remembering the ones that did not open. */
export interface Resealer {
  /** The value sealed under the new key; a value the old key cannot open is kept as it was and named in `unreadable`. */
  move(sealed: string, context: string, what: string): string;
  readonly unreadable: string[];
}

export function createResealer(from: SecretBox, to: SecretBox): Resealer {
  const unreadable: string[] = [];
  return {
    unreadable,
    move(sealed, context, what) {
      try {
        return to.seal(from.open(sealed, context), context);
      } catch {
        unreadable.push(what);
        return sealed;
      }
    },
  };
}
