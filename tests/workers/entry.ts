/**
 * Test entry Worker: the production main Worker (API + SearchCoordinator) and, as its queue
 * consumer, the production evaluator code, so a search runs through a real queue inside one
 * workerd. Between the queue and the evaluator sits a fault injector: per run, a rule may drop a
 * slice task's delivery (acked, never evaluated: a lost message) or deliver it and enqueue a real duplicate.
 */

import { championReport } from '../../src/wann/report';
import { Trainer } from '../../src/wann/train';
import type { Env } from '../../workers/api/env';
import api, { SearchCoordinator } from '../../workers/api/index';
import type { QueueTask, RecheckTask, SliceTask } from '../../workers/contracts/queue-tasks';
import { breedAndEvaluate, type SliceInputs } from '../../workers/evaluator/evaluate-slice';
import { consumeTasks, type EvaluatorEnv } from '../../workers/evaluator/index';
import type { ReportChampion } from '../../workers/models/publish';
import type { TrainChunk } from '../../workers/models/train';

export { SearchCoordinator };

export type Delivery = 'deliver' | 'drop' | 'duplicate';
export type DeliveryRule = (task: SliceTask) => Delivery;

/** Rules by run id; tests set them right after creating a run (gen ≥ 1 is always still ahead). */
export const faults = new Map<string, DeliveryRule>();

/** Every delivery the consumer saw, for assertions: `${runId}:${gen}:${sliceStart}` → count. */
export const deliveries = new Map<string, number>();

/** Rules for champion re-check tasks, by run id (deliveries counted as `${runId}:${gen}:recheck`). */
export const recheckFaults = new Map<string, (task: RecheckTask) => Delivery>();

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
      if (action === 'drop') {
        message.ack();
        continue;
      }
      if (action === 'duplicate') await env.EVAL_QUEUE.send(task, { contentType: 'json' });
      kept.push(message);
    }
    const viaPeers = (m: Message<unknown>) => peerRuns.has((m.body as QueueTask).runId);
    await consumeTasks(
      kept.filter((m) => !viaPeers(m)),
      env,
    );
    const forPeers = kept.filter(viaPeers);
    if (forPeers.length) await consumeTasks(forPeers, standInPeers(env));
  },
} satisfies ExportedHandler<Env, unknown>;
