import { describe, expect, it } from 'vitest';
import { checkWebhookUrl, isPrivateAddress } from './ssrf.ts';

describe('isPrivateAddress', () => {
  it.each(['127.0.0.1', '10.0.0.1', '172.16.5.4', '192.168.1.1', '169.254.169.254', '100.64.0.1', '0.0.0.0', '224.0.0.1', '::1', '::', '::ffff:127.0.0.1', '::ffff:8.8.8.8', 'fe80::1', 'fd00::1', 'ff02::1', 'not-an-ip'])(
    'refuses %s',
    (a) => expect(isPrivateAddress(a)).toBe(true),
  );
  it.each(['8.8.8.8', '1.1.1.1', '2606:4700:4700::1111'])('allows %s', (a) => expect(isPrivateAddress(a)).toBe(false));
});

describe('checkWebhookUrl', () => {
  const strict = { allowPrivate: false, requireHttps: false };
  it.each(['http://127.0.0.1/hook', 'http://[::1]/hook', 'http://169.254.169.254/latest', 'http://10.0.0.1/', 'http://localhost:9/x', 'ftp://8.8.8.8/', 'https://u:p@8.8.8.8/'])(
    'refuses %s',
    async (url) => {
      await expect(checkWebhookUrl(url, strict)).rejects.toMatchObject({ code: 'WEBHOOK_URL_INVALID' });
    },
  );
  it('requires https in production', async () => {
    await expect(checkWebhookUrl('http://8.8.8.8/', { allowPrivate: false, requireHttps: true })).rejects.toMatchObject({ code: 'WEBHOOK_URL_INVALID' });
    await expect(checkWebhookUrl('https://8.8.8.8/', { allowPrivate: false, requireHttps: true })).resolves.toBeInstanceOf(URL);
  });
  it('allows private targets only when told to', async () => {
    await expect(checkWebhookUrl('http://127.0.0.1:9/x', { allowPrivate: true, requireHttps: false })).resolves.toBeInstanceOf(URL);
  });
});
