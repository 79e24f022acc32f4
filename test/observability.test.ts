import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateWebhookSecret } from '@facematch/contracts';
import { redisUrlForTests } from './support/env.ts';
import { dataUri, photo, until } from './support/http.ts';
import { Receiver } from './support/receiver.ts';
import { TENANTS, startService, tokenFor, type Service } from './support/service.ts';

const uri = dataUri;
const BASE = '/ai/v1/face-verification';
const ADMIN_TOKEN = 'admin-token-0123456789abcdef';
const redisUrl = await redisUrlForTests();

async function post(base: string, path: string, body: unknown) {
  const res = await fetch(`${base}${BASE}${path}`, { method: 'POST', headers: { authorization: tokenFor(0), 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.status, body: (await res.json()) as { id: string } };
}

/** The value of one series in Prometheus text, or undefined when it is absent. */
function series(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return undefined;
}

describe.skipIf(!redisUrl)('metrics and the queue dashboard', () => {
  let svc: Service;
  let workerMetrics: string;
  const rx = new Receiver();
  const secret = generateWebhookSecret();
  beforeAll(async () => {
    await rx.listen();
    svc = await startService(redisUrl!, {
      workers: 0,
      env: { ADMIN_TOKEN, FACEMATCH_WEBHOOK_SECRETS: `${TENANTS[0].apiKey}:${secret}`, WEBHOOK_ALLOW_PRIVATE: 'true' },
    });
    // Port 0: the worker picks a free port and says which in its ready line.
    const worker = await svc.startWorker({ METRICS_PORT: '0', METRICS_HOST: '127.0.0.1' });
    const ready = worker.ready as { metricsPort: number };
    workerMetrics = `http://127.0.0.1:${ready.metricsPort}/metrics`;

    // A few jobs: a match, a photo with no face, and one with a webhook.
    expect((await post(svc.baseUrl, '/verify', { img1: uri('person-a-1.jpg'), img2: uri('person-a-2.jpg') })).status).toBe(200);
    expect((await post(svc.baseUrl, '/verify', { img1: uri('person-a-1.jpg'), img2: uri('no-face.jpg') })).status).toBe(422);
    const { body: job } = await post(svc.baseUrl, '/jobs', { img1: uri('person-a-1.jpg'), img2: uri('person-b-1.jpg'), webhookUrl: rx.url('/m') });
    // The worker counts a delivery when it records its state, which the job view then shows.
    // Polled on the job's state; a delivery that never happens fails the setup instead of going unnoticed.
    await until(
      'the webhook delivered',
      async () => ((await (await fetch(`${svc.baseUrl}${BASE}/jobs/${job.id}`, { headers: { authorization: tokenFor(0) } })).json()) as { webhook?: { status: string } }).webhook?.status,
      (status) => status === 'delivered',
      600,
    );
  });
  afterAll(async () => {
    await svc?.stop();
    await rx.close();
  });

  it('serves API request counts and latency by route and status, and queue depth by state', async () => {
    const text = await (await fetch(`${svc.baseUrl}/metrics`)).text();
    expect(series(text, 'facematch_http_requests_total', { method: 'POST', route: `${BASE}/verify`, status: '200' })).toBe(1);
    expect(series(text, 'facematch_http_requests_total', { method: 'POST', route: `${BASE}/verify`, status: '422' })).toBe(1);
    expect(series(text, 'facematch_http_requests_total', { method: 'POST', route: `${BASE}/jobs`, status: '202' })).toBe(1);
    expect(series(text, 'facematch_http_request_duration_seconds_count', { route: `${BASE}/verify`, status: '200' })).toBe(1);
    expect(series(text, 'facematch_queue_jobs', { queue: 'face-verification', state: 'completed' })).toBe(2);
    expect(series(text, 'facematch_queue_jobs', { queue: 'face-verification', state: 'failed' })).toBe(1);
    expect(series(text, 'facematch_queue_jobs', { queue: 'webhook-delivery', state: 'waiting' })).toBe(0);
  });

  it("serves a worker's job phases, outcomes by code, backend and webhook deliveries on its own port", async () => {
    const text = await (await fetch(workerMetrics)).text();
    expect(series(text, 'facematch_jobs_total', { outcome: 'completed' })).toBe(2);
    expect(series(text, 'facematch_jobs_total', { outcome: 'failed', code: 'NO_FACE' })).toBe(1);
    for (const phase of ['queue_wait', 'decode', 'inference']) expect(series(text, 'facematch_job_phase_seconds_count', { phase })).toBeGreaterThanOrEqual(2);
    expect(series(text, 'facematch_engine_info', { backend: 'wasm' })).toBe(1);
    expect(series(text, 'facematch_webhook_deliveries_total', { outcome: 'delivered' })).toBe(1);
  });

  it('keeps /admin/queues behind ADMIN_TOKEN', async () => {
    const none = await fetch(`${svc.baseUrl}/admin/queues`);
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toMatch(/^Basic /);
    expect(((await none.json()) as { error: { code: string } }).error.code).toBe('TOKEN_MISSING');
    expect((await fetch(`${svc.baseUrl}/admin/queues`, { headers: { authorization: 'Bearer wrong-token-0123456789' } })).status).toBe(401);
    // An API token is not an admin token.
    expect((await fetch(`${svc.baseUrl}/admin/queues`, { headers: { authorization: tokenFor(0) } })).status).toBe(401);

    const page = await fetch(`${svc.baseUrl}/admin/queues`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('<title>facematch</title>');
    const basic = `Basic ${Buffer.from(`admin:${ADMIN_TOKEN}`).toString('base64')}`;
    expect((await fetch(`${svc.baseUrl}/admin/queues`, { headers: { authorization: basic } })).status).toBe(200);
  });

  it('shows jobs on the dashboard without image bytes', async () => {
    const res = await fetch(`${svc.baseUrl}/admin/queues/api/queues?activeQueue=face-verification&status=completed&page=1`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    expect(res.status).toBe(200);
    const text = await res.text();
    const queue = (JSON.parse(text) as { queues: { name: string; jobs: { data: { tenant: string } }[] }[] }).queues.find((q) => q.name === 'face-verification');
    expect(queue?.jobs.length).toBe(2);
    expect(queue?.jobs[0]?.data.tenant).toBe(TENANTS[0].apiKey);
    // Neither base64 (a JPEG's starts /9j/) nor a raw JPEG signature anywhere in what the board serves.
    for (const name of ['person-a-1.jpg', 'person-a-2.jpg', 'person-b-1.jpg']) expect(text).not.toContain(photo(name).toString('base64').slice(0, 40));
    expect(text).not.toContain('/9j/');
    expect(text).not.toContain('data:image');
    expect(text).not.toContain('\u00ff\u00d8\u00ff');
  });
});
