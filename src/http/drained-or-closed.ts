/**
 * Resolves when a response whose `write` returned false can take more, or is gone (the client
 * left: no 'drain' will ever come); removes both listeners either way.
 */
export function drainedOrClosed(raw: NodeJS.WritableStream & { once: NodeJS.EventEmitter['once'] }): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      raw.removeListener('drain', done);
      raw.removeListener('close', done);
      resolve();
    };
    raw.once('drain', done);
    raw.once('close', done);
  });
}
