/**
 * Publishing a champion: test-set report (src/wann/report.ts), ONNX export (src/onnx), blobs to R2,
 * then the D1 `models` row. Every step can be repeated with the same result (R2 puts overwrite the
 * same bytes, the row insert ignores an existing (run, version)), so a publication interrupted by a
 * restart is simply run again. The version number is assigned by the caller, once.
 */
import { and, eq } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/d1';
import { type ModelRow, models } from '../../schema/schema';
import { decodeShard, type Shard, shardsToBatch } from '../../src/data/shard';
import { genomeToOnnx } from '../../src/onnx/export';
import {
  decodeGenomeBytes,
  enabledCount,
  firstHidden,
  type Genome,
  genomeToJson,
} from '../../src/wann/genome';
import { championReport } from '../../src/wann/report';
import { type PublishTask, testShardKey, trainShardKey } from './contracts';
import { readGenomes } from './population-store';

/** The MNIST test set: 10 shards of 1,000 images. */
export const TEST_SHARDS = 10;
/** Training shards the tuned weight is chosen on (WANN.md: tuned on training data). */
export const TUNING_SHARDS = 2;

export interface PublishBindings {
  DB: D1Database;
  BLOBS: R2Bucket;
  /** The inference Worker (RPC), told about each new version; absent where there is none. */
  INFERENCE?: { modelPublished(runId: string): unknown };
}

export interface Publication {
  runId: string;
  version: number;
  /** Generations completed when the champion was published. */
  generation: number;
  genome: Genome;
  weights: number[];
  /** Training shards available in R2. */
  trainShards: number;
}

export function modelKeys(runId: string, version: number): { onnx: string; genome: string } {
  const base = `models/${runId}/${version}`;
  return { onnx: `${base}/model.onnx`, genome: `${base}/genome.json` };
}

export class PublishError extends Error {
  override name = 'PublishError';
}

async function loadShards(bucket: R2Bucket, keys: string[]): Promise<Shard[]> {
  return Promise.all(
    keys.map(async (key) => {
      const object = await bucket.get(key);
      if (!object) throw new PublishError(`shard ${key} is missing from R2 (npm start uploads the shards)`);
      return decodeShard(new Uint8Array(await object.arrayBuffer()));
    }),
  );
}

/** Evaluate, export and store one publication; returns its D1 row. */
export async function publishModel(env: PublishBindings, p: Publication): Promise<ModelRow> {
  const test = shardsToBatch(
    await loadShards(
      env.BLOBS,
      Array.from({ length: TEST_SHARDS }, (_, i) => testShardKey(i)),
    ),
  );
  const train = shardsToBatch(
    await loadShards(
      env.BLOBS,
      Array.from({ length: Math.min(TUNING_SHARDS, p.trainShards) }, (_, i) => trainShardKey(i)),
    ),
  );
  const report = championReport(p.genome, test, train, p.weights);
  const keys = modelKeys(p.runId, p.version);
  const onnx = genomeToOnnx(p.genome, {
    name: p.runId,
    version: p.version,
    metadata: {
      run_id: p.runId,
      version: String(p.version),
      generation: String(p.generation),
      weights: JSON.stringify(report.weights),
      test_accuracy: JSON.stringify(report.testAccuracy),
      ensemble_test_accuracy: String(report.ensembleTestAccuracy),
      tuned_weight: String(report.tunedWeight),
    },
  });
  await env.BLOBS.put(keys.onnx, onnx, { httpMetadata: { contentType: 'application/octet-stream' } });
  await env.BLOBS.put(keys.genome, JSON.stringify(genomeToJson(p.genome)), {
    httpMetadata: { contentType: 'application/json' },
  });
  const db = drizzle(env.DB);
  await db
    .insert(models)
    .values({
      runId: p.runId,
      version: p.version,
      generation: p.generation,
      onnxKey: keys.onnx,
      genomeKey: keys.genome,
      weights: report.weights,
      testAccuracy: report.testAccuracy,
      meanTestAccuracy: report.meanTestAccuracy,
      ensembleTestAccuracy: report.ensembleTestAccuracy,
      tunedWeight: report.tunedWeight,
      tunedTestAccuracy: report.tunedTestAccuracy,
      connections: enabledCount(p.genome),
      hiddenNodes: p.genome.acts.length - firstHidden(p.genome),
      createdAt: Date.now(),
    })
    .onConflictDoNothing();
  const row = await db
    .select()
    .from(models)
    .where(and(eq(models.runId, p.runId), eq(models.version, p.version)))
    .get();
  if (!row) throw new PublishError(`model ${p.runId} v${p.version} was not recorded`);
  // The inference Worker caches each run's newest version for up to 2 s (workers/inference/
  // directory.ts); telling it makes the new version served at once. Best effort: without it the
  // version is still served within that bound, so a failed call must not fail the publication.
  try {
    await env.INFERENCE?.modelPublished(p.runId);
  } catch (e) {
    console.warn(`publish ${p.runId} v${p.version}: could not notify the inference Worker: ${String(e)}`);
  }
  return row;
}

/**
 * Run a queued (or requested) publication: read the champion from R2 by its address, then
 * `publishModel`. Whoever runs it (an evaluator, or the API for an on-demand publish) tells the
 * coordinator afterwards; the coordinator's thread never does this work.
 */
export async function runPublishTask(env: PublishBindings, task: PublishTask): Promise<ModelRow> {
  const [champion] = await readGenomes(env.BLOBS, task.runId, task.champion.generation, [
    task.champion.location,
  ]);
  return publishModel(env, {
    runId: task.runId,
    version: task.version,
    generation: task.generation,
    genome: decodeGenomeBytes(champion.bytes),
    weights: task.weights,
    trainShards: task.trainShards,
  });
}
