// oidc-provider ships no types; the tests use a small part of it (test/helpers/oidc-idp.ts for SSO, test/helpers/mcp-oauth-idp.ts for MCP auth).
declare module 'oidc-provider';
