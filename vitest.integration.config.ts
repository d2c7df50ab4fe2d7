import { defineConfig } from 'vitest/config';

// `npm run test:integration`: tests against real servers started by scripts/services.
export default defineConfig({
  test: {
    include: ['test/**/*.integration.test.ts'],
    testTimeout: 60_000,
    // Installing a server from Debian's packages the first time can take a while.
    hookTimeout: 600_000,
    pool: 'forks',
    // One server-backed file at a time: they are CPU-hungry on a 2-core machine.
    fileParallelism: false,
  },
});
