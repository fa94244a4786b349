import type { FastifyInstance } from 'fastify';
import secureJson from 'secure-json-parse';
import { GatewayError } from '../errors/gateway-error.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Action endpoints without a payload accept an empty body even when the client sends a JSON content type. */
    allowEmptyBody?: boolean;
  }
}

/** Text that could spell a prototype-poisoning key, directly or through a \u escape. */
function mayPoison(body: string): boolean {
  return body.includes('__proto__') || body.includes('constructor') || body.includes('\\u00');
}

/**
 * The JSON body parser. fastify's own answers every failure with one generic message; this one
 * says what is wrong (where the syntax breaks, or which key is refused) and runs the
 * prototype-poisoning scan only on bodies that could contain such a key, which saves a couple
 * of regex passes over every request body.
 */
export function registerJsonBodyParser(app: FastifyInstance): void {
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    const text = body as string;
    if (text.length === 0 && request.routeOptions.config.allowEmptyBody === true) {
      done(null, undefined);
      return;
    }
    if (text.length === 0) {
      done(new GatewayError('SF_ERR_INVALID_JSON', { message: 'The request body is empty; a JSON object was expected.' }), undefined);
      return;
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (err) {
      done(new GatewayError('SF_ERR_INVALID_JSON', { message: `The request body is not valid JSON: ${(err as Error).message}` }), undefined);
      return;
    }
    if (mayPoison(text)) {
      try {
        secureJson.parse(text, null, { protoAction: 'error', constructorAction: 'error' });
      } catch {
        done(new GatewayError('SF_ERR_INVALID_REQUEST', { message: 'The request body has a "__proto__" or "constructor.prototype" key, which is refused.' }), undefined);
        return;
      }
    }
    done(null, parsed);
  });
}
