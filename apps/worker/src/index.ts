import { fileURLToPath } from 'node:url';

/** The worker process's entry, for supervisors that start it (`npm start`, the worker pool). */
export const WORKER_ENTRY = fileURLToPath(new URL('./main.ts', import.meta.url));
