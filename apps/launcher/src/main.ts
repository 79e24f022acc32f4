// `npm start`: everything a laptop needs, in one command.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { signToken } from '@facematch/auth';
import { launcherEnvSchema, loadConfigOrExit } from '@facematch/config';
import { createLogger } from '@facematch/logger';
import { redisAnswers } from '@facematch/queue';
import { generateWebhookSecret } from '@facematch/webhooks';
import { API_ENTRY } from '@facematch/api/entry';
import { Supervisor, forkScript } from '@facematch/supervisor';
import { WORKER_ENTRY } from '@facematch/worker';

const env = loadConfigOrExit(launcherEnvSchema, 'launcher');
const log = createLogger({ name: 'launcher', level: env.LOG_LEVEL });

let redisChild: ChildProcess | undefined;
if (!(await redisAnswers(env.REDIS_URL))) {
  const url = new URL(env.REDIS_URL);
  const onPath = (() => {
    try {
      execFileSync('redis-server', ['--version'], { stdio: 'ignore' });
      return true;
    } catch {
      return false;
    }
  })();
  if (!onPath || !['127.0.0.1', 'localhost', '::1', '[::1]'].includes(url.hostname)) {
    console.error(
      `No Redis answers at ${env.REDIS_URL}.\n` +
        '  Install one (Debian/Ubuntu: apt-get install redis-server; macOS: brew install redis),\n' +
        '  run one with Docker (docker compose up redis), or point REDIS_URL at yours.',
    );
    process.exit(1);
  }
  const port = url.port || '6379';
  log.info({ port }, 'no Redis answering: starting a private redis-server (no persistence) for this run');
  redisChild = spawn('redis-server', ['--port', port, '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  for (let i = 0; i < 50 && !(await redisAnswers(env.REDIS_URL, 200)); i++) await new Promise((r) => setTimeout(r, 100));
}

let tenants = env.FACEMATCH_TENANTS;
let dev: { apiKey: string; secret: string } | undefined;
if (!tenants) {
  if (env.NODE_ENV === 'production') {
    console.error('FACEMATCH_TENANTS is required in production (apikey:secret[,apikey:secret...])');
    process.exit(1);
  }
  dev = { apiKey: 'dev', secret: randomBytes(24).toString('hex') };
  tenants = `${dev.apiKey}:${dev.secret}`;
}

// Each tenant signs its webhooks with its own secret. In development, unset means: make one per tenant.
let webhookSecrets = env.FACEMATCH_WEBHOOK_SECRETS;
let generatedSecrets: string[] = [];
if (!webhookSecrets && env.NODE_ENV !== 'production') {
  generatedSecrets = tenants
    .split(',')
    .map((t) => t.trim().split(':')[0])
    .filter((k): k is string => !!k)
    .map((k) => `${k}:${generateWebhookSecret()}`);
  webhookSecrets = generatedSecrets.join(',');
}

const childEnv = { ...process.env, FACEMATCH_TENANTS: tenants, REDIS_URL: env.REDIS_URL, ...(webhookSecrets ? { FACEMATCH_WEBHOOK_SECRETS: webhookSecrets } : {}) };
const workers = new Supervisor(
  { name: 'worker', spawn: forkScript(WORKER_ENTRY, { ...childEnv, METRICS_PORT: String(env.METRICS_PORT) }), count: env.WORKERS ?? availableParallelism() },
  log,
);
const api = new Supervisor({ name: 'api', spawn: forkScript(API_ENTRY, childEnv), count: 1 }, log);
workers.start();
api.start();

if (dev) {
  const token = signToken({ apiKey: dev.apiKey, secret: dev.secret, ttlSeconds: 24 * 3600 });
  const base = `http://127.0.0.1:${env.PORT}`;
  console.log(`
facematch is starting on ${base}  (TF_BACKEND=${env.TF_BACKEND}, ${env.WORKERS ?? availableParallelism()} workers)

Development tenant (generated for this run; set FACEMATCH_TENANTS to use your own):
  API key: ${dev.apiKey}
  secret:  ${dev.secret}
  token:   ${token}

Try it (two photos of the same person):
  TOKEN=${token}
  curl -s ${base}/ai/v1/face-verification/verify \\
    -H "Authorization: $TOKEN" -H 'Content-Type: application/json' \\
    -d "{\\"img1\\":\\"data:image/jpeg;base64,$(base64 -w0 test/fixtures/faces/person-a-1.jpg)\\",\\"img2\\":\\"data:image/jpeg;base64,$(base64 -w0 test/fixtures/faces/person-a-2.jpg)\\"}"

Readiness: curl -s ${base}/readyz   (ready once a worker has loaded the models)
`);
}
if (generatedSecrets.length > 0) {
  console.log(`Webhook signing secrets (generated for this run; set FACEMATCH_WEBHOOK_SECRETS to keep yours):
${generatedSecrets.map((s) => `  ${s}`).join('\n')}
`);
}


let stopping = false;
/** API first (no new requests), then workers (finishing their jobs), then the private Redis, if any. */
async function stopAll(code: number): Promise<never> {
  stopping = true;
  // A group SIGTERM (Ctrl-C, docker stop) has already reached the workers: none may be restarted while the API stops.
  workers.stopRestarting();
  await api.stop('SIGTERM');
  await workers.stop('SIGTERM');
  redisChild?.kill('SIGTERM');
  process.exit(code);
}
// A role that keeps dying takes the service down with a non-zero exit, rather than a half-alive one.
for (const sup of [workers, api]) void sup.gaveUp.then(() => stopAll(1));
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.on(signal, () => {
    if (stopping) return;
    log.info({ signal }, 'stopping: API first (no new requests), then workers (finishing their jobs)');
    void stopAll(0);
  });
}
