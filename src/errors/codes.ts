/**
 * The one registry of error codes. Every error the gateway returns has an entry here,
 * and docs/errors.md documents each one (a test keeps the two in step).
 *
 * `code` is what clients see in `error.code`; `type` follows the OpenAI error taxonomy
 * so OpenAI SDKs map the error to the right exception class.
 */
export const ERROR_CODES = {
  SF_ERR_AUTH_MISSING: { status: 401, type: 'authentication_error', code: 'missing_api_key', message: 'No API key was sent. Pass it as "Authorization: Bearer <key>".' },
  SF_ERR_AUTH_INVALID: { status: 401, type: 'authentication_error', code: 'invalid_api_key', message: 'The API key is not valid.' },
  SF_ERR_KEY_REVOKED: { status: 401, type: 'authentication_error', code: 'key_revoked', message: 'This API key has been revoked.' },
  SF_ERR_KEY_EXPIRED: { status: 401, type: 'authentication_error', code: 'key_expired', message: 'This API key has expired.' },
  SF_ERR_SSO_TOKEN_INVALID: { status: 401, type: 'authentication_error', code: 'invalid_id_token', message: 'The identity provider\'s id_token was refused.' },
  SF_ERR_SSO_NOT_CONFIGURED: { status: 404, type: 'invalid_request_error', code: 'sso_not_configured', message: 'Single sign-on is not configured (POST /api/auth/sso/config or sso: in smartflow.yaml).' },
  SF_ERR_SSO_IDP_UNAVAILABLE: { status: 502, type: 'api_error', code: 'sso_idp_unavailable', message: 'The identity provider (or Microsoft Graph) could not be reached or answered with an error.' },
  SF_ERR_FORBIDDEN: { status: 403, type: 'permission_error', code: 'forbidden', message: 'This key may not perform this action.' },
  SF_ERR_BYOK_NOT_ALLOWED: { status: 403, type: 'permission_error', code: 'byok_provider_not_allowed', message: 'The caller\'s own provider key may not be sent to this provider.' },
  SF_ERR_MODEL_NOT_ALLOWED: { status: 403, type: 'permission_error', code: 'model_not_allowed', message: 'This key may not use this model.' },
  SF_ERR_BUDGET_EXCEEDED: { status: 429, type: 'insufficient_quota', code: 'budget_exceeded', message: 'The budget for this key or its team does not cover this request.' },
  SF_ERR_MODEL_UNPRICED: { status: 400, type: 'invalid_request_error', code: 'model_unpriced', message: 'The model has no price, and this key has a budget: its cost could not be counted.' },
  SF_ERR_RATE_LIMITED: { status: 429, type: 'rate_limit_error', code: 'rate_limit_exceeded', message: 'This key or its team sent more requests or tokens than its rate limit allows.' },
  SF_ERR_NOT_FOUND: { status: 404, type: 'invalid_request_error', code: 'not_found', message: 'No such resource.' },
  SF_ERR_CONFLICT: { status: 409, type: 'invalid_request_error', code: 'conflict', message: 'The resource was changed by another request at the same time; read it again and retry.' },
  SF_ERR_INVALID_JSON: { status: 400, type: 'invalid_request_error', code: 'invalid_json', message: 'The request body is not valid JSON.' },
  SF_ERR_GUARDRAIL_BLOCKED: { status: 400, type: 'invalid_request_error', code: 'guardrail_blocked', message: 'A guardrail policy blocked the request.' },
  SF_ERR_INVALID_REQUEST: { status: 400, type: 'invalid_request_error', code: 'invalid_request', message: 'The request is not valid.' },
  SF_ERR_UNSUPPORTED_MEDIA_TYPE: { status: 415, type: 'invalid_request_error', code: 'unsupported_media_type', message: 'The request body must be application/json.' },
  SF_ERR_BODY_TOO_LARGE: { status: 413, type: 'invalid_request_error', code: 'body_too_large', message: 'The request body is larger than the configured limit (server.body_limit_bytes).' },
  SF_ERR_MODEL_NOT_FOUND: { status: 404, type: 'invalid_request_error', code: 'model_not_found', message: 'The model does not exist on this gateway.' },
  SF_ERR_OPERATION_UNSUPPORTED: { status: 400, type: 'invalid_request_error', code: 'operation_not_supported', message: 'The model\'s provider does not support this operation.' },
  SF_ERR_ROUTE_NOT_FOUND: { status: 404, type: 'invalid_request_error', code: 'route_not_found', message: 'No such endpoint.' },
  SF_ERR_METHOD_NOT_ALLOWED: { status: 405, type: 'invalid_request_error', code: 'method_not_allowed', message: 'The endpoint does not accept this method.' },
  SF_ERR_UPSTREAM_ERROR: { status: 502, type: 'api_error', code: 'upstream_error', message: 'The provider returned an error.' },
  SF_ERR_UPSTREAM_AUTH: { status: 502, type: 'api_error', code: 'upstream_auth_failed', message: 'The provider rejected the gateway\'s credentials for it. Check the provider\'s api_key in the gateway configuration.' },
  SF_ERR_UPSTREAM_RATE_LIMITED: { status: 429, type: 'rate_limit_error', code: 'upstream_rate_limited', message: 'The provider is rate limiting requests.' },
  SF_ERR_UPSTREAM_TIMEOUT: { status: 504, type: 'api_error', code: 'upstream_timeout', message: 'The provider did not answer in time.' },
  SF_ERR_UPSTREAM_UNREACHABLE: { status: 502, type: 'api_error', code: 'upstream_unreachable', message: 'The provider could not be reached.' },
  SF_ERR_UPSTREAM_BAD_RESPONSE: { status: 502, type: 'api_error', code: 'upstream_bad_response', message: 'The provider sent a response the gateway could not read.' },
  SF_ERR_MCP_UPSTREAM_ERROR: { status: 502, type: 'api_error', code: 'mcp_upstream_error', message: 'The MCP server returned an error.' },
  SF_ERR_MCP_UPSTREAM_UNAVAILABLE: { status: 502, type: 'api_error', code: 'mcp_upstream_unavailable', message: 'The MCP server could not be reached.' },
  SF_ERR_MCP_UPSTREAM_TIMEOUT: { status: 504, type: 'api_error', code: 'mcp_upstream_timeout', message: 'The MCP server did not answer in time.' },
  SF_ERR_CONTEXT_LENGTH_EXCEEDED: { status: 400, type: 'invalid_request_error', code: 'context_length_exceeded', message: 'The prompt is longer than the model\'s context window.' },
  SF_ERR_STREAM_INTERRUPTED: { status: 502, type: 'api_error', code: 'stream_interrupted', message: 'The provider\'s stream ended before the answer was complete.' },
  SF_ERR_CLIENT_CLOSED: { status: 499, type: 'invalid_request_error', code: 'client_closed_request', message: 'The client closed the connection before the answer was complete.' },
  SF_ERR_STORE_UNAVAILABLE: { status: 503, type: 'api_error', code: 'store_unavailable', message: 'The gateway\'s store is not reachable.' },
  SF_ERR_SHUTTING_DOWN: { status: 503, type: 'api_error', code: 'shutting_down', message: 'The gateway is shutting down.' },
  SF_ERR_INTERNAL: { status: 500, type: 'api_error', code: 'internal_error', message: 'The gateway failed to handle the request.' },
} as const satisfies Record<string, ErrorCodeSpec>;

export interface ErrorCodeSpec {
  status: number;
  /** OpenAI's taxonomy; `insufficient_quota` is what OpenAI answers when an account's quota is spent. */
  type: 'invalid_request_error' | 'authentication_error' | 'permission_error' | 'rate_limit_error' | 'insufficient_quota' | 'api_error';
  code: string;
  message: string;
}

export type ErrorCodeName = keyof typeof ERROR_CODES;
