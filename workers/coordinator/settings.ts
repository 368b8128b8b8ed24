/**
 * Operational knobs of the coordinator, read from Worker vars (strings) with safe defaults. These
 * change how the search is run (timeouts, retries, data available), never what it computes.
 */
import { z } from 'zod';

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
  /** Training shards uploaded to R2 (`shards/train-00.bin` …); a generation picks one of them. */
  TRAIN_SHARDS: intVar(60, 1, 60),
});

export interface CoordinatorSettings {
  sliceTimeoutMs: number;
  sliceMaxAttempts: number;
  trainShards: number;
}

export interface SettingsVars {
  SLICE_TIMEOUT_MS?: string;
  SLICE_MAX_ATTEMPTS?: string;
  TRAIN_SHARDS?: string;
}

export function readSettings(env: SettingsVars): CoordinatorSettings {
  const s = settingsSchema.parse({
    SLICE_TIMEOUT_MS: env.SLICE_TIMEOUT_MS,
    SLICE_MAX_ATTEMPTS: env.SLICE_MAX_ATTEMPTS,
    TRAIN_SHARDS: env.TRAIN_SHARDS,
  });
  return {
    sliceTimeoutMs: s.SLICE_TIMEOUT_MS,
    sliceMaxAttempts: s.SLICE_MAX_ATTEMPTS,
    trainShards: s.TRAIN_SHARDS,
  };
}
