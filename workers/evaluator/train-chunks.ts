/**
 * The evaluator's consumer of the training queue (`wann-train-tasks`): one chunk of a training per
 * message (workers/models/train.ts), each delivery settled within a deadline.
 *
 * Why a deadline: a queue consumer invocation that never settles (an R2 call, a D1 query, a `send`
 * or the coordinator's RPC that never answers) holds its queue: locally the broker delivers one
 * batch at a time per queue and waits for it. The chunk's own work ends within its wall-time budget
 * (`TRAINING_CHUNK_MS`); an await that outlives the deadline is abandoned and the message retried.
 * A late finish of the abandoned chunk is harmless: chunks move the training's step by
 * compare-and-set, so only one delivery of a chunk counts.
 */
import { type TrainTask, trainTaskSchema } from '../contracts/queue-tasks';
import { handleTrainMessage, TRAINING_CHUNK_MS, type TrainBindings } from '../models/train';

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
    const parsed = trainTaskSchema.safeParse(message.body);
    if (!parsed.success) {
      console.error(`evaluator: dropping malformed training message ${message.id}: ${parsed.error.message}`);
      message.ack();
      continue;
    }
    const task = parsed.data;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<'late'>((resolve) => {
      timer = setTimeout(() => resolve('late'), deadlineMs);
    });
    const outcome = await Promise.race([
      handle(message, task, env).then(
        () => 'settled' as const,
        (e: unknown) => {
          console.error(`evaluator: training ${task.runId} v${task.version} step ${task.step}: ${String(e)}`);
          return 'failed' as const;
        },
      ),
      late,
    ]);
    clearTimeout(timer);
    if (outcome === 'settled') continue;
    if (outcome === 'late') {
      console.error(
        `evaluator: training ${task.runId} v${task.version} step ${task.step}: no end after ${Math.round(deadlineMs / 1000)} s (a storage or coordinator call that never answered); retrying the chunk`,
      );
    }
    message.retry({ delaySeconds: 1 });
  }
}
