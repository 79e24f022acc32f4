import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // The engine tests run the real models; one file at a time keeps WASM off both cores at once.
    fileParallelism: false,
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
