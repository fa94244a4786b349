import { GatewayError } from '../../errors/gateway-error.js';
import { redactedError } from '../url-credentials.js';

/** Redis replies that mean "the server cannot serve you right now" rather than "your command is wrong". */
const TRANSIENT_REPLY = /^(LOADING|BUSY|READONLY|MASTERDOWN|OOM|TRYAGAIN|CLUSTERDOWN|NOAUTH|WRONGPASS|NOPERM)\b/;

/**
 * Maps anything a Redis call throws to a GatewayError whose cause holds no credential
 * (ioredis errors can carry the connection options on nested fields).
 */
export function createErrorMapper(secrets: string[]): (err: unknown) => GatewayError {
  return (err) => {
    if (err instanceof GatewayError) return err;
    const cause = redactedError(secrets, err);
    if (cause.name === 'ReplyError' && !TRANSIENT_REPLY.test(cause.message)) {
      // A rejected command is a bug in the gateway, not an outage.
      return new GatewayError('SF_ERR_INTERNAL', { cause });
    }
    return new GatewayError('SF_ERR_STORE_UNAVAILABLE', { cause });
  };
}
