import { webhookHeaders, type DeliveryJobData, type VerifyJobEnd, type WebhookEvent, type WebhookState } from '@facematch/contracts';
import { JOBS, JobQueue, PermanentFailure, RetryLater, runJobs, type Connection, type JobLog } from '@facematch/queue';
import { deliver } from './deliver.ts';

/**
 * Webhooks, the whole feature: the event a job's end makes, its signed delivery with backoff, the state
 * `GET /jobs/{id}` shows, and what a DELETE does to them. The apps only wire it: the worker announces
 * each end through `Webhooks.announce` and runs `startDeliveries`; the API reads `state` and calls
 * `erase`/`erased` around a DELETE. Deliveries have their own queue, so a slow receiver never holds up
 * verification work.
 */

const MAX_DELAY_MS = 6 * 3600 * 1000;

/** First retry after `baseMs`, doubling, ±20% jitter, capped at 6 h; a longer Retry-After is honoured. */
export function backoffDelay(attemptsMade: number, baseMs: number, retryAfterS: number | undefined, random = Math.random): number {
  const exp = Math.min(MAX_DELAY_MS, baseMs * 2 ** Math.max(0, attemptsMade - 1));
  const jittered = Math.round(exp * (0.8 + 0.4 * random()));
  return retryAfterS === undefined ? jittered : Math.max(jittered, Math.min(MAX_DELAY_MS, retryAfterS * 1000));
}

/** One delivery per verification job: its BullMQ id is derived from the job's, so a second add is a no-op. */
export const deliveryJobId = (verifyJobId: string) => `wh-${verifyJobId}`;

export function buildEvent(
  id: string,
  outcome: { result?: WebhookEvent['data']['result']; error?: WebhookEvent['data']['error'] } | 'deleted',
  metadata?: Record<string, unknown>,
): string {
  const status = outcome === 'deleted' ? 'deleted' : outcome.result ? 'completed' : 'failed';
  const event: WebhookEvent = {
    type: `face_verification.${status}`,
    timestamp: new Date().toISOString(),
    data: {
      id,
      status,
      // An erased job's event says only that it ended so: no result, no metadata.
      ...(outcome === 'deleted' ? {} : outcome.result ? { result: outcome.result } : { error: outcome.error }),
      ...(metadata && outcome !== 'deleted' ? { metadata } : {}),
    },
  };
  return JSON.stringify(event);
}

export interface WebhookSettings extends Connection {
  maxAttempts: number;
  /** How long results live (RESULT_TTL_S): an event, which carries one, never outlives it. */
  resultTtlS: number;
}

export class Webhooks {
  private constructor(
    private readonly settings: WebhookSettings,
    private readonly deliveries: JobQueue<DeliveryJobData>,
  ) {}

  /** `failFast` in the API (a missing Redis is a 503 now), `blocking` in workers (ride it out). */
  static open(settings: WebhookSettings, kind: 'failFast' | 'blocking', log?: JobLog): Webhooks {
    return new Webhooks(settings, JobQueue.open(JOBS.deliver, settings, kind, log));
  }

  private async enqueue(data: DeliveryJobData): Promise<void> {
    // The state record is keyed by the verification job, as GET /jobs/{id} reads it.
    await this.deliveries.initRecord(data.jobId, { status: 'pending', attempts: '0' }, this.settings.resultTtlS);
    await this.deliveries.add(data, { jobId: deliveryJobId(data.jobId), attempts: this.settings.maxAttempts, keepForS: this.settings.resultTtlS });
  }

  /**
   * The job-ended hook: every end of a job that asked for a webhook comes here, and its receiver gets one
   * event for it. Called again for the same job (a retry after a crash), it does nothing.
   */
  async announce(end: VerifyJobEnd): Promise<void> {
    if (!end.webhookUrl) return;
    const body = buildEvent(end.jobId, 'result' in end.outcome ? { result: end.outcome.result } : { error: end.outcome.error }, end.metadata);
    await this.enqueue({ jobId: end.jobId, tenant: end.tenant, url: end.webhookUrl, body });
  }

  async state(jobId: string): Promise<WebhookState | undefined> {
    const h = await this.deliveries.readRecord(jobId);
    if (!h.status) return undefined;
    return {
      status: h.status as WebhookState['status'],
      attempts: Number(h.attempts ?? 0),
      ...(h.lastStatusCode ? { lastStatusCode: Number(h.lastStatusCode) } : {}),
      ...(h.lastAttemptAt ? { lastAttemptAt: h.lastAttemptAt } : {}),
    };
  }

  /**
   * Before a DELETE erases a job: removes its delivery (whose job carries the whole event) with its state
   * and event-stream entries. 409 JOB_ACTIVE while an attempt is in flight. Returns the state it had.
   */
  async erase(jobId: string): Promise<WebhookState | undefined> {
    const before = await this.state(jobId);
    await this.deliveries.remove(deliveryJobId(jobId), 'a webhook delivery for this job is in flight; retry shortly');
    await this.deliveries.deleteRecord(jobId);
    return before;
  }

  /**
   * After the DELETE: a job whose end had not been delivered (still queued, or its delivery retrying) ends
   * here, and its receiver gets one `face_verification.deleted` event, carrying only the id.
   */
  async erased(job: { jobId: string; tenant: string; url: string }, before: WebhookState | undefined): Promise<void> {
    if (before?.status === 'delivered' || before?.status === 'failed') return;
    await this.enqueue({ jobId: job.jobId, tenant: job.tenant, url: job.url, body: buildEvent(job.jobId, 'deleted') });
  }

  async close(): Promise<void> {
    await this.deliveries.close();
  }
}

export interface DeliverySettings extends Connection {
  concurrency: number;
  lockDurationMs: number;
  backoffMs: number;
  resultTtlS: number;
  timeoutMs: number;
  allowPrivate: boolean;
  /** Ports a webhook may target (WEBHOOK_PORTS), or any. */
  allowedPorts: ReadonlySet<number> | 'any';
  /** Each tenant's signing secret (FACEMATCH_WEBHOOK_SECRETS). */
  secrets: ReadonlyMap<string, string>;
}

export type DeliveryObservation = 'delivered' | 'retry' | 'failed' | 'gone';

/** The delivery workers: sign, send (SSRF-guarded), record the state, retry with backoff. */
export function startDeliveries(settings: DeliverySettings, log: JobLog, observe: (o: DeliveryObservation) => void = () => {}): { close(): Promise<void> } {
  return runJobs(
    JOBS.deliver,
    { ...settings, retryDelayMs: (attemptsMade, retryAfterS) => backoffDelay(attemptsMade, settings.backoffMs, retryAfterS) },
    async (data, job, records) => {
      const { jobId } = data;
      const attempt = job.attempt;
      // The event carries the result, which must not outlive RESULT_TTL_S: a delivery still retrying past
      // it is abandoned (the housekeeping sweep removes such jobs too; this covers the gap between sweeps).
      if (Date.now() - job.enqueuedAt > settings.resultTtlS * 1000) {
        log.info({ jobId, attempt }, 'webhook abandoned: its result expired before a delivery succeeded');
        observe('failed');
        throw new PermanentFailure('the result expired before it could be delivered');
      }
      const secret = settings.secrets.get(data.tenant);
      // webhook-id is derived from the job: the same on every retry, so receivers can deduplicate.
      const res = secret
        ? await deliver(data.url, data.body, webhookHeaders(secret, `msg_${jobId}`, data.body), {
            timeoutMs: settings.timeoutMs,
            allowPrivate: settings.allowPrivate,
            allowedPorts: settings.allowedPorts,
          })
        : { status: undefined, error: `no webhook secret for tenant ${data.tenant}`, permanent: true };
      const ok = res.status !== undefined && res.status >= 200 && res.status < 300;
      const last = attempt >= job.maxAttempts;
      const gone = res.status === 410 || res.permanent === true;
      const status = ok ? 'delivered' : gone || last ? 'failed' : 'pending';
      await records.setRecord(
        jobId,
        { status, attempts: String(attempt), lastAttemptAt: new Date().toISOString(), ...(res.status ? { lastStatusCode: String(res.status) } : {}) },
        settings.resultTtlS,
      );
      observe(ok ? 'delivered' : res.status === 410 ? 'gone' : gone || last ? 'failed' : 'retry');
      const fields = { jobId, attempt, status: res.status, error: res.error };
      if (ok) {
        log.info(fields, 'webhook delivered');
        return;
      }
      if (gone) {
        log.info(fields, 'webhook will not be retried');
        throw new PermanentFailure(res.error ?? 'receiver answered 410 Gone');
      }
      log.warn({ ...fields, final: last }, last ? 'webhook delivery failed for good' : 'webhook delivery failed; will retry');
      throw new RetryLater(res.error ?? `receiver answered ${res.status}`, res.retryAfterS);
    },
    log,
  );
}
