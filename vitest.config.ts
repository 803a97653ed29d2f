import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Scans every response, log line, event and console line of every test for codes and secrets.
    setupFiles: ['test/helpers/leak-scan.ts'],
    testTimeout: 20_000,
    hookTimeout: 30_000,
    // Several suites start servers and child processes; keep the 2-core machine responsive.
    maxWorkers: 2,
  },
});
