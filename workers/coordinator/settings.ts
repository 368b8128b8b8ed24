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

/** Members [start, end) of a generation: one slice task. */
export type TaskBounds = readonly [start: number, end: number];

/** [from, to) in pieces of `size` members (the last may be smaller). */
function inPieces(from: number, to: number, size: number): TaskBounds[] {
  const out: TaskBounds[] = [];
  for (let start = from; start < to; start += size) out.push([start, Math.min(to, start + size)]);
  return out;
}

/** [from, to) in `parts` near-equal pieces of at most MAX_TASK_MEMBERS (more pieces if needed). */
function cut(from: number, to: number, parts: number): TaskBounds[] {
  return inPieces(from, to, Math.min(MAX_TASK_MEMBERS, Math.ceil((to - from) / parts)));
}

/**
 * How a generation is cut into slice tasks. Deployed (`SLICE_TASKS_MAX` 0), in slices of the run's
 * `sliceSize`: a task is one consumer invocation, so more tasks is more parallelism. Locally, every
 * task's queue message, R2 object, report and Durable Object transaction cost CPU on the same cores
 * as the search, in the process that also serves the API; `npm start` sets SLICE_TASKS_MAX to 4 per
 * evaluator process, and a generation with more slices than that is cut into that many tasks: half
 * of them large, over the first three quarters of the population, then the other half small, over
 * the last quarter, so the evaluators finish a generation together (the CLI's threads end theirs on
 * small slices too, node/eval-pool.ts). Measured in the README ("A search over HTTP against `npm run
 * search`").
 *
 * How a generation is cut changes no result: each member is bred from (generation, index, parent)
 * and scored on its own, bit for bit the same in any task (tests/workers/search.test.ts runs one
 * search cut three ways; the CLI cuts it in yet other places and gives the same records).
 */
export function sliceTaskBounds(
  config: { population: number; sliceSize: number },
  settings: Pick<CoordinatorSettings, 'sliceTasksMax'>,
): TaskBounds[] {
  const { population, sliceSize } = config;
  const most = settings.sliceTasksMax;
  if (most === 0 || Math.ceil(population / sliceSize) <= most) return inPieces(0, population, sliceSize);
  const large = Math.max(1, Math.floor(most / 2));
  const small = most - large;
  const tail = small === 0 ? population : population - Math.floor(population / 4);
  return [...cut(0, tail, large), ...(tail < population ? cut(tail, population, small) : [])];
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
