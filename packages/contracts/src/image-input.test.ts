import { describe, expect, it } from 'vitest';
import { isStrictBase64 } from './image-input.ts';

describe('isStrictBase64', () => {
  it.each(['', 'QQ==', 'QUI=', 'QUJD', 'a+/9'])('accepts %j', (s) => expect(isStrictBase64(s)).toBe(true));
  it.each(['Q', 'QQ=', 'Q===', 'Q=Q=', '=QUJ', 'QU I', 'QU\nJD', 'a-_9', 'QQ==QUJD', 'QR==', 'QUJ$'])('refuses %j', (s) => expect(isStrictBase64(s)).toBe(false));
});
