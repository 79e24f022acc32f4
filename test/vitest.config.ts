import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // Each file starts real processes running the real models: one file at a time on a 2-core machine.
    fileParallelism: false,
    globalSetup: ['./global-setup.ts'],
    testTimeout: 180_000,
    hookTimeout: 180_000,
  },
});
