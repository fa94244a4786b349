/**
 * Pulls a stream's first frame now and hands back an iterator that yields it, then the rest.
 * An upstream that fails before sending anything fails here, while the caller can still act on
 * it: the route stage falls over to the next target, the response writer answers with the
 * error's real status instead of a 200. Pulling the first frame again from what this returns
 * costs nothing, so every layer that needs it may call this.
 */
export async function withFirstFrame<T>(frames: AsyncIterable<T>): Promise<AsyncIterableIterator<T>> {
  const source = frames[Symbol.asyncIterator]();
  let first: IteratorResult<T> | null = await source.next();
  const iterator: AsyncIterableIterator<T> = {
    next() {
      if (first === null) return source.next();
      const pulled = first;
      first = null;
      return Promise.resolve(pulled);
    },
    async return(value?: unknown) {
      first = null;
      // Closes the upstream read even when the consumer stops before asking for the first frame.
      await source.return?.();
      return { done: true, value: value as T };
    },
    [Symbol.asyncIterator]() {
      return iterator;
    },
  };
  return iterator;
}
