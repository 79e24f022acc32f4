import { createSecretKey, type KeyObject } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { FaceMatchError } from '@facematch/contracts';

export interface Tenant {
  apiKey: string;
  secret: string;
}

// jsonwebtoken turns a string secret into a KeyObject on every verify: a tenth of the ingress's CPU in
// the profile. One KeyObject per tenant, made once.
const keys = new WeakMap<Tenant, KeyObject>();
function keyFor(tenant: Tenant): KeyObject {
  let key = keys.get(tenant);
  if (!key) keys.set(tenant, (key = createSecretKey(Buffer.from(tenant.secret, 'utf8'))));
  return key;
}

/** Clock skew tolerated on exp and nbf, in seconds. */
export const CLOCK_SKEW_S = 60;

export function signToken(opts: { apiKey: string; secret: string; ttlSeconds: number; permissions?: string[] }): string {
  return jwt.sign({ apikey: opts.apiKey, permissions: opts.permissions ?? ['allow_join'] }, opts.secret, {
    algorithm: 'HS256',
    expiresIn: opts.ttlSeconds,
  });
}

/** Parses "2h", "30m", "45s", "1d" or a number of seconds. */
export function parseTtl(ttl: string): number {
  const m = /^(\d+)\s*([smhd]?)$/.exec(ttl.trim());
  if (!m) throw new Error(`invalid ttl "${ttl}" (use e.g. 3600, 30m, 2h, 1d)`);
  const unit = { '': 1, s: 1, m: 60, h: 3600, d: 86400 }[m[2] as '' | 's' | 'm' | 'h' | 'd'];
  return Number(m[1]) * unit;
}

// Clients reuse a token for many requests; verifying its HMAC and JSON each time was 4% of the
// ingress's CPU. A verified token stays good until its exp, for the same tenant object.
// Bounded by the bytes of its keys, not their count: a header can carry a 16 KB token, and 10,000 of
// those were 170 MB a process. A Map iterates in insertion order, so the first key is the oldest.
const verified = new Map<string, { tenant: Tenant; exp: number }>();
const VERIFIED_MAX_BYTES = 8 * 1024 * 1024;
/** Real tokens are a few hundred bytes; longer ones are verified every time rather than kept. */
const VERIFIED_MAX_TOKEN = 2048;
let verifiedBytes = 0;

function remember(raw: string, entry: { tenant: Tenant; exp: number }): void {
  if (raw.length > VERIFIED_MAX_TOKEN) return;
  forget(raw);
  while (verifiedBytes + raw.length > VERIFIED_MAX_BYTES) {
    const oldest = verified.keys().next();
    if (oldest.done) break;
    forget(oldest.value);
  }
  verified.set(raw, entry);
  verifiedBytes += raw.length;
}

function forget(raw: string): void {
  if (verified.delete(raw)) verifiedBytes -= raw.length;
}

/** The verified-token cache's size in bytes of token (header values are latin1: a byte a character); for tests. */
export function verifiedCacheBytes(): number {
  return verifiedBytes;
}

/**
 * Authenticates an `Authorization` header: a raw JWT as VideoSDK sends it, or `Bearer <JWT>`.
 * The apikey claim picks the tenant whose secret must have signed it, with HS256 and nothing else.
 */
export function authenticate(header: string | undefined, tenants: ReadonlyMap<string, Tenant>, now = Date.now()): Tenant {
  const raw = header?.trim().replace(/^Bearer\s+/i, '');
  if (!raw) throw new FaceMatchError('TOKEN_MISSING', 'the Authorization header must carry a token');
  const hit = verified.get(raw);
  if (hit) {
    if (now / 1000 <= hit.exp + CLOCK_SKEW_S && tenants.get(hit.tenant.apiKey) === hit.tenant) return hit.tenant;
    forget(raw); // expired or its tenant changed: verified afresh below, and kept again only if it still passes
  }
  let decoded: jwt.Jwt | null;
  try {
    decoded = jwt.decode(raw, { complete: true });
  } catch {
    decoded = null; // jsonwebtoken throws on a header or payload that is base64 but not JSON
  }
  if (!decoded || typeof decoded.payload !== 'object' || decoded.payload === null) {
    throw new FaceMatchError('TOKEN_INVALID', 'the token is not a JWT');
  }
  if (decoded.header.alg !== 'HS256') throw new FaceMatchError('TOKEN_INVALID', 'the token must be signed with HS256');
  const apiKey = (decoded.payload as { apikey?: unknown }).apikey;
  if (typeof apiKey !== 'string' || apiKey === '') throw new FaceMatchError('TOKEN_INVALID', 'the token has no apikey claim');
  const tenant = tenants.get(apiKey);
  if (!tenant) throw new FaceMatchError('UNKNOWN_API_KEY', 'the token names an unknown API key');
  let payload: jwt.JwtPayload;
  try {
    payload = jwt.verify(raw, keyFor(tenant), {
      algorithms: ['HS256'],
      clockTolerance: CLOCK_SKEW_S,
      clockTimestamp: Math.floor(now / 1000),
    }) as jwt.JwtPayload;
  } catch (err) {
    if (err instanceof jwt.TokenExpiredError) throw new FaceMatchError('TOKEN_EXPIRED', 'the token has expired');
    if (err instanceof jwt.NotBeforeError) throw new FaceMatchError('TOKEN_INVALID', 'the token is not valid yet (nbf)');
    throw new FaceMatchError('TOKEN_INVALID', 'the token signature does not verify');
  }
  if (typeof payload.exp !== 'number') throw new FaceMatchError('TOKEN_INVALID', 'the token must carry exp');
  // Only tokens already past nbf are kept: from then on, validity depends on exp alone.
  if (payload.nbf === undefined || payload.nbf <= now / 1000) {
    remember(raw, { tenant, exp: payload.exp });
  }
  return tenant;
}
