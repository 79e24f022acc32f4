// `WORKERS=N` worker processes (default: one per core), each restarted if it dies (@facematch/supervisor's policy).
import { availableParallelism } from 'node:os';
import { launcherEnvSchema, loadConfigOrExit } from '@facematch/config';
import { createLogger } from '@facematch/logger';
import { Supervisor, forkScript } from '@facematch/supervisor';
import { WORKER_ENTRY } from './index.ts';

const env = loadConfigOrExit(launcherEnvSchema, 'launcher');
const log = createLogger({ name: 'workers', level: env.LOG_LEVEL });
const count = env.WORKERS ?? availableParallelism();
const sup = new Supervisor({ name: 'worker', spawn: forkScript(WORKER_ENTRY), count }, log);
sup.start();
log.info({ workers: count }, 'supervising worker processes');
// A worker that keeps dying (a missing native backend, say) ends this process non-zero: a container
// restarts, a shell sees the failure.
void sup.gaveUp.then(() => process.exit(1));

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.on(signal, async () => {
    await sup.stop(signal);
    process.exit(0);
  });
}
