import type { Logger } from 'pino';

/** The per-request logger (pino child with the request id). */
export type RequestLog = Pick<Logger, 'trace' | 'debug' | 'info' | 'warn' | 'error'>;

/** Request headers as node:http parses them. */
export type IncomingHeaders = Record<string, string | string[] | undefined>;
