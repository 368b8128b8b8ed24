/**
 * Evaluator Worker: consumes the task queue.
 * - A slice task: read the parents from R2, breed the slice's members, evaluate them, store the
 *   slice in R2 (`runs/{id}/gen/{g}/{sliceStart}`), then report the objectives to the run's
 *   SearchCoordinator over Durable Object RPC.
 * - A publish task: evaluate the champion on the test set (on a peer, like slices), export ONNX,
 *   store and register it, and tell the coordinator (which only records it).
 * - A dataset-build task: an uploaded CSV dataset's shards and manifest (workers/datasets/build.ts).
 * - A recheck task: read the champion and the candidate from R2 by address, re-evaluate them on the
 *   task's training shards and the winner on the test subset, report to the coordinator
 *   (src/wann/generation.ts "Champion"); peers do this work too, like slices.
 * - A train task (its own queue, `train-chunks.ts`): one bounded chunk of training weights; its Adam
 *   steps run on a peer too, the storage around them here.
 * Queues deliver at least once; every step is deterministic and the coordinator ignores
 * duplicates, so retrying is always safe.
 *
 * Peers (local only, by configuration): one workerd process runs all its JavaScript on one thread,
 * so locally `npm start` runs K evaluator processes ("peers", K = cores) that the local
 * configuration binds as `EVAL_PEER_1…K` (service bindings to `SliceEvaluator`, through the dev
 * registry). This is a thin adapter: the consumer reads a slice's inputs from R2 (peers have no
 * storage), the peer runs the same `breedAndEvaluate` as the consumer would, and the consumer stores
 * and reports the result. Without peer bindings (deployed) or with none running (`npm run dev`), it
 * does every slice itself; deployed, parallelism comes from concurrent consumer invocations. A peer
 * that fails is dropped and its slice done here: peers change speed, never results.
 */
import { WorkerEntrypoint } from 'cloudflare:workers';
import type { RecheckReport } from '../../src/wann/generation';
import type { Genome } from '../../src/wann/genome';
import { type ChampionReport, championReport } from '../../src/wann/report';
import { Trainer, type TrainingExamples, type TrainingState } from '../../src/wann/train';
import type { Batch } from '../../src/wann/types';
import { populationSliceKey } from '../contracts/blob-keys';
import {
  type PublishTask,
  queueTaskSchema,
  type RecheckTask,
  type ReportOutcome,
  type SliceTask,
  TRAIN_QUEUE_NAME,
  type TrainQueue,
} from '../contracts/queue-tasks';
import { requestUploadBaseline } from '../datasets/baseline';
import { runDatasetBuild } from '../datasets/build';
import { PublishError, type ReportChampion, reportChampionHere, runPublishTask } from '../models/publish';
import { handleTrainMessage, type TrainChunk } from '../models/train';
import { rememberSlice } from '../storage/population';
import { answerWithin, settleWithin } from './delivery-deadline';
import {
  breedAndEvaluate,
  loadRecheckInputs,
  loadSliceInputs,
  PermanentTaskError,
  type RecheckInputs,
  recheckFromInputs,
  runRecheck,
  runSlice,
  type SliceInputs,
  type SliceOutput,
  StaleTaskError,
} from './evaluate-slice';
import { consumeTrainTasks } from './train-chunks';
import type { EvaluatorEnv as GeneratedEnv } from './worker-configuration';

/**
 * Peer service bindings the local configuration may declare: EVAL_PEER_1…K (the checked-in
 * wrangler.toml declares four; `npm start` writes one with a binding per peer process it runs).
 */
const PEER_BINDING = /^EVAL_PEER_(\d+)$/;

type PeerBinding = Service<SliceEvaluator>;
/** The peers the checked-in config declares (the types are generated from it). */
type PeerName = Extract<keyof GeneratedEnv, `EVAL_PEER_${number}`>;

/** The declared peer bindings, however many the config running declares, in number order. */
function declaredPeers(env: EvaluatorEnv): { name: string; peer: PeerBinding }[] {
  // Bindings past the four in the generated types are looked up by name.
  const bindings: Record<string, unknown> = { ...env };
  return Object.keys(bindings)
    .flatMap((name) => {
      const n = PEER_BINDING.exec(name)?.[1];
      const peer = n === undefined ? undefined : (bindings[name] as PeerBinding | undefined);
      return peer ? [{ name, n: Number(n), peer }] : [];
    })
    .sort((a, b) => a.n - b.n)
    .map(({ name, peer }) => ({ name, peer }));
}

/**
 * The evaluator's bindings: generated from its wrangler.toml (`npm run types`), with what a config
 * cannot state: the training queue's message type (a training sends its next chunk,
 * workers/models/train.ts) and the peers' entry point (they run under names no config declares).
 */
export interface EvaluatorEnv
  extends Omit<GeneratedEnv, 'TRAIN_QUEUE' | PeerName>,
    Partial<Record<PeerName, PeerBinding>> {
  TRAIN_QUEUE: TrainQueue;
}

/** A peer evaluator process's entry point: breed and evaluate one slice from the inputs it is sent. */
export class SliceEvaluator extends WorkerEntrypoint {
  ping(): string {
    return 'ok';
  }

  evaluate(task: SliceTask, inputs: SliceInputs): SliceOutput {
    return breedAndEvaluate(task, inputs);
  }

  recheck(task: RecheckTask, inputs: RecheckInputs): RecheckReport {
    return recheckFromInputs(task, inputs);
  }

  train(genome: Genome, state: TrainingState, data: TrainingExamples, steps: number): TrainingState {
    return new Trainer(genome, data).steps(state, steps);
  }

  report(genome: Genome, test: Batch, train: Batch, weights: number[]): ChampionReport {
    return championReport(genome, test, train, weights);
  }
}

/** Per isolate: which peer bindings answered, and when an unanswered one may be asked again. */
const peerState = new Map<string, { healthy: boolean; retryAt: number }>();
const PEER_PROBE_MS = 2_000;
/** A peer's answer to one slice or re-check (seconds of CPU at most) comes within this. */
const PEER_ANSWER_MS = 60_000;
const PEER_RETRY_MS = 30_000;

function markPeer(name: string, healthy: boolean): void {
  peerState.set(name, { healthy, retryAt: Date.now() + PEER_RETRY_MS });
}

/** The declared peers that answer a ping (probed again at most every PEER_RETRY_MS). */
async function livePeers(env: EvaluatorEnv): Promise<{ name: string; peer: PeerBinding }[]> {
  const declared = declaredPeers(env);
  const now = Date.now();
  await Promise.all(
    declared.map(async ({ name, peer }) => {
      const known = peerState.get(name);
      if (known && (known.healthy || known.retryAt > now)) return;
      let timer: ReturnType<typeof setTimeout> | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error('no answer')), PEER_PROBE_MS);
      });
      try {
        const ok = (await Promise.race([peer.ping(), timeout])) === 'ok';
        markPeer(name, ok);
        if (ok) console.log(`evaluator: peer ${name} answers; slices go to the peers`);
      } catch {
        markPeer(name, false);
      } finally {
        clearTimeout(timer);
      }
    }),
  );
  return declared.filter(({ name }) => peerState.get(name)?.healthy);
}

type BreedAndEvaluate = (task: SliceTask) => Promise<SliceOutput>;
type Recheck = (task: RecheckTask) => Promise<RecheckReport>;

function coordinatorOf(env: EvaluatorEnv, runId: string) {
  return env.COORD.get(env.COORD.idFromName(runId));
}

function describeOutcome(outcome: ReportOutcome): string {
  return typeof outcome === 'string' ? outcome : `rejected: ${outcome.rejected}`;
}

async function handleSlice(task: SliceTask, env: EvaluatorEnv, work: BreedAndEvaluate): Promise<void> {
  const { blob, report } = await work(task);
  // Stored before it is reported: a generation is complete only when every slice is readable.
  await env.BLOBS.put(populationSliceKey(task.runId, task.gen, task.sliceStart), blob);
  rememberSlice(task.runId, task.gen, task.sliceStart, blob, report.offsets);
  const outcome = await coordinatorOf(env, task.runId).report(task.runId, report);
  if (typeof outcome !== 'string') {
    // A bug, not a transient fault: log it loudly; re-sending the same report cannot help.
    console.error(
      `evaluator: ${task.runId} gen ${task.gen} slice ${task.sliceStart}: ${describeOutcome(outcome)}`,
    );
  }
}

async function handleRecheck(task: RecheckTask, env: EvaluatorEnv, work: Recheck): Promise<void> {
  const report = await work(task);
  const outcome = await coordinatorOf(env, task.runId).recheckReport(task.runId, report);
  if (typeof outcome !== 'string') {
    console.error(`evaluator: ${task.runId} gen ${task.gen} re-check: ${describeOutcome(outcome)}`);
  }
}

async function handlePublish(
  task: PublishTask,
  env: EvaluatorEnv,
  reportChampion: ReportChampion,
): Promise<void> {
  const model = await runPublishTask(env, task, reportChampion);
  await coordinatorOf(env, task.runId).publicationDone(task.version, {
    ok: true,
    generation: model.generation,
  });
}

/**
 * A slice, re-check or publication delivery settles within this (delivery-deadline.ts): far above
 * any one task's work (a 64-genome slice: ~1 s of CPU at ~2,000 connections; a publication: seconds).
 */
const TASK_DELIVERY_DEADLINE_MS = 120_000;

/** `handle`, with the deadline: past it the message is retried and the lane goes on. */
async function handleInTime(
  message: Message<unknown>,
  env: EvaluatorEnv,
  work: BreedAndEvaluate,
  recheck?: Recheck,
  reportChampion?: ReportChampion,
): Promise<void> {
  if (
    (await settleWithin(handle(message, env, work, recheck, reportChampion), TASK_DELIVERY_DEADLINE_MS)) ===
    'late'
  ) {
    console.error(
      `evaluator: message ${message.id} not done after ${TASK_DELIVERY_DEADLINE_MS / 1000} s (a storage, coordinator or peer call that never answered); retrying it`,
    );
    message.retry({ delaySeconds: 1 });
  }
}

async function handle(
  message: Message<unknown>,
  env: EvaluatorEnv,
  work: BreedAndEvaluate,
  recheck: Recheck = (t) => runRecheck(env, t),
  reportChampion: ReportChampion = reportChampionHere,
): Promise<void> {
  const parsed = queueTaskSchema.safeParse(message.body);
  if (!parsed.success) {
    // Not ours to interpret; retrying would fail the same way.
    console.error(`evaluator: dropping malformed message ${message.id}: ${parsed.error.message}`);
    message.ack();
    return;
  }
  const task = parsed.data;
  if (task.kind === 'dataset-build') {
    // A table's own faults end on the dataset's row; anything else is transient: retry.
    try {
      await runDatasetBuild(env, task);
      await requestUploadBaseline(env, task.datasetId); // built: its baseline is queued work of its own
      message.ack();
    } catch (e) {
      console.error(`evaluator: dataset ${task.datasetId} build: ${String(e)}`);
      message.retry({ delaySeconds: 1 });
    }
    return;
  }
  if (task.kind === 'train') {
    // Sent here before training chunks had their own queue: moved there, so it never holds up slices.
    try {
      await env.TRAIN_QUEUE.send(task, { contentType: 'json' });
      message.ack();
    } catch {
      message.retry({ delaySeconds: 1 });
    }
    return;
  }
  try {
    if (task.kind === 'slice') await handleSlice(task, env, work);
    else if (task.kind === 'recheck') await handleRecheck(task, env, recheck);
    else await handlePublish(task, env, reportChampion);
    message.ack();
  } catch (e) {
    if (e instanceof StaleTaskError && (task.kind === 'slice' || task.kind === 'recheck')) {
      message.ack();
    } else if (
      e instanceof PermanentTaskError ||
      (task.kind === 'publish' && (e instanceof PublishError || e instanceof StaleTaskError))
    ) {
      try {
        const coordinator = coordinatorOf(env, task.runId);
        if (task.kind === 'slice' || task.kind === 'recheck')
          await coordinator.reportError(task.gen, e.message);
        else await coordinator.publicationDone(task.version, { ok: false, error: e.message });
        message.ack();
      } catch {
        message.retry({ delaySeconds: 1 });
      }
    } else {
      // Transient (R2 or the coordinator unavailable, the object restarting): let the queue retry;
      // if it gives up, the coordinator's alarm re-sends the task.
      console.error(`evaluator: ${task.runId} ${task.kind} task: ${String(e)}`);
      message.retry({ delaySeconds: 1 });
    }
  }
}

/**
 * Work on a peer with its inputs read here; if the peer fails, the same work here (and the peer is
 * dropped until it answers). The peer and this isolate run the same pure function of the inputs.
 */
function onPeerOrHere<T, I, O>(
  name: string,
  load: (task: T) => Promise<I>,
  remote: (task: T, inputs: I) => Promise<O>,
  local: (task: T, inputs: I) => O,
): (task: T) => Promise<O> {
  return async (task) => {
    const inputs = await load(task);
    if (peerState.get(name)?.healthy) {
      try {
        // A peer that does not answer (its process stuck or gone) is dropped like one that fails.
        return await answerWithin(remote(task, inputs), PEER_ANSWER_MS);
      } catch (e) {
        markPeer(name, false);
        console.error(`evaluator: peer ${name} failed (${String(e)}); working here instead`);
      }
    }
    return local(task, inputs);
  };
}

/** Breed and evaluate a slice on a peer, or here. */
function viaPeer(env: EvaluatorEnv, name: string, peer: PeerBinding): BreedAndEvaluate {
  return onPeerOrHere(
    name,
    (task: SliceTask) => loadSliceInputs(env, task),
    (task, inputs) => peer.evaluate(task, inputs),
    breedAndEvaluate,
  );
}

/**
 * A training chunk's steps on a peer, or here: seconds of CPU per chunk that would otherwise hold
 * the one thread serving every page and API request of `npm start` (workers/models/train.ts).
 */
function trainViaPeer(name: string, peer: PeerBinding): TrainChunk {
  const chunk = onPeerOrHere(
    name,
    async (args: Parameters<TrainChunk>) => args,
    (_, [genome, state, data, steps]) => peer.train(genome, state, data, steps),
    (_, [genome, state, data, steps]) => new Trainer(genome, data).steps(state, steps),
  );
  return (...args) => chunk(args);
}

/** A publication's test-set report on a peer, or here (the storage around it stays here). */
function reportViaPeer(name: string, peer: PeerBinding): ReportChampion {
  const report = onPeerOrHere(
    name,
    async (args: Parameters<ReportChampion>) => args,
    (_, [genome, test, train, weights]) => peer.report(genome, test, train, weights),
    (_, [genome, test, train, weights]) => championReport(genome, test, train, weights),
  );
  return (...args) => report(args);
}

/** A re-check on a peer, or here. */
function recheckViaPeer(env: EvaluatorEnv, name: string, peer: PeerBinding): Recheck {
  return onPeerOrHere(
    name,
    (task: RecheckTask) => loadRecheckInputs(env, task),
    (task, inputs) => peer.recheck(task, inputs),
    recheckFromInputs,
  );
}

/** Tasks in flight per peer (see consumeTasks). */
const LANES_PER_PEER = 2;

export async function consumeTasks(messages: readonly Message<unknown>[], env: EvaluatorEnv): Promise<void> {
  const peers = await livePeers(env);
  if (peers.length === 0) {
    // Sequential on purpose: the work is CPU-bound, and consecutive slices share cached parents.
    const local: BreedAndEvaluate = (task) => runSlice(env, task);
    for (const message of messages) await handleInTime(message, env, local);
    return;
  }
  // LANES_PER_PEER lanes per peer, each taking the next message when its task is done. With one
  // lane a peer sat idle while this isolate stored its slice, reported it and read the next one's
  // inputs; with two, the next slice's request is already waiting at the peer when it finishes one.
  let next = 0;
  await Promise.all(
    peers.flatMap(({ name, peer }) => {
      const work = viaPeer(env, name, peer);
      const recheck = recheckViaPeer(env, name, peer);
      const report = reportViaPeer(name, peer);
      return Array.from({ length: LANES_PER_PEER }, async () => {
        while (next < messages.length) await handleInTime(messages[next++], env, work, recheck, report);
      });
    }),
  );
}

/**
 * Training chunks (their own queue, one chunk per batch): the storage here, the Adam steps on the
 * first live peer where there is one, so seconds of CPU never hold the thread serving requests.
 */
export async function consumeTrainChunks(
  messages: readonly Message<unknown>[],
  env: EvaluatorEnv,
): Promise<void> {
  const [first] = await livePeers(env);
  const trainChunk = first ? trainViaPeer(first.name, first.peer) : undefined;
  await consumeTrainTasks(messages, env, {
    handle: (message, task, bindings) => handleTrainMessage(message, task, bindings, trainChunk),
  });
}

export default {
  async queue(batch, env) {
    if (batch.queue === TRAIN_QUEUE_NAME) await consumeTrainChunks(batch.messages, env);
    else await consumeTasks(batch.messages, env);
  },
} satisfies ExportedHandler<EvaluatorEnv, unknown>;
