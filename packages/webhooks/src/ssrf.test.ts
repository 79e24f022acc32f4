import { describe, expect, it } from 'vitest';
import { checkWebhookUrl, isPrivateAddress } from './ssrf.ts';

describe('isPrivateAddress', () => {
  it.each(['127.0.0.1', '10.0.0.1', '172.16.5.4', '192.168.1.1', '169.254.169.254', '100.64.0.1', '0.0.0.0', '224.0.0.1', '::1', '::', '::ffff:127.0.0.1', '::ffff:8.8.8.8', 'fe80::1', 'fd00::1', 'ff02::1', 'not-an-ip'])(
    'refuses %s',
    (a) => expect(isPrivateAddress(a)).toBe(true),
  );
  it.each([
    ['::127.0.0.1', 'IPv4-compatible loopback'],
    ['::7f00:1', 'IPv4-compatible loopback, hex'],
    ['::a00:1', 'IPv4-compatible 10.0.0.1'],
    ['::8.8.8.8', 'IPv4-compatible, even of a public address'],
    ['::ffff:0:7f00:1', 'IPv4-translated (rfc6145)'],
    ['64:ff9b::7f00:1', 'NAT64 well-known prefix'],
    ['64:ff9b:1::a00:1', 'local-use NAT64 (64:ff9b:1::/48)'],
    ['2002:7f00:1::', '6to4 of 127.0.0.1'],
    ['2002:a00:1::', '6to4 of 10.0.0.1'],
    ['2001::1', 'Teredo'],
    ['2001:0:4136:e378:8000:63bf:3fff:fdd2', 'Teredo with an embedded server'],
    ['2001:db8::1', 'documentation'],
    ['2001:2::1', 'benchmarking'],
    ['2001:100::1', 'IETF protocol assignments (2001::/23)'],
    ['3fff::1', 'documentation (3fff::/20)'],
    ['fec0::1', 'site-local'],
    ['100::1', 'discard-only'],
    ['100:0:0:1::1', 'dummy prefix'],
    ['5f00::1', 'segment routing'],
    ['4000::1', 'outside global unicast 2000::/3'],
    ['fe80::1%eth0', 'zoned link-local'],
    ['192.0.2.1', 'TEST-NET-1'],
    ['198.18.0.1', 'benchmarking'],
    ['255.255.255.255', 'broadcast'],
    ['240.0.0.1', 'reserved'],
  ])('refuses %s (%s)', (a) => expect(isPrivateAddress(a)).toBe(true));
  it.each(['8.8.8.8', '1.1.1.1', '2606:4700:4700::1111', '2a00:1450:4001::1'])('allows %s', (a) => expect(isPrivateAddress(a)).toBe(false));
});

describe('checkWebhookUrl', () => {
  const strict = { allowPrivate: false, requireHttps: false };
  it.each([
    'http://127.0.0.1/hook',
    'http://[::1]/hook',
    'http://169.254.169.254/latest',
    'http://10.0.0.1/',
    'http://localhost:9/x',
    'ftp://8.8.8.8/',
    'https://u:p@8.8.8.8/',
    'http://[::127.0.0.1]/',
    'http://[::7f00:1]/',
    'http://[::a00:1]/',
    'http://[2002:7f00:1::]/',
    'http://[2002:a00:1::]/',
    'http://[64:ff9b:1::a00:1]/',
    'http://[2001::1]/',
    'http://[fec0::1]/',
    'http://[100::1]/',
  ])('refuses %s', async (url) => {
    await expect(checkWebhookUrl(url, strict)).rejects.toMatchObject({ code: 'WEBHOOK_URL_INVALID' });
  });
  it.each(['http://8.8.8.8/hook', 'https://[2606:4700:4700::1111]/hook', 'https://[2a00:1450:4001::1]/'])('allows %s', async (url) => {
    await expect(checkWebhookUrl(url, strict)).resolves.toBeInstanceOf(URL);
  });
  it('requires https in production', async () => {
    await expect(checkWebhookUrl('http://8.8.8.8/', { allowPrivate: false, requireHttps: true })).rejects.toMatchObject({ code: 'WEBHOOK_URL_INVALID' });
    await expect(checkWebhookUrl('https://8.8.8.8/', { allowPrivate: false, requireHttps: true })).resolves.toBeInstanceOf(URL);
  });
  it('allows private targets only when told to', async () => {
    await expect(checkWebhookUrl('http://127.0.0.1:9/x', { allowPrivate: true, requireHttps: false })).resolves.toBeInstanceOf(URL);
  });

  describe('ports', () => {
    it('allows 80 and 443, explicit or implied, when no ports are configured', async () => {
      for (const url of ['http://8.8.8.8/', 'http://8.8.8.8:80/', 'https://8.8.8.8/', 'https://8.8.8.8:443/', 'http://8.8.8.8:443/']) {
        await expect(checkWebhookUrl(url, strict)).resolves.toBeInstanceOf(URL);
      }
    });
    it.each(['http://8.8.8.8:8080/', 'https://8.8.8.8:22/', 'http://8.8.8.8:6379/', 'https://[2606:4700:4700::1111]:8443/'])(
      'refuses %s by default, naming the allowed ports',
      async (url) => {
        await expect(checkWebhookUrl(url, strict)).rejects.toMatchObject({ code: 'WEBHOOK_URL_INVALID', message: expect.stringContaining('80, 443') });
      },
    );
    it('follows the configured ports', async () => {
      const policy = { ...strict, allowedPorts: new Set([8443]) };
      await expect(checkWebhookUrl('https://8.8.8.8:8443/', policy)).resolves.toBeInstanceOf(URL);
      await expect(checkWebhookUrl('https://8.8.8.8/', policy)).rejects.toMatchObject({ code: 'WEBHOOK_URL_INVALID', message: expect.stringContaining('8443') });
      await expect(checkWebhookUrl('https://8.8.8.8:9999/', { ...strict, allowedPorts: 'any' })).resolves.toBeInstanceOf(URL);
    });
    it('still refuses a private address on an allowed port', async () => {
      await expect(checkWebhookUrl('http://127.0.0.1:8080/', { ...strict, allowedPorts: 'any' })).rejects.toMatchObject({ code: 'WEBHOOK_URL_INVALID' });
    });
    it('allows any port with private targets, for local receivers on random ports', async () => {
      await expect(checkWebhookUrl('http://127.0.0.1:54321/x', { allowPrivate: true, requireHttps: false, allowedPorts: new Set([443]) })).resolves.toBeInstanceOf(URL);
    });
  });
});
