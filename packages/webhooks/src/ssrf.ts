import { BlockList, isIP } from 'node:net';
import { lookup } from 'node:dns/promises';
import { FaceMatchError } from '@facematch/contracts';

/** Addresses a webhook may never reach unless private targets are explicitly allowed. */
const blocked = new BlockList();
for (const [net, bits] of [
  ['0.0.0.0', 8], // "this" network, unspecified
  ['10.0.0.0', 8],
  ['100.64.0.0', 10], // CGNAT
  ['127.0.0.0', 8],
  ['169.254.0.0', 16], // link-local, cloud metadata (169.254.169.254)
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['224.0.0.0', 4], // multicast
  ['240.0.0.0', 4], // reserved, broadcast
] as const) {
  blocked.addSubnet(net, bits, 'ipv4');
}
for (const [net, bits] of [
  ['::', 128], // unspecified
  ['::1', 128],
  ['64:ff9b::', 96], // NAT64
  ['fc00::', 7], // unique local
  ['fe80::', 10], // link-local
  ['ff00::', 8], // multicast
] as const) {
  blocked.addSubnet(net, bits, 'ipv6');
}

export function isPrivateAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 0) return true; // not an address at all: refuse
  // IPv4-mapped IPv6 (::ffff:a.b.c.d) is refused outright. It is checked by hand because BlockList
  // would also match every plain IPv4 address against that range.
  if (family === 6 && /^::ffff:/i.test(new URL(`http://[${address}]`).hostname.slice(1, -1))) return true;
  return blocked.check(address, family === 4 ? 'ipv4' : 'ipv6');
}

export interface UrlPolicy {
  allowPrivate: boolean;
  requireHttps: boolean;
}

/** Submit-time check: scheme, credentials, and every address the host resolves to now. */
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
