import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.unit.test.ts'],
        },
      },
      {
        test: {
          name: 'int',
          include: ['test/int/**/*.int.test.ts'],
          globalSetup: ['test/fixtures/global-setup.ts'],
          setupFiles: ['test/fixtures/leak-guard.ts'],
          testTimeout: 60_000,
          hookTimeout: 60_000,
          // Each file starts its own servers; two at a time keeps a 2-core machine honest.
          maxWorkers: 2,
          fileParallelism: true,
        },
      },
    ],
  },
});
