import { ERROR_CODES, type ErrorCodeName, type ErrorCodeSpec } from './codes.js';

/** Statuses that are worth retrying on the same or another target. */
const RETRYABLE_STATUSES = new Set([408, 409, 429, 500, 502, 503, 504, 529]);

export interface GatewayErrorOptions {
  message?: string;
  /** Overrides the registry status, e.g. to preserve an upstream status. */
  status?: number;
  param?: string | null;
  cause?: unknown;
  retryable?: boolean;
  /** Wire fields taken from the provider's own error (type and code), kept so clients see what the provider said. */
  upstreamType?: string;
  upstreamCode?: string | null;
  /** Response headers that must accompany the error (Retry-After, rate-limit headers). */
  headers?: Record<string, string>;
  /**
   * Set when the request never left the gateway for the current route target, with a short why:
   * the route stage lists the target as skipped, not as a failed call, and moves on.
   */
  skipReason?: string;
}

/**
 * The single error type of the gateway. Anything thrown below a route that is not a
 * GatewayError is rendered as SF_ERR_INTERNAL without its message (it may hold secrets).
 */
export class GatewayError extends Error {
  override readonly name = 'GatewayError';
  readonly codeName: ErrorCodeName;
  readonly spec: ErrorCodeSpec;
  readonly status: number;
  readonly param: string | null;
  readonly retryable: boolean;
  readonly upstreamType: string | undefined;
  readonly upstreamCode: string | null | undefined;
  readonly headers: Record<string, string>;
  readonly skipReason: string | undefined;

  constructor(codeName: ErrorCodeName, options: GatewayErrorOptions = {}) {
    const spec = ERROR_CODES[codeName];
    super(options.message ?? spec.message, options.cause === undefined ? undefined : { cause: options.cause });
    this.codeName = codeName;
    this.spec = spec;
    this.status = options.status ?? spec.status;
    this.param = options.param ?? null;
    this.retryable = options.retryable ?? RETRYABLE_STATUSES.has(this.status);
    this.upstreamType = options.upstreamType;
    this.upstreamCode = options.upstreamCode;
    this.headers = options.headers ?? {};
    this.skipReason = options.skipReason;
  }

  /** The code clients see: the provider's own code when it sent one, else ours. */
  get wireCode(): string {
    return this.upstreamCode ?? this.spec.code;
  }

  get wireType(): string {
    return this.upstreamType ?? this.spec.type;
  }
}

/** Any thrown value as a GatewayError; unknown errors become SF_ERR_INTERNAL with a safe message. */
export function toGatewayError(err: unknown): GatewayError {
  if (err instanceof GatewayError) return err;
  return new GatewayError('SF_ERR_INTERNAL', { cause: err });
}
