// `WORKERS=N` worker processes (default: one per core), each restarted if it dies.
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { launcherEnvSchema, loadConfigOrExit } from '@facematch/config';
import { createLogger } from '@facematch/logger';
import { Supervisor } from './supervise.ts';

const env = loadConfigOrExit(launcherEnvSchema, 'launcher');
const log = createLogger({ name: 'workers', level: env.LOG_LEVEL });
const count = env.WORKERS ?? availableParallelism();
const sup = new Supervisor({ name: 'worker', script: fileURLToPath(new URL('./main.ts', import.meta.url)), count }, log);
sup.start();
log.info({ workers: count }, 'supervising worker processes');

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.on(signal, async () => {
    await sup.stop(signal);
    process.exit(0);
  });
}
