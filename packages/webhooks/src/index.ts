// The signature scheme is part of the contract, shared with the client SDK; delivery and SSRF rules live here.
export { generateWebhookSecret, secretKey, sign, verifyWebhook, webhookHeaders, WebhookVerificationError, TOLERANCE_S } from '@facematch/contracts';
export { checkWebhookUrl, isPrivateAddress, type UrlPolicy } from './ssrf.ts';
export { deliver } from './deliver.ts';
