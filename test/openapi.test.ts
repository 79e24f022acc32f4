import { Ajv2020 } from 'ajv/dist/2020.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateWebhookSecret } from '@facematch/contracts';
import { dataUri, until } from './support/http.ts';
import { redisUrlForTests } from './support/env.ts';
import { Receiver } from './support/receiver.ts';
import { TENANTS, startService, tokenFor, type Service } from './support/service.ts';

const uri = dataUri;
const curie1 = uri('person-a-1.jpg');
const curie2 = uri('person-a-2.jpg');
const coffee = uri('no-face.jpg');
const BASE = '/ai/v1/face-verification';
const ADMIN_TOKEN = 'admin-token-0123456789abcdef';
const redisUrl = await redisUrlForTests();

type Doc = {
  openapi: string;
  paths: Record<string, Record<string, { responses: Record<string, { content?: Record<string, { schema: unknown }> }> }>>;
  webhooks: Record<string, { post: { requestBody: { content: Record<string, { schema: unknown }> } } }>;
  components: { schemas: Record<string, unknown> };
};

describe.skipIf(!redisUrl)('the OpenAPI document, against live responses', () => {
  let svc: Service;
  let idle: Service;
  let impatient: string;
  let withAdmin: string;
  let doc: Doc;
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  const covered = new Set<string>();
  const rx = new Receiver();
  const secret = generateWebhookSecret();

  /** The spec's schema at a JSON pointer, with its component refs pointed into the document Ajv holds. */
  const schemaAt = (schema: unknown) => JSON.parse(JSON.stringify(schema).replaceAll('"#/components/', '"openapi.json#/components/')) as object;

  /** Sends a real request, then checks its status is documented for the route and its body matches the schema. */
  async function check(method: string, route: string, path: string, opts: { body?: unknown; token?: string | null; headers?: Record<string, string>; base?: string } = {}) {
    const headers: Record<string, string> = { 'content-type': 'application/json', ...opts.headers };
    if (opts.token !== null) headers.authorization = opts.token ?? tokenFor(0);
    const res = await fetch(`${opts.base ?? svc.baseUrl}${path}`, { method, headers, body: opts.body === undefined ? undefined : typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body) });
    const text = await res.text();
    const op = doc.paths[route]?.[method.toLowerCase()];
    expect(op, `${method} ${route} is in the spec`).toBeDefined();
    const documented = op!.responses[String(res.status)];
    expect(documented, `${method} ${route} answered ${res.status}, which the spec does not list: ${text.slice(0, 200)}`).toBeDefined();
    const media = documented!.content ? Object.keys(documented!.content)[0] : undefined;
    if (media === 'application/json') {
      const validate = ajv.compile(schemaAt(documented!.content![media]!.schema));
      const body: unknown = JSON.parse(text);
      expect(validate(body), `${method} ${route} ${res.status}: ${JSON.stringify(validate.errors)} for ${text.slice(0, 300)}`).toBe(true);
    } else if (media) {
      expect(res.headers.get('content-type')).toContain(media);
    } else {
      expect(text).toBe('');
    }
    covered.add(`${method.toLowerCase()} ${route}`);
    return { status: res.status, body: text && media === 'application/json' ? JSON.parse(text) : text };
  }

  beforeAll(async () => {
    await rx.listen();
    svc = await startService(redisUrl!, { workers: 1, env: { FACEMATCH_WEBHOOK_SECRETS: `${TENANTS[0].apiKey}:${secret}`, WEBHOOK_ALLOW_PRIVATE: 'true' } });
    impatient = (await svc.startApi({ SYNC_WAIT_MS: '1' })).baseUrl;
    withAdmin = (await svc.startApi({ ADMIN_TOKEN })).baseUrl;
    idle = await startService(redisUrl!, { workers: 0 }); // no worker: not ready
    doc = (await (await fetch(`${svc.baseUrl}/openapi.json`)).json()) as Doc;
    ajv.addSchema(doc, 'openapi.json');
  });
  afterAll(async () => {
    await idle?.stop();
    await svc?.stop();
    await rx.close();
  });

  it('is OpenAPI 3.1 and names every error code with its status', () => {
    expect(doc.openapi).toBe('3.1.0');
    const text = JSON.stringify(doc);
    for (const code of ['NO_FACE', 'INVALID_BASE64', 'TOKEN_MISSING', 'QUEUE_FULL', 'RATE_LIMITED', 'IMAGES_EXPIRED', 'JOB_ACTIVE', 'IDEMPOTENCY_KEY_REUSED']) expect(text).toContain(`"${code}"`);
    expect(Object.keys(doc.webhooks)).toEqual(['face_verification.completed', 'face_verification.failed', 'face_verification.deleted']);
  });

  it('describes POST /verify: 200, 202 and its errors', async () => {
    const route = `${BASE}/verify`;
    expect((await check('POST', route, route, { body: { img1: curie1, img2: curie2 } })).status).toBe(200);
    expect((await check('POST', route, route, { body: { img1: curie1, img2: curie2 }, base: impatient })).status).toBe(202);
    expect((await check('POST', route, route, { body: { img1: curie1, img2: coffee } })).body.error.code).toBe('NO_FACE');
    expect((await check('POST', route, route, { body: { img1: 'not base64!', img2: curie2 } })).body.error.code).toBe('INVALID_BASE64');
    expect((await check('POST', route, route, { body: '{"img1":' })).body.error.code).toBe('INVALID_JSON');
    expect((await check('POST', route, route, { body: { img1: curie1 }, token: null })).body.error.code).toBe('TOKEN_MISSING');
    expect((await check('POST', route, route, { body: 'x', headers: { 'content-type': 'text/plain' } })).body.error.code).toBe('UNSUPPORTED_MEDIA_TYPE');
  });

  it('describes the job endpoints: submit, idempotency, read, delete, and their errors', async () => {
    const jobs = `${BASE}/jobs`;
    const one = `${BASE}/jobs/{id}`;
    const sub = await check('POST', jobs, jobs, { body: { img1: curie1, img2: curie2, webhookUrl: rx.url('/spec'), metadata: { ref: 'spec' } }, headers: { 'idempotency-key': 'spec-1' } });
    expect(sub.status).toBe(202);
    expect((await check('POST', jobs, jobs, { body: { img1: curie1, img2: curie2, webhookUrl: rx.url('/spec'), metadata: { ref: 'spec' } }, headers: { 'idempotency-key': 'spec-1' } })).body.id).toBe(sub.body.id);
    expect((await check('POST', jobs, jobs, { body: { img1: curie2, img2: curie1 }, headers: { 'idempotency-key': 'spec-1' } })).body.error.code).toBe('IDEMPOTENCY_KEY_REUSED');
    expect((await check('POST', jobs, jobs, { body: { img1: curie1, img2: curie2, webhookUrl: 'ftp://x' } })).body.error.code).toBe('WEBHOOK_URL_INVALID');

    const [delivery] = await rx.waitFor('/spec', 1);
    const event = JSON.parse(delivery!.body) as { type: string };
    const validate = ajv.compile(schemaAt(doc.webhooks[event.type]!.post.requestBody.content['application/json']!.schema));
    expect(validate(event), JSON.stringify(validate.errors)).toBe(true);

    const done = await check('GET', one, `${jobs}/${sub.body.id}`);
    expect(done.body).toMatchObject({ status: 'completed', webhook: { status: 'delivered' } });
    expect((await check('GET', one, `${jobs}/nope`)).body.error.code).toBe('NOT_FOUND');
    expect((await check('GET', one, `${jobs}/${sub.body.id}`, { token: 'garbage' })).body.error.code).toBe('TOKEN_INVALID');

    const failed = await check('POST', jobs, jobs, { body: { img1: curie1, img2: coffee } });
    const ended = await until('the no-face job failed', () => check('GET', one, `${jobs}/${failed.body.id}`), (r) => r.body.status === 'failed', 600);
    expect(ended.body.error.code).toBe('NO_FACE');
    expect((await check('DELETE', one, `${jobs}/${sub.body.id}`)).status).toBe(204);
    expect((await check('DELETE', one, `${jobs}/${sub.body.id}`)).status).toBe(404);
  });

  it('describes GET /model: the weights and the calibrated points, to authenticated callers', async () => {
    const route = `${BASE}/model`;
    const r = await check('GET', route, route);
    expect(r.status).toBe(200);
    expect(Object.keys(r.body.calibration.policies)).toEqual(['fmr_1e-2', 'fmr_1e-3', 'fmr_1e-4']);
    expect((await check('GET', route, route, { token: null })).body.error.code).toBe('TOKEN_MISSING');
    // A named policy in the body is part of the contract too.
    const v = await check('POST', `${BASE}/verify`, `${BASE}/verify`, { body: { img1: curie1, img2: curie2, policy: 'fmr_1e-2' } });
    expect(v.body).toMatchObject({ policy: 'fmr_1e-2', decision: 'match', verified: true });
  });

  it('describes the operational endpoints', async () => {
    expect((await check('GET', '/healthz', '/healthz')).status).toBe(200);
    expect((await check('GET', '/readyz', '/readyz')).status).toBe(200);
    expect((await check('GET', '/readyz', '/readyz', { base: idle.baseUrl })).body).toEqual({ status: 'not_ready', redis: true, workers: 0 });
    expect((await check('GET', '/metrics', '/metrics')).status).toBe(200);
    expect((await check('GET', '/openapi.json', '/openapi.json')).status).toBe(200);
    expect((await check('GET', '/docs/', '/docs/')).body).toContain('swagger-ui');
  });

  it('describes the dashboard: absent without ADMIN_TOKEN, refused without the token, served with it', async () => {
    expect((await check('GET', '/admin/queues', '/admin/queues')).body.error.code).toBe('NOT_FOUND');
    expect((await check('GET', '/admin/queues', '/admin/queues', { base: withAdmin, token: null })).body.error.code).toBe('TOKEN_MISSING');
    expect((await check('GET', '/admin/queues', '/admin/queues', { base: withAdmin, token: 'Bearer not-the-admin-token' })).body.error.code).toBe('TOKEN_INVALID');
    const page = await check('GET', '/admin/queues', '/admin/queues', { base: withAdmin, token: `Basic ${Buffer.from(`ops:${ADMIN_TOKEN}`).toString('base64')}` });
    expect(page.status).toBe(200);
  });

  it('has no endpoint that the live checks above did not exercise', () => {
    const all = Object.entries(doc.paths).flatMap(([route, ops]) => Object.keys(ops).map((m) => `${m} ${route}`));
    expect(all.filter((op) => !covered.has(op))).toEqual([]);
  });
});
