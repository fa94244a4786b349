let waiting: Promise<void> | null = null;

/**
 * Resolves in the check phase of the current event-loop turn, once for every caller of that
 * turn: they all resume together, one after another in the same microtask run. One
 * `setImmediate` per turn, not per caller.
 */
export function nextTurn(): Promise<void> {
  waiting ??= new Promise((resolve) =>
    setImmediate(() => {
      // Callers from here on wait for the next turn.
      waiting = null;
      resolve();
    }),
  );
  return waiting;
}
