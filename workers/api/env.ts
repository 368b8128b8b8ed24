/**
 * Bindings of the main Worker (the API and the SearchCoordinator objects it hosts): generated from
 * wrangler.toml by `npm run types` (worker-configuration.d.ts; secrets' names from
 * .dev.vars.example), with the task queue's message type, which a wrangler config cannot state.
 */
import type { TaskQueue } from '../contracts/queue-tasks';
import type { Env as GeneratedEnv } from './worker-configuration';

export interface Env extends Omit<GeneratedEnv, 'EVAL_QUEUE'> {
  EVAL_QUEUE: TaskQueue;
}
