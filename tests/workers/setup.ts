// Runs inside workerd before each test file: D1 schema from the real migrations, and two real
// MNIST training shards in R2 (test runs use trainShards: 2), and the test shards.
import { applyD1Migrations } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import { testShardKey, trainShardKey } from '../../workers/contracts/blob-keys';

await applyD1Migrations(env.DB, env.TEST_MIGRATIONS);
await env.BLOBS.put(trainShardKey(0), env.SHARD_TRAIN_00);
await env.BLOBS.put(trainShardKey(1), env.SHARD_TRAIN_01);
// The 10 test shards: publishing a champion reports its test-set accuracy.
for (let i = 0; i < 10; i++) {
  await env.BLOBS.put(testShardKey(i), (env as unknown as Record<string, ArrayBuffer>)[`SHARD_TEST_${i}`]);
}
