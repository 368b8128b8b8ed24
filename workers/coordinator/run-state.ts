/**
 * The run's own state, one small JSON row in table `meta`: status, config, the generation being
 * evaluated, the champion and the candidate with where they lie. Read once per object instance and
 * cached; every write goes to storage first.
 */
import { z } from 'zod';
import { RUN_STATUSES } from '../../src/api/vocabulary';
import { searchConfigSchema } from '../../src/wann/config';
import { championSchema, championWithDefaults } from '../../src/wann/record';
import { genomeLocationSchema } from '../contracts/queue-tasks';
import { first, json } from './rows';
import type { ChampionAddress, RunConfig } from './types';

const int = z.number().int().min(0);

/**
 * A champion as the object stored it. One stored before the re-check existed lacks `chosenBy` and
 * `recheckedFitness`; it reads with their defaults (chosen by its batch fitness, never re-checked).
 */
export const championAddressSchema = z
  .object({
    champion: championSchema.partial({ chosenBy: true, recheckedFitness: true }),
    location: genomeLocationSchema,
  })
  .transform((a): ChampionAddress => ({ champion: championWithDefaults(a.champion), location: a.location }));

/**
 * The config as recorded when the run started (already resolved, so parsing it again changes no
 * value), plus a fork's origin.
 */
const runConfigSchema = z
  .looseObject({ forkOf: z.strictObject({ runId: z.string(), generation: int }).optional() })
  .transform((raw, ctx): RunConfig => {
    const { forkOf, ...rest } = raw;
    const parsed = searchConfigSchema.safeParse(rest);
    if (!parsed.success || parsed.data.seed === undefined) {
      ctx.addIssue({ code: 'custom', message: 'not a resolved search config' });
      return z.NEVER;
    }
    const config = { ...parsed.data, seed: parsed.data.seed };
    return forkOf ? { ...config, forkOf } : config;
  });

const runMetaSchema = z.object({
  runId: z.string(),
  status: z.enum(RUN_STATUSES),
  config: runConfigSchema,
  error: z.string().nullable(),
  startedAt: z.number(),
  finishedAt: z.number().nullable(),
  /** The generation being bred and evaluated (= generations finished). */
  gen: int,
  /** When the current generation's slices were first sent (duration of a generation). */
  genStartedAt: z.number(),
  champion: championAddressSchema.nullable(),
  /**
   * The best single-batch genome waiting for the next champion re-check (absent in state written
   * before re-checks existed: none).
   */
  candidate: championAddressSchema.nullable().optional(),
  /**
   * The generation that crowned the champion (`SearchState.championSince`, what `patience` counts
   * from). Absent in state written before patience existed: `championSince` falls back.
   */
  championSince: int.optional(),
  /** Last status written to D1; differs from `status` while that write is pending. */
  syncedStatus: z.enum(RUN_STATUSES).nullable(),
  /** Consecutive failed `drive` attempts (D1/R2/queue errors); bounded like slice retries. */
  driveFailures: int,
  /**
   * The genome shape of the run's dataset (inputs = features, outputs = classes), read once at the
   * start so breeding needs no D1 read per slice. Absent for a built-in (its shape is in code) and in
   * state written before uploads could be searched.
   */
  shape: z.strictObject({ inputs: z.number().int().min(1), outputs: z.number().int().min(2) }).optional(),
});

export type RunMeta = z.output<typeof runMetaSchema>;

export class RunState {
  /** In-memory copy of the persisted row; storage stays the source of truth. */
  private cache: RunMeta | null = null;

  constructor(private readonly sql: SqlStorage) {
    sql.exec('CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)');
  }

  get(): RunMeta | null {
    if (!this.cache) {
      this.cache =
        first(this.sql, (r) => json(r, 'value', runMetaSchema), "SELECT value FROM meta WHERE key = 'run'") ??
        null;
    }
    return this.cache;
  }

  put(meta: RunMeta): void {
    this.sql.exec("INSERT OR REPLACE INTO meta (key, value) VALUES ('run', ?)", JSON.stringify(meta));
    this.cache = meta;
  }

  update(patch: Partial<RunMeta>): void {
    const meta = this.get();
    if (meta) this.put({ ...meta, ...patch });
  }
}
