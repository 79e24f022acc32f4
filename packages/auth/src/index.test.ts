import jwt from 'jsonwebtoken';
import { describe, expect, it } from 'vitest';
import { FaceMatchError } from '@facematch/contracts';
import { authenticate, parseTtl, signToken, verifiedCacheBytes } from './index.ts';

const tenants = new Map([
  ['key-a', { apiKey: 'key-a', secret: 'secret-a-0123456789' }],
  ['key-b', { apiKey: 'key-b', secret: 'secret-b-0123456789' }],
]);
const now = Math.floor(Date.now() / 1000);

function codeOf(header: string | undefined): string {
  try {
    authenticate(header, tenants);
  } catch (err) {
    expect(err).toBeInstanceOf(FaceMatchError);
    expect((err as FaceMatchError).httpStatus).toBe(401);
    return (err as FaceMatchError).code;
  }
  return 'OK';
}

describe('authenticate', () => {
  const good = signToken({ apiKey: 'key-a', secret: 'secret-a-0123456789', ttlSeconds: 600 });

  it('remembers a verified token only while it is valid, and only for the tenant that signed it', () => {
    const token = signToken({ apiKey: 'key-a', secret: 'secret-a-0123456789', ttlSeconds: 60 });
    expect(authenticate(token, tenants).apiKey).toBe('key-a'); // verified, then remembered
    const exp = (jwt.decode(token) as { exp: number }).exp;
    expect(() => authenticate(token, tenants, (exp + 61) * 1000)).toThrow(expect.objectContaining({ code: 'TOKEN_EXPIRED' }));
    // The same API key with a rotated secret: the remembered verdict does not carry over.
    const rotated = new Map([['key-a', { apiKey: 'key-a', secret: 'rotated-secret-0123456789' }]]);
    expect(() => authenticate(token, rotated)).toThrow(expect.objectContaining({ code: 'TOKEN_INVALID' }));
  });

  it('accepts a raw token, as VideoSDK clients send it, and a Bearer token', () => {
    expect(authenticate(good, tenants).apiKey).toBe('key-a');
    expect(authenticate(`Bearer ${good}`, tenants).apiKey).toBe('key-a');
  });

  it.each([
    ['no header', undefined, 'TOKEN_MISSING'],
    ['an empty header', '  ', 'TOKEN_MISSING'],
    ['a garbage string', 'not-a-token', 'TOKEN_INVALID'],
    ['alg none', jwt.sign({ apikey: 'key-a', exp: now + 600 }, '', { algorithm: 'none' }), 'TOKEN_INVALID'],
    ['the wrong secret', jwt.sign({ apikey: 'key-a', exp: now + 600 }, 'secret-b-0123456789'), 'TOKEN_INVALID'],
    ['another tenant’s secret', jwt.sign({ apikey: 'key-b', exp: now + 600 }, 'secret-a-0123456789'), 'TOKEN_INVALID'],
    ['HS512', jwt.sign({ apikey: 'key-a', exp: now + 600 }, 'secret-a-0123456789', { algorithm: 'HS512' }), 'TOKEN_INVALID'],
    ['no exp', jwt.sign({ apikey: 'key-a' }, 'secret-a-0123456789'), 'TOKEN_INVALID'],
    ['a future nbf', jwt.sign({ apikey: 'key-a', exp: now + 600, nbf: now + 300 }, 'secret-a-0123456789'), 'TOKEN_INVALID'],
    ['expiry beyond the skew', jwt.sign({ apikey: 'key-a', exp: now - 120 }, 'secret-a-0123456789'), 'TOKEN_EXPIRED'],
    ['an unknown apikey', jwt.sign({ apikey: 'key-z', exp: now + 600 }, 'whatever'), 'UNKNOWN_API_KEY'],
    ['no apikey', jwt.sign({ exp: now + 600 }, 'secret-a-0123456789'), 'TOKEN_INVALID'],
  ])('refuses %s', (_, header, code) => {
    expect(codeOf(header)).toBe(code);
  });

  it('refuses a token whose parts are base64 but not JSON (found by the fuzzer)', () => {
    const bad = Buffer.from('{"alg":"HS256\u0001"}').toString('base64url'); // a raw control character inside a JSON string
    expect(codeOf(`${bad}.${bad}.sig`)).toBe('TOKEN_INVALID');
  });

  it('refuses an RS256 header', () => {
    const head = Buffer.from(JSON.stringify({ alg: 'RS256', typ: 'JWT' })).toString('base64url');
    const body = Buffer.from(JSON.stringify({ apikey: 'key-a', exp: now + 600 })).toString('base64url');
    expect(codeOf(`${head}.${body}.c2ln`)).toBe('TOKEN_INVALID');
  });

  it('tolerates clock skew up to 60 s', () => {
    expect(codeOf(jwt.sign({ apikey: 'key-a', exp: now - 30 }, 'secret-a-0123456789'))).toBe('OK');
    expect(codeOf(jwt.sign({ apikey: 'key-a', exp: now + 600, nbf: now + 30 }, 'secret-a-0123456789'))).toBe('OK');
  });
});

describe('the verified-token cache', () => {
  const sized = (i: number, pad: number) => jwt.sign({ apikey: 'key-a', exp: now + 600, i, pad: 'p'.repeat(pad) }, 'secret-a-0123456789');

  it('stays under 8 MB of tokens however many large ones arrive, dropping the oldest', () => {
    const first = sized(-1, 1400);
    authenticate(first, tenants);
    const bytes = verifiedCacheBytes();
    authenticate(first, tenants); // a hit: kept once
    expect(verifiedCacheBytes()).toBe(bytes);
    let last = '';
    for (let i = 0; i < 6_000; i++) {
      last = sized(i, 1400);
      expect(last.length).toBeGreaterThan(1900);
      expect(last.length).toBeLessThanOrEqual(2048);
      authenticate(last, tenants);
      expect(verifiedCacheBytes()).toBeLessThanOrEqual(8 * 1024 * 1024);
    }
    expect(verifiedCacheBytes()).toBeGreaterThan(8 * 1024 * 1024 - 2048); // full, not cleared
    // The newest is still there: a hit adds nothing.
    const full = verifiedCacheBytes();
    authenticate(last, tenants);
    expect(verifiedCacheBytes()).toBe(full);
    // 6,000 HMAC signs and verifies: seconds on a busy 2-core machine, so more than the 5 s default.
  }, 60_000);

  it('does not keep a token over 2 KB, but still accepts it', () => {
    const long = sized(0, 4000);
    expect(long.length).toBeGreaterThan(2048);
    const before = verifiedCacheBytes();
    expect(authenticate(long, tenants).apiKey).toBe('key-a');
    expect(verifiedCacheBytes()).toBe(before);
  });
});

describe('parseTtl', () => {
  it('reads units', () => {
    expect([parseTtl('90'), parseTtl('30m'), parseTtl('2h'), parseTtl('1d')]).toEqual([90, 1800, 7200, 86400]);
    expect(() => parseTtl('soon')).toThrow(/invalid ttl/);
  });
});
