import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { isIP, type LookupFunction } from 'node:net';
import type { DeliveryAttempt } from '@facematch/contracts';
import { isPrivateAddress, portRefusal } from './ssrf.ts';


export class BlockedAddressError extends Error {
  override readonly name = 'BlockedAddressError';
}

/**
 * Resolves the host and refuses private addresses at connect time, so a name that resolved to a public
 * address at submit time and to 127.0.0.1 now (DNS rebinding) is still refused.
 */
const guardedLookup: LookupFunction = (hostname, options, callback) => {
  dnsLookup(hostname, { ...options, all: true }, (err, addresses) => {
    if (err) return callback(err, '', 4);
    const list = addresses as LookupAddress[];
    const bad = list.find((a) => isPrivateAddress(a.address));
    if (bad || list.length === 0) return callback(new BlockedAddressError(`${hostname} resolves to a private address`), '', 4);
    if ((options as { all?: boolean }).all) return (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, list);
    callback(null, list[0]!.address, list[0]!.family);
  });
};

/** One POST. Redirects are not followed: a 3xx is a failed attempt like any non-2xx. */
export function deliver(
  url: string,
  body: string,
  headers: Record<string, string>,
  opts: { timeoutMs: number; allowPrivate: boolean; allowedPorts?: ReadonlySet<number> | 'any' },
): Promise<DeliveryAttempt> {
  const target = new URL(url);
  const host = target.hostname.replace(/^\[|\]$/g, '');
  // Checked again here, not only at submit: a job queued before WEBHOOK_PORTS was narrowed obeys the new policy.
  const badPort = portRefusal(target, opts);
  if (badPort) return Promise.resolve({ status: undefined, error: `blocked: ${badPort}` });
  if (!opts.allowPrivate && isIP(host) && isPrivateAddress(host)) {
    return Promise.resolve({ status: undefined, error: 'blocked: private address' });
  }
  const request = target.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve) => {
    const req = request(
      target,
      {
        method: 'POST',
        headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) },
        timeout: opts.timeoutMs,
        ...(opts.allowPrivate ? {} : { lookup: guardedLookup }),
      },
      (res) => {
        res.resume(); // the receiver's body is not ours to keep
        const retryAfter = Number(res.headers['retry-after']);
        res.on('end', () => resolve({ status: res.statusCode, ...(Number.isFinite(retryAfter) && retryAfter >= 0 ? { retryAfterS: retryAfter } : {}) }));
        res.on('error', (e) => resolve({ status: res.statusCode, error: e.message }));
      },
    );
    // The whole attempt, not just idle time, is bounded by the timeout.
    const timer = setTimeout(() => req.destroy(new Error(`timed out after ${opts.timeoutMs} ms`)), opts.timeoutMs);
    req.on('timeout', () => req.destroy(new Error(`timed out after ${opts.timeoutMs} ms`)));
    req.on('error', (e) => resolve({ status: undefined, error: e instanceof BlockedAddressError ? `blocked: ${e.message}` : e.message }));
    req.on('close', () => clearTimeout(timer));
    req.end(body);
  });
}
