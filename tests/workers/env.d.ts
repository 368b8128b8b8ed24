/// <reference types="@cloudflare/vitest-pool-workers/types" />
// Bindings the workers test project adds to the main Worker's (see vitest.config.ts), and the
// entry module's exports (typed `exports.default`).
import type { D1Migration } from 'cloudflare:test';
import type { Env as ApiEnv } from '../../workers/api/env';

declare global {
  namespace Cloudflare {
    interface Env extends ApiEnv {
      TEST_MIGRATIONS: D1Migration[];
      SHARD_TRAIN_00: ArrayBuffer;
      SHARD_TRAIN_01: ArrayBuffer;
      /** Test shard 0 (models.test.ts); setup.ts puts all ten SHARD_TEST_i in R2. */
      SHARD_TEST_0: ArrayBuffer;
    }
    interface GlobalProps {
      mainModule: typeof import('./entry');
      durableNamespaces: 'SearchCoordinator';
    }
  }
}
