// Browser test runner settings: the operations console in real headless Chromium (playwright-core + Debian's chromium), against the local stack.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/browser/**/*.test.ts'],
    globalSetup: ['test/redis-global-setup.ts'],
    testTimeout: 90_000,
    hookTimeout: 90_000,
    pool: 'forks',
    // One browser and one real-time call at a time: timings are asserted.
    fileParallelism: false,
  },
});
