import { fileURLToPath } from 'node:url';

/** The API process's entry, for supervisors that start it (`npm start`); importing it loads nothing else. */
export const API_ENTRY = fileURLToPath(new URL('./main.ts', import.meta.url));
