/**
 * Publishing a champion: test-set report (src/wann/report.ts), ONNX export (src/onnx), then stored
 * as a model version (model-store.ts: blobs to R2, the D1 `models` row). Every step can be repeated
 * with the same result, so a publication interrupted by a restart is simply run again. The version
 * number is assigned by the caller, once.
 */
import { and, eq } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/d1';
import { type ModelRow, models } from '../../schema/schema';
import { DatasetUnavailableError, manifestModelMetadata } from '../../src/data/dataset';
import { standardization } from '../../src/data/standardize';
import { genomeToOnnx } from '../../src/onnx/export';
import { decodeGenomeBytes, type Genome } from '../../src/wann/genome';
import { type ChampionReport, championReport, TUNING_SHARDS } from '../../src/wann/report';
import type { Batch } from '../../src/wann/types';
import type { PublishTask } from '../contracts/queue-tasks';
import { runDatasetManifest } from '../datasets/uploaded';
import { readGenomes } from '../storage/population';
import { loadTestSet, loadTrainBatch } from '../storage/shards';
import { type ModelStoreBindings, notifyInference, storeModel } from './model-store';

export interface Publication {
  runId: string;
  version: number;
  /** Generations completed when the champion was published. */
  generation: number;
  genome: Genome;
  weights: number[];
  /** Training shards available in R2. */
  trainShards: number;
  /** The run's dataset (absent: MNIST): its test set, its class names in the model's metadata. */
  dataset?: string;
}

export class PublishError extends Error {
  override name = 'PublishError';
}

/**
 * The computing part of a publication (seconds of CPU for a large champion): a pure function of
 * its arguments, so locally the evaluator hands it to a peer process (workers/evaluator/index.ts),
 * off the thread that serves the pages and the API.
 */
export type ReportChampion = (
  genome: Genome,
  test: Batch,
  train: Batch,
  weights: number[],
) => Promise<ChampionReport>;

/** The report computed in this isolate. */
export const reportChampionHere: ReportChampion = async (genome, test, train, weights) =>
  championReport(genome, test, train, weights);

/** Evaluate, export and store one publication; returns its D1 row. */
export async function publishModel(
  env: ModelStoreBindings,
  p: Publication,
  reportChampion: ReportChampion = reportChampionHere,
): Promise<ModelRow> {
  const missing = (message: string) => new PublishError(message);
  const manifest = await runDatasetManifest(env.DB, p.dataset).catch((e: unknown) => {
    throw e instanceof DatasetUnavailableError ? new PublishError(e.message) : e;
  });
  const test = await loadTestSet(env.BLOBS, missing, p.dataset, manifest.shards.test);
  const train = await loadTrainBatch(env.BLOBS, Math.min(TUNING_SHARDS, p.trainShards), missing, p.dataset);
  const described = p.dataset === undefined ? undefined : manifestModelMetadata(manifest);
  // A tabular model takes raw feature values: the manifest's standardisation is the graph's first
  // step, in the float32 the shards were standardised with.
  const tabular =
    manifest.preprocessing.kind === 'tabular' ? standardization(manifest.preprocessing) : undefined;
  const report = await reportChampion(p.genome, test, train, p.weights);
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
      ...described?.metadata,
    },
    ...(described ? { inputDescription: described.inputDescription } : {}),
    ...(tabular ? { standardization: tabular } : {}),
  });
  await storeModel(
    env,
    { runId: p.runId, version: p.version, genome: p.genome, onnx },
    {
      generation: p.generation,
      weights: report.weights,
      testAccuracy: report.testAccuracy,
      meanTestAccuracy: report.meanTestAccuracy,
      ensembleTestAccuracy: report.ensembleTestAccuracy,
      tunedWeight: report.tunedWeight,
      tunedTestAccuracy: report.tunedTestAccuracy,
      createdAt: Date.now(),
    },
  );
  const row = await drizzle(env.DB)
    .select()
    .from(models)
    .where(and(eq(models.runId, p.runId), eq(models.version, p.version)))
    .get();
  if (!row) throw new PublishError(`model ${p.runId} v${p.version} was not recorded`);
  await notifyInference(env, p.runId, `publish ${p.runId} v${p.version}`);
  return row;
}

/**
 * Run a queued (or requested) publication: read the champion from R2 by its address, then
 * `publishModel`. Whoever runs it (an evaluator, or the API for an on-demand publish) tells the
 * coordinator afterwards; the coordinator's thread never does this work.
 */
export async function runPublishTask(
  env: ModelStoreBindings,
  task: PublishTask,
  reportChampion: ReportChampion = reportChampionHere,
): Promise<ModelRow> {
  const [champion] = await readGenomes(env.BLOBS, task.runId, task.champion.generation, [
    task.champion.location,
  ]);
  return publishModel(
    env,
    {
      runId: task.runId,
      version: task.version,
      generation: task.generation,
      genome: decodeGenomeBytes(champion.bytes),
      weights: task.weights,
      trainShards: task.trainShards,
      ...(task.dataset === undefined ? {} : { dataset: task.dataset }),
    },
    reportChampion,
  );
}
