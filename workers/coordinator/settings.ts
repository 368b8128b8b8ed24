/**
 * Operational knobs of the coordinator, read from Worker vars (strings) with safe defaults. These
 * change how the search is run (timeouts, retries), never what it computes. (How many training
 * shards a run draws from changes results, so it is the run's config field `trainShards`.)
 */
import { z } from 'zod';
import type { Env } from '../api/env';

const intVar = (def: number, min: number, max: number) =>
  z
    .string()
    .optional()
    .transform((s) => (s === undefined || s.trim() === '' ? def : Number(s)))
    .pipe(z.number().int().min(min).max(max));

const settingsSchema = z.object({
  /** A slice not reported this long after it was sent is sent again. */
  SLICE_TIMEOUT_MS: intVar(120_000, 100, 3_600_000),
  /** Sends per slice (first + re-sends) before the run fails with a recorded error. */
  SLICE_MAX_ATTEMPTS: intVar(5, 1, 100),
  /** At most this many slice tasks per generation, merging slices (0: one task per slice). */
  SLICE_TASKS_MAX: intVar(0, 0, 10_000),
});

export interface CoordinatorSettings {
  sliceTimeoutMs: number;
  sliceMaxAttempts: number;
  sliceTasksMax: number;
}

/** The most members one slice task may carry (the task schema's bound). */
export const MAX_TASK_MEMBERS = 1_000;

/**
 * Members per slice task. Deployed (`SLICE_TASKS_MAX` 0), the run's `sliceSize`: a task is one
 * consumer invocation, so more tasks is more parallelism. Locally, every task's queue message, R2
 * object, report and Durable Object transaction cost CPU on the same cores as the search, in the
 * process that also serves the API; `npm start` sets SLICE_TASKS_MAX to 4 per evaluator process
 * (two tasks in flight each, and a second round to even out the end of a generation), and a
 * generation with more slices than that is cut into that many tasks of ceil(population / max)
 * members, never fewer than `sliceSize` nor more than MAX_TASK_MEMBERS. Measured in the README ("A
 * search over HTTP against `npm run search`").
 *
 * How a generation is cut changes no result: each member is bred from (generation, index, parent)
 * and scored on its own, bit for bit the same in any task (tests/workers/search.test.ts runs one
 * search cut three ways; the CLI's threads cut it in yet other places and give the same records).
 */
export function membersPerTask(
  config: { population: number; sliceSize: number },
  settings: Pick<CoordinatorSettings, 'sliceTasksMax'>,
): number {
  if (settings.sliceTasksMax === 0) return config.sliceSize;
  const even = Math.ceil(config.population / settings.sliceTasksMax);
  return Math.max(config.sliceSize, Math.min(MAX_TASK_MEMBERS, even));
}

/** The Worker vars the settings come from (wrangler.toml `[vars]`; optional: defaults apply). */
export type SettingsVars = Partial<Pick<Env, 'SLICE_TIMEOUT_MS' | 'SLICE_MAX_ATTEMPTS' | 'SLICE_TASKS_MAX'>>;

export function readSettings(env: SettingsVars): CoordinatorSettings {
  const s = settingsSchema.parse({
    SLICE_TIMEOUT_MS: env.SLICE_TIMEOUT_MS,
    SLICE_MAX_ATTEMPTS: env.SLICE_MAX_ATTEMPTS,
    SLICE_TASKS_MAX: env.SLICE_TASKS_MAX,
  });
  return {
    sliceTimeoutMs: s.SLICE_TIMEOUT_MS,
    sliceMaxAttempts: s.SLICE_MAX_ATTEMPTS,
    sliceTasksMax: s.SLICE_TASKS_MAX,
  };
}
