/**
 * Bindings of the main Worker (the API and the SearchCoordinator objects it hosts): generated from
 * wrangler.toml by `npm run types` (worker-configuration.d.ts; secrets' names from
 * .dev.vars.example), with the task queues' message types, which a wrangler config cannot state.
 */
import type { TaskQueue, TrainQueue } from '../contracts/queue-tasks';
import type { Env as GeneratedEnv } from './worker-configuration';

export interface Env extends Omit<GeneratedEnv, 'EVAL_QUEUE' | 'TRAIN_QUEUE'> {
  EVAL_QUEUE: TaskQueue;
  TRAIN_QUEUE: TrainQueue;
}
