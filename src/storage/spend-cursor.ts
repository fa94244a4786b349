import { GatewayError } from '../errors/gateway-error.js';

/**
 * The keyset position of the SQL stores' spend-log pages: the (time, seq) of the last row of the
 * previous page, where seq (the insertion order) breaks ties between rows of the same millisecond.
 */
export type SpendCursor = [time: number, seq: number];

export function encodeSpendCursor(time: number, seq: number): string {
  const cursor: SpendCursor = [time, seq];
  return Buffer.from(JSON.stringify(cursor)).toString('base64url');
}

export function decodeSpendCursor(cursor: string): SpendCursor {
  try {
    const value: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (Array.isArray(value) && value.length === 2 && Number.isSafeInteger(value[0]) && Number.isSafeInteger(value[1])) {
      return value as SpendCursor;
    }
  } catch {
    // fall through: malformed base64 or JSON is the same client mistake as a wrong shape
  }
  throw new GatewayError('SF_ERR_INVALID_REQUEST', { message: 'The cursor is not valid.', param: 'cursor' });
}
