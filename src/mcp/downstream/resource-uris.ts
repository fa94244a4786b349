/**
 * Resource URIs on the aggregated `/mcp` endpoint: `smartflow://{alias}/{the server's own URI}`,
 * e.g. `smartflow://docs/file:///srv/readme.md`. The server's URI is kept verbatim after the
 * alias, so the mapping is reversible without escaping, and a resource template maps the same
 * way (`smartflow://docs/demo://item/{id}`): the prefix is a literal, so a client expanding the
 * template gets a URI that routes back to the server. Aliases never hold `/`.
 */
export const GATEWAY_URI_PREFIX = 'smartflow://';

export function gatewayUri(alias: string, uri: string): string {
  return `${GATEWAY_URI_PREFIX}${alias}/${uri}`;
}

/** `{alias, uri}` from a gateway URI (or template), or null when it is not one. */
export function splitGatewayUri(uri: string): { alias: string; uri: string } | null {
  if (!uri.startsWith(GATEWAY_URI_PREFIX)) return null;
  const rest = uri.slice(GATEWAY_URI_PREFIX.length);
  const at = rest.indexOf('/');
  if (at <= 0 || at === rest.length - 1) return null;
  return { alias: rest.slice(0, at), uri: rest.slice(at + 1) };
}

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** A content block with its resource URI mapped (`resource_link`, embedded `resource`); any other block as it was. */
function mapContentBlock(alias: string, block: unknown): unknown {
  if (!isObject(block)) return block;
  if (block.type === 'resource_link' && typeof block.uri === 'string') return { ...block, uri: gatewayUri(alias, block.uri) };
  if (block.type === 'resource' && isObject(block.resource) && typeof block.resource.uri === 'string') {
    return { ...block, resource: { ...block.resource, uri: gatewayUri(alias, block.resource.uri) } };
  }
  return block;
}

/**
 * A result with every resource URI it carries mapped to the gateway scheme, so a client can read
 * what a tool, prompt or resource points at through `/mcp`: `contents[].uri` (resources/read),
 * `content[]` (tools/call) and `messages[].content` (prompts/get). Everything else is untouched.
 */
export function mapResultUris<T extends Json>(alias: string, result: T): T {
  const out: Json = { ...result };
  if (Array.isArray(result.contents)) out.contents = result.contents.map((c: unknown) => (isObject(c) && typeof c.uri === 'string' ? { ...c, uri: gatewayUri(alias, c.uri) } : c));
  if (Array.isArray(result.content)) out.content = result.content.map((c: unknown) => mapContentBlock(alias, c));
  if (Array.isArray(result.messages)) out.messages = result.messages.map((m: unknown) => (isObject(m) ? { ...m, content: mapContentBlock(alias, m.content) } : m));
  return out as T;
}
