// Webhooks, the whole feature (feature.ts): events, signed delivery with backoff, state, and erasure.
// The signature scheme is part of the contract, shared with the client SDK; SSRF rules live here too.
export { generateWebhookSecret, secretKey, sign, verifyWebhook, webhookHeaders, WebhookVerificationError, TOLERANCE_S } from '@facematch/contracts';
export { checkWebhookUrl, isPrivateAddress, type UrlPolicy } from './ssrf.ts';
export { Webhooks, startDeliveries, type DeliveryObservation } from './feature.ts';
