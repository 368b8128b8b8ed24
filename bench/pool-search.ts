/**
 * The generation contract driven across worker threads (EvalPool): the main thread ranks and
 * selects (`planGeneration`), hands out slices, and completes the generation from the reports
 * (`completeGeneration`); genomes exist only in the workers and in shared slice buffers. Must match
 * `LocalSearch` (src/wann/local-search.ts) generation for generation (tests/unit/golden-trace.test.ts).
 * A check generation's champion re-check runs on a worker thread as one more unit of that
 * generation's work; the main thread only applies its report in `completeGeneration`.
 */

import type { SearchConfig } from '../src/wann/config';
import {
  breedingParams,
  completeGeneration,
  type GenerationObjectives,
  generationShard,
  planGeneration,
  recheckSpec,
  type SearchVariant,
} from '../src/wann/generation';
import { decodeGenomeBytes, type Genome } from '../src/wann/genome';
import type { ChampionRecord, GenerationRecord } from '../src/wann/record';
import type { Batch } from '../src/wann/types';
import { type EvalPool, memberBytes, type StoredSlice } from './eval-pool';

/** Where the time of one generation went. */
export interface StepTiming {
  /** Main-thread work: planning, dispatching, receiving, completing. */
  serialMs: number;
  /** From dispatching the first slice to receiving the last. */
  evalMs: number;
  /** The whole step. */
  totalMs: number;
}

export class PoolSearch {
  /** The generation `step` evaluates next. */
  generation = 0;
  champion: ChampionRecord | null = null;
  /** The best single-batch genome waiting for the next re-check (re-check on). */
  candidate: ChampionRecord | null = null;
  lastStep: StepTiming = { serialMs: 0, evalMs: 0, totalMs: 0 };
  /** The slice holding the champion: kept alive so the champion can be decoded when asked for. */
  private championSlice: StoredSlice | null = null;
  /** The slice holding the candidate, kept alive until its re-check. */
  private candidateSlice: StoredSlice | null = null;
  private previous: StoredSlice[] = [];
  private objectives: GenerationObjectives | null = null;
  private readonly batches = new Map<number, Batch>();
  private readonly breeding;

  constructor(
    readonly config: SearchConfig,
    private readonly pool: EvalPool,
    private readonly batchForShard: (shard: number) => Batch,
    /** Members per slice task (never changes results). */
    readonly sliceSize = config.sliceSize,
    /** The re-check's test subset (test shard RECHECK_TEST_SHARD); needed when `recheckEvery` > 0. */
    private readonly testBatch: Batch | null = null,
    /**
     * Ablations only (bench/ablation.ts): departures from the paper's rules, and the batch of each
     * generation in place of its seeded training shard (the re-checks keep the shards).
     */
    private readonly variant: SearchVariant & { batchForGeneration?: (gen: number) => Batch } = {},
  ) {
    this.breeding = {
      ...breedingParams(config),
      ...(variant.keepHiddenSplits ? { keepHiddenSplits: true } : {}),
    };
  }

  /** Plan, breed and evaluate (workers), and complete one generation; returns its record. */
  async step(): Promise<GenerationRecord> {
    const start = performance.now();
    const gen = this.generation;
    const plan = planGeneration(this.config, gen, this.objectives, this.variant);
    const batch = this.variant.batchForGeneration
      ? this.variant.batchForGeneration(gen)
      : this.batch(generationShard(this.config, gen));
    const spec = recheckSpec(this.config, gen, this.champion, this.candidate);
    if (spec && !this.testBatch)
      throw new Error(`generation ${gen} re-checks the champion: PoolSearch needs a test batch`);
    const planned = performance.now();
    const run = await this.pool.breedAndEvaluate({
      gen,
      population: this.config.population,
      breeding: this.breeding,
      weights: this.config.weights,
      batch,
      elites: plan.elites,
      parents: plan.parents,
      previous: this.previous,
      sliceSize: this.sliceSize,
      recheck:
        spec && this.testBatch
          ? {
              spec,
              champion: memberBytes(this.championSlice!, spec.champion.index),
              candidate: spec.candidate ? memberBytes(this.candidateSlice!, spec.candidate.index) : null,
              batchForShard: (shard) => this.batch(shard),
              testBatch: this.testBatch,
            }
          : null,
    });
    const completing = performance.now();
    const done = completeGeneration(
      gen,
      this.config,
      this.config.population,
      run.reports,
      this.champion,
      run.evalMs,
      { candidate: this.candidate, report: run.recheck },
    );
    const championSlice = this.sliceOf(done.champion, run.slices);
    this.candidateSlice = this.sliceOf(done.candidate, run.slices);
    this.championSlice = championSlice;
    this.champion = done.champion;
    this.candidate = done.candidate;
    this.objectives = done.objectives;
    this.previous = run.slices;
    this.generation = gen + 1;
    const end = performance.now();
    this.lastStep = {
      serialMs: planned - start + run.busyMs + (end - completing),
      evalMs: run.evalMs,
      totalMs: end - start,
    };
    return done.record;
  }

  /** The best-ever genome (by mean fitness), decoded from its slice; null before the first generation. */
  championMember(): Genome | null {
    const s = this.championSlice;
    if (!this.champion || !s) return null;
    const i = this.champion.index - s.sliceStart;
    return decodeGenomeBytes(new Uint8Array(s.buffer, s.offsets[i], s.offsets[i + 1] - s.offsets[i]));
  }

  /** The slice holding `who`: this generation's, or the champion's or candidate's before. */
  private sliceOf(who: ChampionRecord | null, current: StoredSlice[]): StoredSlice | null {
    if (!who) return null;
    const holds = (s: StoredSlice) => who.index >= s.sliceStart && who.index < s.sliceEnd;
    if (who.generation === this.generation) return current.find(holds) ?? null;
    for (const [c, s] of [
      [this.champion, this.championSlice],
      [this.candidate, this.candidateSlice],
    ] as const) {
      if (c && s && c.generation === who.generation && c.index === who.index) return s;
    }
    throw new Error(`no slice for generation ${who.generation} member ${who.index}`);
  }

  private batch(shard: number): Batch {
    let b = this.batches.get(shard);
    if (!b) {
      b = this.batchForShard(shard);
      this.batches.set(shard, b);
    }
    return b;
  }
}
