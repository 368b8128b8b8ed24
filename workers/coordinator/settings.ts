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
});

export interface CoordinatorSettings {
  sliceTimeoutMs: number;
  sliceMaxAttempts: number;
}

/** The Worker vars the settings come from (wrangler.toml `[vars]`; optional: defaults apply). */
export type SettingsVars = Partial<Pick<Env, 'SLICE_TIMEOUT_MS' | 'SLICE_MAX_ATTEMPTS'>>;

export function readSettings(env: SettingsVars): CoordinatorSettings {
  const s = settingsSchema.parse({
    SLICE_TIMEOUT_MS: env.SLICE_TIMEOUT_MS,
    SLICE_MAX_ATTEMPTS: env.SLICE_MAX_ATTEMPTS,
  });
  return {
    sliceTimeoutMs: s.SLICE_TIMEOUT_MS,
    sliceMaxAttempts: s.SLICE_MAX_ATTEMPTS,
  };
}
