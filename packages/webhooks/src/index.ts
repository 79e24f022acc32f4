export { generateWebhookSecret, secretKey, sign, verifyWebhook, webhookHeaders, WebhookVerificationError, TOLERANCE_S } from './sign.ts';
export { checkWebhookUrl, isPrivateAddress, type UrlPolicy } from './ssrf.ts';
export { deliver, type DeliveryOutcome } from './deliver.ts';
