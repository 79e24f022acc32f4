import { isIP } from 'node:net';
import { lookup } from 'node:dns/promises';
import ipaddr from 'ipaddr.js';
import { FaceMatchError } from '@facematch/contracts';

/**
 * Only IANA's global unicast block: the rest of the IPv6 space is reserved by the IETF. ipaddr.js 2.5's
 * range table names every special-purpose block we refuse except two that this catches: IPv4-compatible
 * ::/96 (::7f00:1 is 127.0.0.1 to some stacks) and the dummy prefix 100:0:0:1::/64 (RFC 9780).
 */
const globalUnicast = ipaddr.IPv6.parseCIDR('2000::/3');

/** The webhook ports allowed when the operator says nothing (WEBHOOK_PORTS). */
export const DEFAULT_WEBHOOK_PORTS: ReadonlySet<number> = new Set([80, 443]);

/**
 * True when a webhook must not reach `address`: anything ipaddr.js does not class as plain 'unicast', so
 * every block IANA's special-purpose registries do not mark globally reachable is refused, and a few that
 * they do (AS112, AMT, ORCHIDv2), which no webhook receiver lives on. That includes every IPv6 form that
 * embeds an IPv4 address (IPv4-mapped, rfc6145, NAT64 64:ff9b::/96 and 64:ff9b:1::/48, 6to4, Teredo):
 * where the packet really goes depends on a translator, so the embedded address is not trusted either way.
 */
export function isPrivateAddress(address: string): boolean {
  if (isIP(address) === 0) return true; // not an address at all: refuse
  let ip: ipaddr.IPv4 | ipaddr.IPv6;
  try {
    ip = ipaddr.parse(address);
  } catch {
    return true;
  }
  if (ip.range() !== 'unicast') return true;
  // A zone only scopes a link-local address to an interface: a global target never needs one.
  return ip instanceof ipaddr.IPv6 && (ip.zoneId !== undefined || !ip.match(globalUnicast));
}

export interface UrlPolicy {
  allowPrivate: boolean;
  requireHttps: boolean;
  /** Ports a webhook may use; unset means 80 and 443. allowPrivate allows any port. */
  allowedPorts?: ReadonlySet<number> | 'any';
}

/** The port a request to `url` connects to: an omitted port is the scheme's. */
export function effectivePort(url: URL): number {
  return url.port ? Number(url.port) : url.protocol === 'https:' ? 443 : 80;
}

/** Null when `url`'s port is allowed, else why not. Private targets are local receivers on random ports. */
export function portRefusal(url: URL, policy: Pick<UrlPolicy, 'allowPrivate' | 'allowedPorts'>): string | null {
  const allowed = policy.allowedPorts ?? DEFAULT_WEBHOOK_PORTS;
  if (policy.allowPrivate || allowed === 'any' || allowed.has(effectivePort(url))) return null;
  return `webhookUrl port must be one of ${[...allowed].sort((a, b) => a - b).join(', ') || '(none)'} (WEBHOOK_PORTS)`;
}

/** Submit-time check: scheme, credentials, port, and every address the host resolves to now. */
export async function checkWebhookUrl(raw: string, policy: UrlPolicy): Promise<URL> {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new FaceMatchError('WEBHOOK_URL_INVALID', 'webhookUrl is not a URL');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new FaceMatchError('WEBHOOK_URL_INVALID', 'webhookUrl must be http(s)');
  if (policy.requireHttps && url.protocol !== 'https:') throw new FaceMatchError('WEBHOOK_URL_INVALID', 'webhookUrl must be https');
  if (url.username || url.password) throw new FaceMatchError('WEBHOOK_URL_INVALID', 'webhookUrl must not carry credentials');
  if (policy.allowPrivate) return url;
  const badPort = portRefusal(url, policy);
  if (badPort) throw new FaceMatchError('WEBHOOK_URL_INVALID', badPort);
  const host = url.hostname.replace(/^\[|\]$/g, '');
  let addresses: string[];
  try {
    addresses = isIP(host) ? [host] : (await lookup(host, { all: true, verbatim: true })).map((a) => a.address);
  } catch {
    throw new FaceMatchError('WEBHOOK_URL_INVALID', 'webhookUrl host does not resolve');
  }
  if (addresses.length === 0 || addresses.some(isPrivateAddress)) {
    throw new FaceMatchError('WEBHOOK_URL_INVALID', 'webhookUrl must point to a public address');
  }
  return url;
}
