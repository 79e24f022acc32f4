import { Webhook } from 'standardwebhooks';
import { describe, expect, it } from 'vitest';
import { generateWebhookSecret, verifyWebhook, webhookHeaders } from './webhook-signature.ts';

describe('Standard Webhooks signing', () => {
  const secret = generateWebhookSecret();
  const body = JSON.stringify({ type: 'face_verification.completed', data: { id: 'j1' } });

  it('produces signatures the standardwebhooks package verifies unchanged', () => {
    const headers = webhookHeaders(secret, 'msg_j1', body);
    expect(new Webhook(secret).verify(body, headers)).toEqual(JSON.parse(body));
  });

  it('verifies its own deliveries, and refuses a tampered body, a wrong secret or an old timestamp', () => {
    const headers = webhookHeaders(secret, 'msg_j1', body);
    expect(verifyWebhook(headers, body, secret)).toEqual(JSON.parse(body));
    expect(() => verifyWebhook(headers, body.replace('j1', 'j2'), secret)).toThrow(/signature/);
    expect(() => verifyWebhook(headers, body, generateWebhookSecret())).toThrow(/signature/);
    const old = webhookHeaders(secret, 'msg_j1', body, Date.now() - 10 * 60_000);
    expect(() => verifyWebhook(old, body, secret)).toThrow(/timestamp/);
  });

  it('accepts what the standardwebhooks package signs', () => {
    const wh = new Webhook(secret);
    const ts = new Date();
    const signature = wh.sign('msg_x', ts, body);
    expect(verifyWebhook({ 'webhook-id': 'msg_x', 'webhook-timestamp': String(Math.floor(ts.getTime() / 1000)), 'webhook-signature': signature }, body, secret)).toEqual(JSON.parse(body));
  });
});
