import { ErrorCode, McpError } from '@modelcontextprotocol/sdk/types.js';

/**
 * `tools/list` pages over the merged list by position. The cursor is opaque to clients; a list
 * that changes between pages may shift by a few tools, which MCP allows (clients re-list on
 * `list_changed`).
 */
export function encodeCursor(offset: number): string {
  return Buffer.from(`o:${offset}`).toString('base64url');
}

export function decodeCursor(cursor: string | undefined): number {
  if (cursor === undefined) return 0;
  const m = /^o:(\d{1,9})$/.exec(Buffer.from(cursor, 'base64url').toString());
  if (!m) throw new McpError(ErrorCode.InvalidParams, 'The cursor is not one this gateway gave out.');
  return Number(m[1]);
}
