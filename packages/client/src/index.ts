import { createHmac } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  API_BASE,
  ERROR_CATALOG,
  type ErrorCode,
  type JobAccepted,
  type JobView,
  type ModelInfo,
  type PolicyName,
  type VerifyResult,
  type WebhookEvent,
  verifyWebhook as verifySignature,
} from '@facematch/contracts';

export type { ErrorCode, JobAccepted, JobView, ModelInfo, PolicyName, VerifyResult, WebhookEvent };
export { API_BASE, WebhookVerificationError } from '@facematch/contracts';


/** A file path, a Buffer of image bytes, a data URI, or bare base64. */
export type ImageSource = string | Buffer | Uint8Array;

export interface ClientOptions {
  baseUrl: string;
  /** A JWT to send as is; or an API key and secret, from which the client mints short-lived tokens. */
  token?: string;
  apiKey?: string;
  secret?: string;
  /** Retries of a 429 or 503 (and of a refused connection), each after the server's Retry-After. Default 3. */
  maxRetries?: number;
  /** The longest the client waits before a retry, whatever Retry-After says. Default 30 s. */
  maxRetryDelayMs?: number;
  /** Per-request timeout. Default 60 s. */
  timeoutMs?: number;
  /** Called before each retry; for logging. */
  onRetry?: (info: { attempt: number; status: number | undefined; code: string | undefined; retryAfterS: number | undefined; delayMs: number }) => void;
  fetch?: typeof fetch;
}

/** An error answered by the server (with its stable `code`), or a request that never got an answer (`NETWORK`). */
export class FaceMatchApiError extends Error {
  override readonly name = 'FaceMatchApiError';
  constructor(
    readonly code: ErrorCode | 'NETWORK' | 'TIMEOUT' | 'UNEXPECTED_RESPONSE',
    message: string,
    readonly status: number | undefined,
    readonly retryAfterS?: number,
    readonly image?: 'img1' | 'img2',
  ) {
    super(message);
  }

  /** Whether the same request may succeed later; from the server's error catalog. */
  get retryable(): boolean {
    if (this.code === 'NETWORK' || this.code === 'TIMEOUT') return true;
    return this.code in ERROR_CATALOG ? ERROR_CATALOG[this.code as ErrorCode].retryable : false;
  }
}

const TOKEN_TTL_S = 600;

/** An HS256 JWT as the server expects it: `apikey` claim and `exp`. */
export function mintToken(apiKey: string, secret: string, ttlSeconds = TOKEN_TTL_S, now = Date.now()): string {
  const b64 = (v: object) => Buffer.from(JSON.stringify(v)).toString('base64url');
  const iat = Math.floor(now / 1000);
  const unsigned = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64({ apikey: apiKey, permissions: ['allow_join'], iat, exp: iat + ttlSeconds })}`;
  return `${unsigned}.${createHmac('sha256', secret).update(unsigned).digest('base64url')}`;
}

/** Reads a file path into bytes; data URIs and base64 pass through, the server checks them. */
export function toImagePayload(src: ImageSource): string {
  if (typeof src !== 'string') return `data:image/jpeg;base64,${Buffer.from(src).toString('base64')}`;
  if (src.startsWith('data:')) return src;
  // A string naming an existing file is that file; anything else goes as is, and the server checks it.
  if (existsSync(src)) return `data:image/jpeg;base64,${readFileSync(src).toString('base64')}`;
  return src;
}

export class FaceMatchClient {
  private readonly baseUrl: string;
  private readonly fetch: typeof fetch;
  private minted: { token: string; until: number } | undefined;

  constructor(private readonly opts: ClientOptions) {
    if (!opts.token && !(opts.apiKey && opts.secret)) throw new Error('FaceMatchClient needs a token, or an apiKey and secret');
    this.baseUrl = opts.baseUrl.replace(/\/+$/, '');
    this.fetch = opts.fetch ?? fetch;
  }

  /** Same person or not, waiting for the answer (the VideoSDK-compatible call). May answer a job to poll under load. */
  async verify(img1: ImageSource, img2: ImageSource, opts: { policy?: PolicyName } = {}): Promise<VerifyResult> {
    const r = await this.request<VerifyResult | JobAccepted>('POST', '/verify', { img1: toImagePayload(img1), img2: toImagePayload(img2), policy: opts.policy });
    if ('verified' in r) return r;
    // The server's sync wait ran out: the job goes on, and its result is a poll away.
    const job = await this.wait(r.id);
    if (job.result) return job.result;
    throw jobError(job);
  }

  /** Queues a verification. With a webhookUrl the result is also POSTed there, signed. */
  async submit(
    img1: ImageSource,
    img2: ImageSource,
    opts: { webhookUrl?: string; metadata?: Record<string, unknown>; idempotencyKey?: string; policy?: PolicyName } = {},
  ): Promise<JobAccepted & Partial<JobView>> {
    const body = { img1: toImagePayload(img1), img2: toImagePayload(img2), webhookUrl: opts.webhookUrl, metadata: opts.metadata, policy: opts.policy };
    return this.request('POST', '/jobs', body, opts.idempotencyKey ? { 'idempotency-key': opts.idempotencyKey } : {});
  }

  /** The model files with their sha256, the engine version and the calibrated operating points. */
  async model(): Promise<ModelInfo> {
    return this.request('GET', '/model');
  }

  async get(id: string): Promise<JobView> {
    return this.request('GET', `/jobs/${encodeURIComponent(id)}`);
  }

  async delete(id: string): Promise<void> {
    await this.request('DELETE', `/jobs/${encodeURIComponent(id)}`);
  }

  /** Polls until the job completes or fails, backing off from 200 ms to 2 s. Throws TIMEOUT after `timeoutMs`. */
  async wait(id: string, opts: { timeoutMs?: number } = {}): Promise<JobView> {
    const deadline = Date.now() + (opts.timeoutMs ?? 120_000);
    for (let delay = 200; ; delay = Math.min(2000, delay * 1.5)) {
      const job = await this.get(id);
      if (job.status === 'completed' || job.status === 'failed') return job;
      if (Date.now() + delay > deadline) throw new FaceMatchApiError('TIMEOUT', `job ${id} still ${job.status} after ${opts.timeoutMs ?? 120_000} ms`, undefined);
      await sleep(delay);
    }
  }

  private token(): string {
    if (this.opts.token) return this.opts.token;
    const now = Date.now();
    if (!this.minted || this.minted.until < now) {
      // Re-minted a minute before expiry, so a request in flight never carries a stale token.
      this.minted = { token: mintToken(this.opts.apiKey!, this.opts.secret!, TOKEN_TTL_S, now), until: now + (TOKEN_TTL_S - 60) * 1000 };
    }
    return this.minted.token;
  }

  private async request<T>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<T> {
    const maxRetries = this.opts.maxRetries ?? 3;
    const payload = body === undefined ? undefined : JSON.stringify(body);
    for (let attempt = 0; ; attempt++) {
      let res: Response;
      try {
        res = await this.fetch(`${this.baseUrl}${API_BASE}${path}`, {
          method,
          headers: { authorization: this.token(), ...(payload ? { 'content-type': 'application/json' } : {}), ...headers },
          body: payload,
          signal: AbortSignal.timeout(this.opts.timeoutMs ?? 60_000),
        });
      } catch (cause) {
        const timeout = (cause as Error).name === 'TimeoutError';
        const err = new FaceMatchApiError(timeout ? 'TIMEOUT' : 'NETWORK', `${method} ${path}: ${(cause as Error).message}`, undefined);
        // A refused connection is safe to retry; a timed-out submission might have been queued, so it is not.
        if (timeout || attempt >= maxRetries) throw err;
        await this.backoff(attempt, undefined, err.code, undefined);
        continue;
      }
      if (res.ok) return (res.status === 204 ? undefined : await res.json()) as T;
      const err = await toError(res);
      if ((res.status === 429 || res.status === 503) && attempt < maxRetries) {
        await this.backoff(attempt, res.status, err.code, err.retryAfterS);
        continue;
      }
      throw err;
    }
  }

  private async backoff(attempt: number, status: number | undefined, code: string | undefined, retryAfterS: number | undefined): Promise<void> {
    const delayMs = Math.min(this.opts.maxRetryDelayMs ?? 30_000, retryAfterS !== undefined ? retryAfterS * 1000 : 500 * 2 ** attempt);
    this.opts.onRetry?.({ attempt: attempt + 1, status, code, retryAfterS, delayMs });
    await sleep(delayMs);
  }
}

async function toError(res: Response): Promise<FaceMatchApiError> {
  const retryAfter = Number(res.headers.get('retry-after'));
  const retryAfterS = Number.isFinite(retryAfter) && retryAfter >= 0 && res.headers.has('retry-after') ? retryAfter : undefined;
  const text = await res.text();
  try {
    const { error } = JSON.parse(text) as { error: { code: ErrorCode; message: string; image?: 'img1' | 'img2' } };
    return new FaceMatchApiError(error.code, error.message, res.status, retryAfterS, error.image);
  } catch {
    return new FaceMatchApiError('UNEXPECTED_RESPONSE', `HTTP ${res.status}: ${text.slice(0, 200)}`, res.status, retryAfterS);
  }
}

function jobError(job: JobView): FaceMatchApiError {
  const e = job.error ?? { code: 'INTERNAL' as const, message: `job ${job.id} ended ${job.status} without a result` };
  return new FaceMatchApiError(e.code, e.message, ERROR_CATALOG[e.code].httpStatus, undefined, e.image);
}

/**
 * For webhook receivers: checks the Standard Webhooks signature and age of a delivery, then returns
 * the event. Pass the raw body exactly as received; re-serialised JSON will not verify.
 */
export function verifyWebhook(headers: Parameters<typeof verifySignature>[0], rawBody: string | Buffer, secret: string): WebhookEvent {
  return verifySignature<WebhookEvent>(headers, rawBody, secret);
}
