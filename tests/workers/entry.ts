/**
 * Test entry Worker: the production main Worker (API + SearchCoordinator) and, as its queue
 * consumer, the production evaluator code, so a search runs through a real queue inside one
 * workerd. Between the queue and the evaluator sits a fault injector: per run, a rule may drop a
 * delivery (acked, never evaluated: a lost message) or deliver it and enqueue a real duplicate.
 */

import type { Env } from '../../workers/api/env';
import api, { SearchCoordinator } from '../../workers/api/index';
import { consumeSlices } from '../../workers/evaluator/index';
import type { SliceTask } from '../../workers/shared/contracts';

export { SearchCoordinator };

export type Delivery = 'deliver' | 'drop' | 'duplicate';
export type DeliveryRule = (task: SliceTask) => Delivery;

/** Rules by run id; tests set them right after creating a run (gen ≥ 1 is always still ahead). */
export const faults = new Map<string, DeliveryRule>();

/** Every delivery the consumer saw, for assertions: `${runId}:${gen}:${sliceStart}` → count. */
export const deliveries = new Map<string, number>();

export default {
  fetch: api.fetch,
  async queue(batch, env) {
    const kept: Message<unknown>[] = [];
    for (const message of batch.messages) {
      const task = message.body as SliceTask;
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
    await consumeSlices(kept, env);
  },
} satisfies ExportedHandler<Env, unknown>;
