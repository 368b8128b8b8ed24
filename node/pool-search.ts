/**
 * The generation contract driven across worker threads (EvalPool): the main thread ranks and
 * selects (`planGeneration`), hands out slices, and completes the generation from the reports
 * (`tell`); genomes exist only in the workers and in shared slice buffers. Must match
 * `LocalSearch` (src/wann/local-search.ts) generation for generation (tests/unit/golden-trace.test.ts).
 * A check generation's champion re-check runs on a worker thread as one more unit of that
 * generation's work; the main thread only applies its report in `tell`.
 */

import type { SearchConfig } from '../src/wann/config';
import {
  breedingParams,
  type GenerationObjectives,
  type GenomeShape,
  generationShard,
  MNIST_SHAPE,
  planGeneration,
  recheckSpec,
  type SearchVariant,
} from '../src/wann/generation';
import { decodeGenomeBytes, type Genome } from '../src/wann/genome';
import { type EarlyStop, patienceStop } from '../src/wann/patience';
import type { ChampionRecord, GenerationRecord } from '../src/wann/record';
import { initialSearchState, type SearchState, tell } from '../src/wann/tell';
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
  /** Generations completed, champion and candidate, each located by the slice that holds it. */
  state: SearchState<StoredSlice> = initialSearchState();
  lastStep: StepTiming = { serialMs: 0, evalMs: 0, totalMs: 0 };
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
    /** The genome's inputs and outputs: the run's dataset's features and classes. */
    shape: GenomeShape = MNIST_SHAPE,
  ) {
    this.breeding = {
      ...breedingParams(config, shape),
      ...(variant.keepHiddenSplits ? { keepHiddenSplits: true } : {}),
    };
  }

  /** The generation `step` evaluates next. */
  get generation(): number {
    return this.state.generation;
  }

  get champion(): ChampionRecord | null {
    return this.state.champion?.champion ?? null;
  }

  /** The best single-batch genome waiting for the next re-check (re-check on). */
  get candidate(): ChampionRecord | null {
    return this.state.candidate?.champion ?? null;
  }

  /**
   * Set when the last generation ended the run early (config `patience`): drivers stop stepping.
   * A pure function of the state, so it is what the coordinator decides for the same config.
   */
  get stop(): EarlyStop | null {
    return patienceStop(this.config, this.state);
  }

  /** Plan, breed and evaluate (workers), and complete one generation; returns its record. */
  async step(): Promise<GenerationRecord> {
    const start = performance.now();
    const { state } = this;
    const gen = state.generation;
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
        spec && state.champion && this.testBatch
          ? {
              spec,
              champion: memberBytes(state.champion.location, spec.champion.index),
              candidate:
                spec.candidate && state.candidate
                  ? memberBytes(state.candidate.location, spec.candidate.index)
                  : null,
              batchForShard: (shard) => this.batch(shard),
              testBatch: this.testBatch,
            }
          : null,
    });
    const completing = performance.now();
    const holding = (index: number) => {
      const s = run.slices.find((s) => index >= s.sliceStart && index < s.sliceEnd);
      if (!s) throw new RangeError(`member ${index} is in no slice of generation ${gen}`);
      return s;
    };
    const told = tell(
      state,
      { slices: run.reports, recheck: run.recheck, locate: holding, durationMs: run.evalMs },
      this.config,
    );
    this.state = told.state;
    this.objectives = told.objectives;
    this.previous = run.slices;
    const end = performance.now();
    this.lastStep = {
      serialMs: planned - start + run.busyMs + (end - completing),
      evalMs: run.evalMs,
      totalMs: end - start,
    };
    return told.record;
  }

  /** The best-ever genome (by mean fitness), decoded from its slice; null before the first generation. */
  championMember(): Genome | null {
    const c = this.state.champion;
    if (!c) return null;
    const b = memberBytes(c.location, c.champion.index);
    return decodeGenomeBytes(new Uint8Array(b.buffer, b.offset, b.length));
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
