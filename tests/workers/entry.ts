/**
 * Test entry Worker: the production main Worker (API + SearchCoordinator) and, as its queue
 * consumer, the production evaluator code, so a search runs through a real queue inside one
 * workerd. Between the queue and the evaluator sits a fault injector: per run, a rule may drop a
 * slice task's delivery (acked, never evaluated: a lost message), deliver it and enqueue a real
 * duplicate, or evaluate and store it without ever reporting (a message the queue abandoned after
 * the object was stored); training chunks (their own queue) may be dropped or hang.
 */

import { championReport } from '../../src/wann/report';
import { Trainer } from '../../src/wann/train';
import type { Env } from '../../workers/api/env';
import api, { RunsFeed, SearchCoordinator } from '../../workers/api/index';
import { populationSliceKey } from '../../workers/contracts/blob-keys';
import {
  type QueueTask,
  type RecheckTask,
  type SliceTask,
  TRAIN_QUEUE_NAME,
  type TrainTask,
} from '../../workers/contracts/queue-tasks';
import { breedAndEvaluate, runSlice, type SliceInputs } from '../../workers/evaluator/evaluate-slice';
import { consumeTasks, consumeTrainChunks, type EvaluatorEnv } from '../../workers/evaluator/index';
import { type ChunkHandler, consumeTrainTasks } from '../../workers/evaluator/train-chunks';
import type { ReportChampion } from '../../workers/models/publish';
import type { TrainChunk } from '../../workers/models/train';
import { handleTrainMessage } from '../../workers/models/train';

export { RunsFeed, SearchCoordinator };

export type Delivery = 'deliver' | 'drop' | 'duplicate' | 'abandon';
export type DeliveryRule = (task: SliceTask) => Delivery;

/** Rules by run id; tests set them right after creating a run (gen ≥ 1 is always still ahead). */
export const faults = new Map<string, DeliveryRule>();

/** Every delivery the consumer saw, for assertions: `${runId}:${gen}:${sliceStart}` → count. */
export const deliveries = new Map<string, number>();

/** Rules for champion re-check tasks, by run id (deliveries counted as `${runId}:${gen}:recheck`). */
export const recheckFaults = new Map<string, (task: RecheckTask) => Delivery>();

/**
 * Rules for training chunks (their own queue), by run id: 'drop' acks the chunk's message
 * unevaluated (a lost message); 'hang' holds the delivery without settling, as a storage or RPC
 * call that never answers would. Deliveries counted as `${runId}:${version}:train:${step}`.
 */
export const trainFaults = new Map<string, (task: TrainTask) => 'deliver' | 'drop' | 'hang'>();
/** Training deliveries in this Worker settle within this (production: CHUNK_DELIVERY_DEADLINE_MS). */
export const TEST_CHUNK_DEADLINE_MS = 5_000;

/**
 * A pending timer, as a hung storage call would be: workerd cancels an invocation that awaits
 * nothing at all, which is not the stall being reproduced. Ends by itself (10 minutes) or with its
 * invocation.
 */
const holdChunk = () => new Promise<void>((release) => setTimeout(release, 10 * 60_000));

const faultyChunk: ChunkHandler = async (message, task, env) => {
  const key = `${task.runId}:${task.version}:train:${task.step}`;
  deliveries.set(key, (deliveries.get(key) ?? 0) + 1);
  const action = trainFaults.get(task.runId)?.(task) ?? 'deliver';
  if (action === 'hang') return holdChunk();
  if (action === 'drop') return message.ack();
  return handleTrainMessage(message, task, env);
};

/**
 * Runs whose slices go to stand-in peer evaluators (EVAL_PEER_1 and 2: the peer entry point's code
 * in this isolate, inputs copied as RPC would). Peer 2 fails on its second slice, so its lane
 * falls back to evaluating in the consumer. Counts: slices each peer evaluated, by run.
 */
export const peerRuns = new Map<string, { peer1: number; peer2: number }>();

/**
 * Training chunks and publication reports the stand-in peers computed (for runs listed in
 * peerRuns; these RPCs name no run).
 */
export const peerTraining = { chunks: 0, reports: 0 };

function standInPeers(env: Env): EvaluatorEnv {
  const counts = (task: SliceTask) => peerRuns.get(task.runId) ?? { peer1: 0, peer2: 0 };
  let calls2 = 0;
  const peer = (evaluate: (task: SliceTask, inputs: SliceInputs) => unknown) =>
    ({
      ping: async () => 'ok',
      evaluate: async (t: SliceTask, i: SliceInputs) => evaluate(t, structuredClone(i)),
      train: (async (...args) => {
        const [genome, state, data, steps] = structuredClone(args);
        peerTraining.chunks++;
        return new Trainer(genome, data).steps(state, steps);
      }) satisfies TrainChunk,
      report: (async (...args) => {
        const [genome, test, train, weights] = structuredClone(args);
        peerTraining.reports++;
        return championReport(genome, test, train, weights);
      }) satisfies ReportChampion,
    }) as never;
  return {
    ...env,
    EVAL_PEER_1: peer((task, inputs) => {
      counts(task).peer1++;
      return breedAndEvaluate(task, inputs);
    }),
    EVAL_PEER_2: peer((task, inputs) => {
      if (++calls2 === 2) throw new Error('peer 2 went away');
      counts(task).peer2++;
      return breedAndEvaluate(task, inputs);
    }),
  };
}

export default {
  fetch: api.fetch,
  async queue(batch, env) {
    if (batch.queue === TRAIN_QUEUE_NAME) {
      // A peer run's chunks go to the stand-in peers, as `npm start` sends them to its processes.
      const onPeers = (m: Message<unknown>) => peerRuns.has((m.body as TrainTask).runId);
      await consumeTrainTasks(
        batch.messages.filter((m) => !onPeers(m)),
        env,
        { deadlineMs: TEST_CHUNK_DEADLINE_MS, handle: faultyChunk },
      );
      const forPeers = batch.messages.filter(onPeers);
      if (forPeers.length) await consumeTrainChunks(forPeers, standInPeers(env));
      return;
    }
    const kept: Message<unknown>[] = [];
    for (const message of batch.messages) {
      const task = message.body as QueueTask;
      if (task.kind === 'recheck') {
        const key = `${task.runId}:${task.gen}:recheck`;
        deliveries.set(key, (deliveries.get(key) ?? 0) + 1);
        const action = recheckFaults.get(task.runId)?.(task) ?? 'deliver';
        if (action === 'drop') {
          message.ack();
          continue;
        }
        if (action === 'duplicate') await env.EVAL_QUEUE.send(task, { contentType: 'json' });
        kept.push(message);
        continue;
      }
      if (task.kind !== 'slice') {
        kept.push(message);
        continue;
      }
      const key = `${task.runId}:${task.gen}:${task.sliceStart}`;
      deliveries.set(key, (deliveries.get(key) ?? 0) + 1);
      const action = faults.get(task.runId)?.(task) ?? 'deliver';
      if (action === 'abandon') {
        // Evaluated and stored as the evaluator does, then the report is lost for good.
        try {
          const { blob } = await runSlice(env, task);
          await env.BLOBS.put(populationSliceKey(task.runId, task.gen, task.sliceStart), blob);
        } catch (e) {
          console.warn(`entry: abandoned slice not stored: ${String(e)}`);
        }
        message.ack();
        continue;
      }
      if (action === 'drop') {
        message.ack();
        continue;
      }
      if (action === 'duplicate') await env.EVAL_QUEUE.send(task, { contentType: 'json' });
      kept.push(message);
    }
    const viaPeers = (m: Message<unknown>) => {
      const task = m.body as QueueTask;
      return 'runId' in task && peerRuns.has(task.runId);
    };
    await consumeTasks(
      kept.filter((m) => !viaPeers(m)),
      env,
    );
    const forPeers = kept.filter(viaPeers);
    if (forPeers.length) await consumeTasks(forPeers, standInPeers(env));
  },
} satisfies ExportedHandler<Env, unknown>;
