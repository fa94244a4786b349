/**
 * Hands a published message to every handler of its channel. The set is copied first: a handler
 * may unsubscribe itself (or others) while we iterate. A failing handler stops neither the others
 * nor the connection that received the message; handlers own their error reporting.
 */
export function deliverMessage(handlers: ReadonlySet<(message: string) => void> | undefined, message: string): void {
  if (!handlers) return;
  for (const handler of [...handlers]) {
    try {
      handler(message);
    } catch {
      // See above: the failure is the handler's to report.
    }
  }
}
