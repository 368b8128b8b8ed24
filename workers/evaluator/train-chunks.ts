/**
 * The evaluator's consumer of the training queue (`wann-train-tasks`): one chunk of a training per
 * message (workers/models/train.ts), or one chunk of a dataset's baseline
 * (workers/datasets/baseline.ts), each delivery settled within a deadline.
 *
 * Why a deadline: see delivery-deadline.ts. The chunk's own work ends within its wall-time budget
 * (`TRAINING_CHUNK_MS`); an await that outlives the deadline is abandoned and the message retried.
 */
import { type DatasetBaselineTask, type TrainTask, trainQueueTaskSchema } from '../contracts/queue-tasks';
import { BASELINE_CHUNK_MS, runBaselineTask } from '../datasets/baseline';
import { handleTrainMessage, TRAINING_CHUNK_MS, type TrainBindings } from '../models/train';
import { settleWithin } from './delivery-deadline';

/** A chunk's delivery settles within this: its compute budget plus ample time for its I/O. */
export const CHUNK_DELIVERY_DEADLINE_MS = TRAINING_CHUNK_MS + 50_000;

export type ChunkHandler = (message: Message<unknown>, task: TrainTask, env: TrainBindings) => Promise<void>;

export interface TrainConsumerOptions {
  deadlineMs?: number;
  /** What runs one chunk (tests put a fault injector in front of `handleTrainMessage`). */
  handle?: ChunkHandler;
}

export async function consumeTrainTasks(
  messages: readonly Message<unknown>[],
  env: TrainBindings,
  { deadlineMs = CHUNK_DELIVERY_DEADLINE_MS, handle = handleTrainMessage }: TrainConsumerOptions = {},
): Promise<void> {
  for (const message of messages) {
    const parsed = trainQueueTaskSchema.safeParse(message.body);
    if (!parsed.success) {
      console.error(`evaluator: dropping malformed training message ${message.id}: ${parsed.error.message}`);
      message.ack();
      continue;
    }
    const task = parsed.data;
    if (task.kind === 'dataset-baseline') {
      await handleBaselineMessage(message, task, env);
      continue;
    }
    const outcome = await settleWithin(
      handle(message, task, env).catch((e: unknown) => {
        console.error(`evaluator: training ${task.runId} v${task.version} step ${task.step}: ${String(e)}`);
        throw e;
      }),
      deadlineMs,
    ).catch(() => 'failed' as const);
    if (outcome === 'settled') continue;
    if (outcome === 'late') {
      console.error(
        `evaluator: training ${task.runId} v${task.version} step ${task.step}: no end after ${Math.round(deadlineMs / 1000)} s (a storage or coordinator call that never answered); retrying the chunk`,
      );
    }
    message.retry({ delaySeconds: 1 });
  }
}

/** A baseline chunk's delivery settles within this: its epochs' budget plus one long epoch and I/O. */
export const BASELINE_DELIVERY_DEADLINE_MS = BASELINE_CHUNK_MS + 50_000;

/** One baseline chunk: acked when done (its own faults end on its record); anything else retries. */
async function handleBaselineMessage(
  message: Message<unknown>,
  task: DatasetBaselineTask,
  env: TrainBindings,
): Promise<void> {
  const outcome = await settleWithin(
    runBaselineTask(env, task).catch((e: unknown) => {
      console.error(`evaluator: baseline of ${task.dataset} from epoch ${task.epoch}: ${String(e)}`);
      throw e;
    }),
    BASELINE_DELIVERY_DEADLINE_MS,
  ).catch(() => 'failed' as const);
  if (outcome === 'settled') message.ack();
  else message.retry({ delaySeconds: 1 });
}
