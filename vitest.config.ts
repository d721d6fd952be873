import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Property runs replay thousands of steps; the default 5 s is for unit tests.
    testTimeout: 120_000,
    allowOnly: false,
    reporters: ['default'],
  },
});
