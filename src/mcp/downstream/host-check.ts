/** When the MCP endpoints check the `Host` header (DNS-rebinding protection). */
export type HostCheckMode = 'loopback' | 'always' | 'off';

const LOOPBACK_NAMES = ['localhost', '127.0.0.1', '[::1]'];

/** True when the connection arrived on a loopback address of this machine (IPv4, IPv6 or IPv4-mapped). */
function isLoopbackAddress(address: string | undefined): boolean {
  if (address === undefined) return false;
  const plain = address.startsWith('::ffff:') ? address.slice('::ffff:'.length) : address;
  return plain === '::1' || plain.startsWith('127.');
}

/** The hostname of a `Host` header, port stripped, IPv6 in brackets; undefined when it is not one. */
function hostnameOf(host: string): string | undefined {
  try {
    const url = new URL(`http://${host}`);
    // A Host header is host[:port] and nothing else: no user info, path or query smuggled in.
    if (url.username || url.password || url.pathname !== '/' || url.search || url.hash) return undefined;
    return url.hostname.toLowerCase();
  } catch {
    return undefined;
  }
}

/**
 * DNS-rebinding protection: a browser page on an attacker's domain that resolves to 127.0.0.1
 * reaches a local gateway with its own name in `Host` (and in `Origin`, so the Origin check
 * alone lets it through). With `loopback`, a request that arrived on a loopback address must
 * name a loopback host or one of `allowedHosts`; `always` applies that to every request;
 * `off` never checks. Ports do not matter: `localhost:4000` and `localhost` are the same host.
 */
export function createHostCheck(mode: HostCheckMode, allowedHosts: readonly string[]): (host: string | undefined, localAddress: string | undefined) => boolean {
  const allowed = new Set([...LOOPBACK_NAMES, ...allowedHosts.map((h) => h.toLowerCase())]);
  return (host, localAddress) => {
    if (mode === 'off') return true;
    if (mode === 'loopback' && !isLoopbackAddress(localAddress)) return true;
    const hostname = host === undefined ? undefined : hostnameOf(host);
    return hostname !== undefined && allowed.has(hostname);
  };
}
