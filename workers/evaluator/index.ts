/**
 * Evaluator Worker: consumes the evaluation queue. For each message it evaluates one slice of a
 * generation and reports the results to the run's SearchCoordinator over Durable Object RPC.
 * Queues deliver at least once; the coordinator ignores duplicates, so retrying is always safe.
 */
import type { SearchCoordinator } from '../coordinator/search-coordinator';
import { type SliceTask, sliceTaskSchema } from '../shared/contracts';
import { type EvaluatorBindings, evaluateSlice, PermanentTaskError, StaleTaskError } from './evaluate-slice';

export interface EvaluatorEnv extends EvaluatorBindings {
  /** The main Worker's SearchCoordinator class (`script_name` binding). */
  COORD: DurableObjectNamespace<SearchCoordinator>;
}

async function handle(message: Message<unknown>, env: EvaluatorEnv): Promise<void> {
  const parsed = sliceTaskSchema.safeParse(message.body);
  if (!parsed.success) {
    // Not ours to interpret; retrying would fail the same way.
    console.error(`evaluator: dropping malformed message ${message.id}: ${parsed.error.message}`);
    message.ack();
    return;
  }
  const task: SliceTask = parsed.data;
  const coordinator = env.COORD.get(env.COORD.idFromName(task.runId));
  try {
    const results = await evaluateSlice(env, task);
    await coordinator.report(task.gen, task.sliceStart, results);
    message.ack();
  } catch (e) {
    if (e instanceof StaleTaskError) {
      message.ack();
    } else if (e instanceof PermanentTaskError) {
      try {
        await coordinator.reportError(task.gen, e.message);
        message.ack();
      } catch {
        message.retry({ delaySeconds: 1 });
      }
    } else {
      // Transient (R2 or the coordinator unavailable, the object restarting): let the queue retry;
      // if it gives up, the coordinator's alarm re-sends the slice.
      console.error(`evaluator: ${task.runId} gen ${task.gen} slice ${task.sliceStart}: ${String(e)}`);
      message.retry({ delaySeconds: 1 });
    }
  }
}

export async function consumeSlices(messages: readonly Message<unknown>[], env: EvaluatorEnv): Promise<void> {
  // Sequential on purpose: evaluation is CPU-bound, and consecutive slices share cached blobs.
  for (const message of messages) await handle(message, env);
}

export default {
  async queue(batch, env) {
    await consumeSlices(batch.messages, env);
  },
} satisfies ExportedHandler<EvaluatorEnv, unknown>;
