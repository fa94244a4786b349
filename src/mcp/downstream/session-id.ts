import { randomUUID } from 'node:crypto';

/**
 * The id of a new Streamable HTTP session (`Mcp-Session-Id`). One place, so that whatever must
 * be read from an id later (which process owns the session, say) is decided here alone.
 */
export function newSessionId(): string {
  return randomUUID();
}
