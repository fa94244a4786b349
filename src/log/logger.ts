import { pino, type Logger, type LoggerOptions } from 'pino';

/**
 * Every path that can hold a credential. Headers appear under `req.headers` (fastify) and
 * `headers` (our own logs); provider settings under `providers.*`.
 */
export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers["x-api-key"]',
  'req.headers["api-key"]',
  'req.headers["x-goog-api-key"]',
  'req.headers["proxy-authorization"]',
  'req.headers.cookie',
  'headers.authorization',
  'headers["x-api-key"]',
  'headers["api-key"]',
  'headers["x-goog-api-key"]',
  'headers["proxy-authorization"]',
  'headers.cookie',
  'api_key',
  'master_key',
  '*.api_key',
  '*.master_key',
  'providers.*.api_key',
  'access_token',
  'refresh_token',
  'id_token',
  'client_secret',
  '*.access_token',
  '*.refresh_token',
  '*.client_secret',
];

export type { Logger };

export interface LoggerSettings {
  level: string;
  /** Destination stream; stdout when absent. Tests pass a collector to assert on redaction. */
  destination?: NodeJS.WritableStream;
}

export function createLogger(settings: LoggerSettings): Logger {
  const options: LoggerOptions = {
    level: settings.level,
    base: { service: 'smartflow' },
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  // Asynchronous stdout: under load, lines queued while a write is in flight go out together
  // instead of one write(2) per line on the request path. Gateway.close() flushes it.
  const destination = settings.destination ?? pino.destination({ dest: 1, sync: false });
  return pino(options, destination as pino.DestinationStream);
}
