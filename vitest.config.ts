import { defineConfig } from 'vitest/config';

// One Node project for the platform-free core (src/). The workers project (vitest-pool-workers,
// inside workerd) is added beside it by the platform work.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          environment: 'node',
          include: ['tests/unit/**/*.test.ts'],
          testTimeout: 60_000,
        },
      },
    ],
  },
});
