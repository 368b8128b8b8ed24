/**
 * Training per-connection weights of a published (shared-weight) model as queued work: the math is
 * src/wann/train.ts; this file holds the storage and the chunking.
 *
 * - Start (`startTraining`, from `POST /api/runs/:id/models/:version/train`): a D1 `trainings` row
 *   (hyperparameters, step 0, status 'queued') and one `train` task on the queue.
 * - Each task (`runTrainTask`, in the evaluator Worker, on the training queue of its own, never on
 *   the coordinator's thread; locally its steps run on a peer evaluator process, off the thread
 *   serving the pages): continue from the row's step, at most `stepsPerInvocation` Adam
 *   steps and at most `TRAINING_CHUNK_MS` of wall time, save the state (weights + Adam's moments)
 *   to R2 keyed by its step, then move the row's step forward by compare-and-set and send the next
 *   task. Workers' clocks do not advance while JavaScript computes, so the chunk yields to the event
 *   loop between groups of steps (the clock moves, and other work in the isolate gets its turn) and
 *   reads the clock there; the step count (`defaultStepsPerInvocation`) bounds the CPU where the
 *   clock alone would not. Duplicate deliveries compute from the same step; only one
 *   compare-and-set succeeds and only it sends the next task. A lost `send` leaves the message to
 *   be retried, and a retried task continues from whatever step the row holds. So at-least-once
 *   delivery changes nothing, and the result is bit-identical to an uninterrupted training
 *   (resumed state is exact, wherever a chunk ends).
 * - Stalls: the run's SearchCoordinator watches the training (`watchTraining`) and re-sends the
 *   chunk at the row's step when the row has not moved for a while (a lost message, an evaluator
 *   that was down). Starting a training again while it runs continues it the same way.
 * - Done: test accuracy on the 10,000 test images, ONNX with the weights baked in, a new model
 *   version (`variant: 'trained'`, its number reserved from the run's publication sequence by the
 *   SearchCoordinator so it never collides with a publication), the inference Worker told, the
 *   saved states deleted.
 *
 * Tabular datasets train the same way on their WSH2 rows (standardised float32 features, at most
 * TRAINING_FEATURE_BYTES of them); their trained version's ONNX standardises raw values itself, as
 * the shared-weight version's does, so `/v2` takes raw rows either way.
 *
 * Memory per invocation: the training shards as bytes (60 shards: 15.4 MB, kept in the isolate
 * between tasks; a table's rows at most TRAINING_FEATURE_BYTES), the test set for the last task (10.2 MB as float32), the network's scratch
 * (rows × batch doubles: < 4 MB for 2,000-node genomes at batch 128). Within a Worker's 128 MB.
 */
import { and, desc, eq } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/d1';
import { type ModelRow, models, runs, type TrainingRow, trainings } from '../../schema/schema';
import { type DatasetManifest, DatasetUnavailableError, manifestModelMetadata } from '../../src/data/dataset';
import { standardization } from '../../src/data/standardize';
import { genomeToOnnx } from '../../src/onnx/export';
import { type Genome, parseGenome } from '../../src/wann/genome';
import {
  compileTrainable,
  decodeTrainingState,
  defaultDecaySteps,
  encodeTrainingState,
  geneWeights,
  initialTrainingState,
  parameterCount,
  TRAINING_DEFAULTS,
  Trainer,
  type TrainingExamples,
  type TrainingState,
  TrainingStateFormatError,
  trainedAccuracy,
} from '../../src/wann/train';
import { trainingStateKey, trainingStatePrefix } from '../contracts/blob-keys';
import type { TrainQueue, TrainTask } from '../contracts/queue-tasks';
import { runDatasetManifest } from '../datasets/uploaded';
import type { EvaluatorEnv } from '../evaluator/worker-configuration';
import { loadTestSet, trainingExamples } from '../storage/shards';
import { type ModelStoreBindings, notifyInference, storeModel } from './model-store';

/**
 * Most steps one training may ask for (~137 epochs of 60,000 images at batch 128): twice the
 * default, so a longer training than the default can still be asked for.
 */
export const MAX_TRAINING_STEPS = 64_000;
/**
 * Work of one invocation, in (parameter × example) products per step summed over its steps: ~9 s
 * of one core at the ~35 M per second measured (README "Trained weights"); Workers allow 30 s of
 * CPU by default and at most 5 minutes.
 */
export const WORK_PER_INVOCATION = 3e8;
/**
 * Wall time of one chunk's steps: it then saves and hands over to the next chunk's message, so a
 * chunk holds its consumer (and, locally, its process's one thread) for seconds, never minutes,
 * however loaded the machine.
 */
export const TRAINING_CHUNK_MS = 10_000;
/** Clock reads per chunk (at most): the steps between two reads, and so between two yields. */
const CLOCK_READS_PER_CHUNK = 32;
/**
 * Most bytes of feature rows a training holds (a tabular dataset's shards are float32, up to 4,096
 * features: 16 MB a shard). MNIST's 60 image shards are 15.4 MB; a table trains on as many of its
 * first training shards as fit here, so a wide table stays within a Worker's 128 MB.
 */
export const TRAINING_FEATURE_BYTES = 32 * 1024 * 1024;

/**
 * Training shards a training on `manifest` reads: the run's `trainShards`, at most the dataset's
 * own, and for feature rows (4 bytes a value) at most what fits in TRAINING_FEATURE_BYTES (≥ 1).
 */
export function trainingShardCount(manifest: DatasetManifest, trainShards: number): number {
  const own = Math.min(trainShards, manifest.shards.train);
  if (manifest.kind !== 'tabular') return own;
  const shardBytes = manifest.shards.rowsPerShard * manifest.features * 4;
  return Math.max(1, Math.min(own, Math.floor(TRAINING_FEATURE_BYTES / shardBytes)));
}

/**
 * What training needs: model storage, the run's SearchCoordinator (it reserves the trained version's
 * number and watches for stalls) and the training queue (each chunk sends the next).
 */
export type TrainBindings = ModelStoreBindings & Pick<EvaluatorEnv, 'COORD'> & { TRAIN_QUEUE: TrainQueue };

/** The `training` field of a shared model resource (src/api/types.ts `modelTrainingSchema`). */
export function trainingProgress(row: TrainingRow) {
  return {
    status: row.status,
    step: row.step,
    steps: row.steps,
    loss: row.loss,
    version: row.trainedVersion,
    error: row.error,
  };
}

/**
 * The run's open pages told where a training stands (after its D1 row changed), as a `model` event
 * on the run's stream. Best effort: the training goes on if the coordinator cannot be reached, and
 * a page reads the models afresh when it reconnects.
 */
async function tellTraining(env: TrainBindings, row: TrainingRow): Promise<void> {
  try {
    await env.COORD.get(env.COORD.idFromName(row.runId)).trainingMoved({
      kind: 'training',
      version: row.version,
      status: row.status,
      step: row.step,
      steps: row.steps,
      loss: row.loss,
      trainedVersion: row.trainedVersion,
      error: row.error,
    });
  } catch (e) {
    console.warn(`training ${row.runId} v${row.version}: could not tell the run's pages: ${String(e)}`);
  }
}

/** Steps per invocation for `connections` trainable connections (≥ 1). */
export function defaultStepsPerInvocation(
  connections: number,
  batchSize: number = TRAINING_DEFAULTS.batchSize,
): number {
  return Math.max(1, Math.floor(WORK_PER_INVOCATION / (Math.max(1, connections) * batchSize)));
}

export class TrainingRequestError extends Error {
  override name = 'TrainingRequestError';
  constructor(
    readonly status: 400 | 409,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export interface TrainingRequest {
  steps?: number;
  stepsPerInvocation?: number;
}

/**
 * Start training weights from shared version `model` (or start over, if it failed); queues the first
 * task. A training already queued or running is continued: its chunk at the saved step is sent
 * again (a duplicate changes nothing), with its stored hyperparameters. Throws
 * TrainingRequestError (409) if it is a trained version, or already done.
 */
export async function startTraining(
  env: TrainBindings,
  model: ModelRow,
  trainShards: number,
  request: TrainingRequest,
  now = Date.now(),
): Promise<TrainingRow> {
  if (model.variant === 'trained') {
    throw new TrainingRequestError(
      409,
      'trained_model',
      `version ${model.version} already has trained weights (trained from version ${model.trainedFrom}); train a shared-weight version`,
    );
  }
  const db = drizzle(env.DB);
  const key = and(eq(trainings.runId, model.runId), eq(trainings.version, model.version));
  const existing = await db.select().from(trainings).where(key).get();
  const active = existing?.status === 'running' || existing?.status === 'queued';
  if (existing?.status === 'done') {
    throw new TrainingRequestError(
      409,
      'already_trained',
      `version ${model.version} is already trained: version ${existing.trainedVersion}`,
    );
  }
  if (existing && active) {
    // Continue: the chunk at the saved step again. The row's time is left alone, so the
    // coordinator still sees how long the training has not moved.
    await sendChunk(env, existing);
    return existing;
  }
  const dataset = await runDataset(env, model.runId);
  // MNIST (no `dataset`) keeps the shard count it was given; another dataset's is fitted to it.
  const shards =
    dataset === undefined
      ? trainShards
      : trainingShardCount(
          await runDatasetManifest(env.DB, dataset).catch((e: unknown) => {
            throw e instanceof DatasetUnavailableError
              ? new TrainingRequestError(409, 'training_not_available', e.message)
              : e;
          }),
          trainShards,
        );
  const genome = await readGenome(env, model);
  const params = parameterCount(compileTrainable(genome));
  const limit = defaultStepsPerInvocation(params);
  const stepsPerInvocation = request.stepsPerInvocation ?? limit;
  if (stepsPerInvocation > limit) {
    throw new TrainingRequestError(
      400,
      'invalid_training',
      `stepsPerInvocation: at most ${limit} for this model (${params} connections × batch ${TRAINING_DEFAULTS.batchSize}: the CPU bound of one invocation)`,
    );
  }
  const steps = request.steps ?? TRAINING_DEFAULTS.steps;
  const fresh = {
    status: 'queued' as const,
    step: 0,
    steps,
    stepsPerInvocation,
    loss: null,
    // Fixed, so the trained weights depend only on the model (and the steps asked for).
    seed: 1,
    batchSize: TRAINING_DEFAULTS.batchSize,
    learningRate: TRAINING_DEFAULTS.learningRate,
    sharedWeight: model.tunedWeight,
    trainShards: shards,
    trainedVersion: null,
    error: null,
    updatedAt: now,
  };
  if (existing)
    await db.update(trainings).set(fresh).where(key); // failed before: start over
  else {
    await db
      .insert(trainings)
      .values({ runId: model.runId, version: model.version, createdAt: now, ...fresh })
      .onConflictDoNothing();
  }
  const row = await db.select().from(trainings).where(key).get();
  if (!row) throw new Error(`training of ${model.runId} v${model.version} was not recorded`);
  await sendChunk(env, row);
  return row;
}

/** The chunk at the row's step, and the run's coordinator told to watch the training for stalls. */
async function sendChunk(env: TrainBindings, row: TrainingRow): Promise<void> {
  await env.TRAIN_QUEUE.send(
    { kind: 'train', runId: row.runId, version: row.version, step: row.step },
    { contentType: 'json' },
  );
  await env.COORD.get(env.COORD.idFromName(row.runId)).watchTraining(row.runId, row.version);
  await tellTraining(env, row);
}

/** Yield to the event loop: the clock advances, and other events in the isolate run. */
const yieldToEventLoop = () => new Promise<void>((resolve) => setTimeout(resolve, 0));

/** A failure that retrying cannot fix (missing or malformed stored data): the training fails. */
export class TrainingFailure extends Error {
  override name = 'TrainingFailure';
}

async function readGenome(env: ModelStoreBindings, model: ModelRow): Promise<Genome> {
  const object = await env.BLOBS.get(model.genomeKey);
  if (!object)
    throw new TrainingFailure(`the genome of version ${model.version} (${model.genomeKey}) is missing`);
  try {
    return parseGenome(await object.json());
  } catch (e) {
    throw new TrainingFailure(`the genome of version ${model.version} is malformed: ${(e as Error).message}`);
  }
}

/**
 * The dataset run `runId` searched on: its config's `dataset`, undefined for MNIST (and for configs
 * recorded before datasets existed), which keeps MNIST's shard keys and model metadata as they were.
 */
async function runDataset(env: TrainBindings, runId: string): Promise<string | undefined> {
  const row = await drizzle(env.DB)
    .select({ config: runs.config })
    .from(runs)
    .where(eq(runs.id, runId))
    .get();
  const config = row?.config as { dataset?: unknown } | undefined;
  return typeof config?.dataset === 'string' && config.dataset !== 'mnist' ? config.dataset : undefined;
}

/** A missing shard fails the training (retrying cannot bring it back). */
const missingShard = (message: string) => new TrainingFailure(message);

async function loadState(env: TrainBindings, row: TrainingRow, genome: Genome): Promise<TrainingState> {
  const net = compileTrainable(genome);
  if (row.step === 0) {
    return initialTrainingState(net, row.sharedWeight, {
      seed: row.seed,
      batchSize: row.batchSize,
      learningRate: row.learningRate,
      decaySteps: defaultDecaySteps(row.steps),
    });
  }
  const key = trainingStateKey(row.runId, row.version, row.step);
  const object = await env.BLOBS.get(key);
  if (!object) throw new TrainingFailure(`the saved training state ${key} is missing`);
  try {
    const state = decodeTrainingState(new Uint8Array(await object.arrayBuffer()));
    if (state.step !== row.step || state.weights.length !== parameterCount(net)) {
      throw new TrainingStateFormatError(`holds step ${state.step} with ${state.weights.length} weights`);
    }
    return state;
  } catch (e) {
    throw new TrainingFailure(`the saved training state ${key} is unusable: ${(e as Error).message}`);
  }
}

/**
 * The computing part of a chunk: `steps` Adam steps of `state` on `data`, the new state returned.
 * A pure function of its arguments, so where it runs changes nothing: locally the consumer hands it
 * to a peer evaluator process (workers/evaluator/index.ts), keeping seconds of CPU off the thread
 * that serves the pages and the API.
 */
export type TrainChunk = (
  genome: Genome,
  state: TrainingState,
  data: TrainingExamples,
  steps: number,
) => Promise<TrainingState>;

/** One queued chunk of a training (see the module comment). */
export async function runTrainTask(
  env: TrainBindings,
  task: TrainTask,
  now = () => Date.now(),
  /** Where the steps run when not here (a peer process); absent: here, in yielding groups. */
  trainChunk?: TrainChunk,
): Promise<void> {
  const db = drizzle(env.DB);
  const key = and(eq(trainings.runId, task.runId), eq(trainings.version, task.version));
  const row = await db.select().from(trainings).where(key).get();
  if (!row || row.status === 'done' || row.status === 'failed') return; // duplicate or finished
  const model = await db
    .select()
    .from(models)
    .where(and(eq(models.runId, task.runId), eq(models.version, task.version)))
    .get();
  if (!model) throw new TrainingFailure(`run ${task.runId} has no model version ${task.version}`);
  const genome = await readGenome(env, model);
  let state = await loadState(env, row, genome);
  const dataset = await runDataset(env, task.runId);
  if (state.step < row.steps) {
    const images = await trainingExamples(env.BLOBS, row.trainShards, missingShard, dataset);
    const chunk = Math.min(row.stepsPerInvocation, row.steps - state.step);
    if (trainChunk) {
      // On a peer process (the state comes back as a copy): one call, so the training images cross
      // once; the step count bounds its CPU, and this thread is free meanwhile.
      state = await trainChunk(genome, state, images, chunk);
    } else {
      // Here, on the thread that also serves requests: in groups, yielding between them.
      const trainer = new Trainer(genome, images);
      const group = Math.max(1, Math.ceil(row.stepsPerInvocation / CLOCK_READS_PER_CHUNK));
      const endBy = now() + TRAINING_CHUNK_MS;
      for (let left = chunk; left > 0; ) {
        const n = Math.min(left, group);
        trainer.steps(state, n);
        left -= n;
        if (left > 0) {
          await yieldToEventLoop();
          if (now() >= endBy) break; // the rest is the next chunk's
        }
      }
    }
    await env.BLOBS.put(trainingStateKey(row.runId, row.version, state.step), encodeTrainingState(state));
    const moved = await env.DB.prepare(
      `UPDATE trainings SET step = ?, loss = ?, status = 'running', updated_at = ?, error = NULL
       WHERE run_id = ? AND version = ? AND step = ? AND status IN ('queued', 'running')`,
    )
      .bind(state.step, state.loss, now(), row.runId, row.version, row.step)
      .run();
    if (moved.meta.changes !== 1) return; // another delivery of this chunk got there first
    await tellTraining(env, { ...row, step: state.step, loss: state.loss, status: 'running', error: null });
    if (state.step < row.steps) {
      await env.TRAIN_QUEUE.send(
        { kind: 'train', runId: row.runId, version: row.version, step: state.step },
        { contentType: 'json' },
      );
      return;
    }
  }
  await finishTraining(env, row, model, genome, state, now, dataset);
}

async function finishTraining(
  env: TrainBindings,
  row: TrainingRow,
  model: ModelRow,
  genome: Genome,
  state: TrainingState,
  now: () => number,
  dataset: string | undefined,
): Promise<void> {
  const net = compileTrainable(genome);
  const manifest = await runDatasetManifest(env.DB, dataset).catch((e: unknown) => {
    throw e instanceof DatasetUnavailableError ? new TrainingFailure(e.message) : e;
  });
  const test = await loadTestSet(
    env.BLOBS,
    missingShard,
    dataset,
    dataset === undefined ? undefined : manifest.shards.test,
  );
  const described = dataset === undefined ? undefined : manifestModelMetadata(manifest);
  // A tabular model takes raw feature values, as its shared-weight version does (publish.ts).
  const tabular =
    manifest.preprocessing.kind === 'tabular' ? standardization(manifest.preprocessing) : undefined;
  const accuracy = trainedAccuracy(net, state.weights, test);
  const db = drizzle(env.DB);
  const newest = await db
    .select({ version: models.version })
    .from(models)
    .where(eq(models.runId, row.runId))
    .orderBy(desc(models.version))
    .get();
  const coordinator = env.COORD.get(env.COORD.idFromName(row.runId));
  const version = await coordinator.reserveTrainedVersion(row.version, (newest?.version ?? 0) + 1);
  const onnx = genomeToOnnx(genome, {
    name: row.runId,
    version,
    connectionWeights: geneWeights(net, state.weights),
    metadata: {
      run_id: row.runId,
      version: String(version),
      generation: String(model.generation),
      variant: 'trained',
      trained_from: String(row.version),
      test_accuracy: String(accuracy),
      steps: String(state.step),
      batch_size: String(state.batchSize),
      learning_rate: String(state.learningRate),
      // Only where the step size decayed, so a constant-rate model's metadata stays as it was.
      ...(state.decaySteps > 0 ? { learning_rate_decay: `cosine over ${state.decaySteps} steps` } : {}),
      ...described?.metadata,
    },
    ...(described ? { inputDescription: described.inputDescription } : {}),
    ...(tabular ? { standardization: tabular } : {}),
  });
  await storeModel(
    env,
    { runId: row.runId, version, genome, onnx },
    {
      generation: model.generation,
      weights: [],
      testAccuracy: [accuracy],
      meanTestAccuracy: accuracy,
      ensembleTestAccuracy: accuracy,
      tunedWeight: 0,
      tunedTestAccuracy: accuracy,
      createdAt: now(),
      variant: 'trained',
      trainedFrom: row.version,
    },
  );
  await db
    .update(trainings)
    .set({ status: 'done', trainedVersion: version, step: state.step, error: null, updatedAt: now() })
    .where(and(eq(trainings.runId, row.runId), eq(trainings.version, row.version)));
  await notifyInference(env, row.runId, `training ${row.runId} v${row.version}`);
  await tellTraining(env, { ...row, status: 'done', trainedVersion: version, step: state.step, error: null });
  // The intermediate states are no longer needed (best effort: a leftover costs only storage).
  try {
    const listed = await env.BLOBS.list({ prefix: trainingStatePrefix(row.runId, row.version) });
    if (listed.objects.length) await env.BLOBS.delete(listed.objects.map((o) => o.key));
  } catch (e) {
    console.warn(`training ${row.runId} v${row.version}: could not delete saved states: ${String(e)}`);
  }
}

/**
 * The evaluator's handling of a `train` message: ack when done; a TrainingFailure marks the
 * training failed (with its reason) and acks; anything else (R2, D1, the queue unavailable) retries.
 */
export async function handleTrainMessage(
  message: Message<unknown>,
  task: TrainTask,
  env: TrainBindings,
  trainChunk?: TrainChunk,
): Promise<void> {
  try {
    await runTrainTask(env, task, undefined, trainChunk);
    message.ack();
  } catch (e) {
    if (e instanceof TrainingFailure) {
      console.error(`evaluator: training ${task.runId} v${task.version} failed: ${e.message}`);
      try {
        const key = and(eq(trainings.runId, task.runId), eq(trainings.version, task.version));
        const db = drizzle(env.DB);
        await db
          .update(trainings)
          .set({ status: 'failed', error: e.message, updatedAt: Date.now() })
          .where(key);
        const failed = await db.select().from(trainings).where(key).get();
        if (failed) await tellTraining(env, failed);
        message.ack();
      } catch {
        message.retry({ delaySeconds: 1 });
      }
      return;
    }
    console.error(`evaluator: training ${task.runId} v${task.version} step ${task.step}: ${String(e)}`);
    message.retry({ delaySeconds: 1 });
  }
}
