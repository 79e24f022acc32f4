import { describe, expect, it } from 'vitest';
import { decodeStrictBase64, decodeStrictBase64Text, isStrictBase64, toBytes } from './image-input.ts';

describe('isStrictBase64', () => {
  it.each(['', 'QQ==', 'QUI=', 'QUJD', 'a+/9'])('accepts %j', (s) => expect(isStrictBase64(s)).toBe(true));
  it.each(['Q', 'QQ=', 'Q===', 'Q=Q=', '=QUJ', 'QU I', 'QU\nJD', 'a-_9', 'QQ==QUJD', 'QR==', 'QUJ$', 'QUI', 'Q\x00JD', 'QUJDRA=A', 'QUJD\u00e9A==', '====', 'QUJDQR=='])('refuses %j', (s) => expect(isStrictBase64(s)).toBe(false));
});

describe('decodeStrictBase64', () => {
  // The definition it must agree with: canonical base64 is what re-encoding the decoded bytes gives back.
  const canonical = (s: string) => Buffer.from(s, 'base64').toString('base64') === s;
  it('agrees with decode-and-re-encode on 20,000 mutated strings', () => {
    let seed = 7;
    const rand = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % n);
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=-_ \n.$\u00e9\u0000';
    let refused = 0;
    for (let k = 0; k < 20_000; k++) {
      const bytes = Buffer.from(Array.from({ length: rand(12) }, () => rand(256)));
      const chars = [...bytes.toString('base64')];
      for (let m = rand(3); m > 0 && chars.length > 0; m--) {
        const at = rand(chars.length + 1);
        const c = alphabet[rand(alphabet.length)]!;
        [() => chars.splice(at, 0, c), () => chars.splice(at, 1, c), () => chars.splice(at, 1)][rand(3)]!();
      }
      const s = chars.join('');
      const decoded = decodeStrictBase64(s);
      expect(decoded !== undefined, JSON.stringify(s)).toBe(canonical(s));
      expect(decodeStrictBase64Text(Buffer.from(s))?.toString('hex')).toBe(decoded?.toString('hex'));
      if (decoded) expect(decoded.equals(Buffer.from(s, 'base64'))).toBe(true);
      else refused++;
    }
    expect(refused).toBeGreaterThan(5_000); // the mutations did produce invalid input
  });

  it('decodes long text chunk by chunk exactly as the whole string, and refuses a flaw anywhere in it', () => {
    let seed = 11;
    const rand = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % n);
    const chunk = 48 * 1024;
    const flaws = ['-', '_', ' ', '\n', '=', '$', '\u00e9', 'A', 'AAAA', ''];
    const pool = Buffer.from(Array.from({ length: 150_000 }, () => rand(256)));
    for (let k = 0; k < 200; k++) {
      const bytes = pool.subarray(rand(50_000), 100_000 + rand(50_000));
      const good = bytes.toString('base64');
      expect(decodeStrictBase64Text(Buffer.from(good))?.equals(bytes)).toBe(true);
      // Flaws near chunk boundaries, at the ends and anywhere else.
      const spots = [chunk - 1, chunk, chunk + 1, 2 * chunk - 2, good.length - 1, good.length - 3, 0, rand(good.length)];
      const at = spots[rand(spots.length)]!;
      const flaw = flaws[rand(flaws.length)]!;
      const bad = rand(2) ? good.slice(0, at) + flaw + good.slice(at + 1) : good.slice(0, at) + flaw + good.slice(at);
      expect(decodeStrictBase64Text(Buffer.from(bad)) !== undefined, `${flaw} at ${at}`).toBe(canonical(bad));
    }
  });
});

describe('toBytes', () => {
  const b64 = Buffer.from('hello').toString('base64');
  // URI schemes and media types are case-insensitive, and so is the base64 parameter.
  it.each(['data:image/jpeg;base64,', 'DATA:IMAGE/JPEG;BASE64,', 'Data:Image/Png;Base64,', 'data:image/webp;charset=x;BASE64,'])('reads a %s data URI, as a string and as bytes', (prefix) => {
    expect(toBytes(prefix + b64, 'img1', 1024).toString()).toBe('hello');
    expect(toBytes({ encoded: Buffer.from(prefix + b64) }, 'img1', 1024).toString()).toBe('hello');
  });

  it.each([
    ['DATA:TEXT/HTML;BASE64,', 'UNSUPPORTED_FORMAT'],
    ['DATA:IMAGE/JPEG,', 'INVALID_DATA_URI'],
    ['DATA:IMAGE/JPEG;BASE64', 'INVALID_DATA_URI'],
  ])('still refuses %s', (prefix, code) => {
    expect(() => toBytes(prefix + b64, 'img1', 1024)).toThrow(expect.objectContaining({ code }));
  });
});
