/**
 * The generation contract driven in one thread, with every genome in memory: the reference the
 * distributed drivers (the Durable Object with its evaluators, the Node worker pool) must match
 * generation for generation, champion re-checks included. Used by the golden trace test and the
 * platform benchmark's replay.
 */
import type { SearchConfig } from './config';
import {
  breedingParams,
  evaluateRecheck,
  type GenerationObjectives,
  type GenomeShape,
  generationShard,
  MNIST_SHAPE,
  planGeneration,
  recheckSpec,
} from './generation';
import type { Genome } from './genome';
import type { Evaluator } from './network';
import { type EarlyStop, patienceStop } from './patience';
import type { ChampionRecord, GenerationRecord } from './record';
import { evaluateSlice } from './slice';
import { initialSearchState, type SearchState, tell } from './tell';
import type { Batch } from './types';

export class LocalSearch {
  /** Generations completed, champion and candidate (each located by its genome). */
  state: SearchState<Genome> = initialSearchState();
  private population: Genome[] = [];
  private objectives: GenerationObjectives | null = null;

  constructor(
    readonly config: SearchConfig,
    private readonly batchForShard: (shard: number) => Batch,
    private readonly evaluator: Evaluator,
    /**
     * The re-check's test subset (test shard RECHECK_TEST_SHARD); needed only when the run reaches
     * a check generation (`recheckEvery` > 0).
     */
    private readonly testBatch: Batch | null = null,
    /** The genome's inputs and outputs: the run's dataset's features and classes. */
    private readonly shape: GenomeShape = MNIST_SHAPE,
  ) {}

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

  /** Breed, evaluate and complete one generation (with its re-check, if due); returns its record. */
  step(): GenerationRecord {
    const { config, state } = this;
    const gen = state.generation;
    const plan = planGeneration(config, gen, this.objectives);
    const { members, report } = evaluateSlice(
      this.evaluator,
      {
        gen,
        sliceStart: 0,
        sliceEnd: config.population,
        elites: plan.elites,
        parents: plan.parents,
        breeding: breedingParams(config, this.shape),
        weights: config.weights,
      },
      (index) => this.population[index],
      this.batchForShard(generationShard(config, gen)),
    );
    const spec = recheckSpec(config, gen, this.champion, this.candidate);
    let recheck = null;
    if (spec && state.champion) {
      if (!this.testBatch)
        throw new Error(`generation ${gen} re-checks the champion: LocalSearch needs a test batch`);
      recheck = evaluateRecheck(
        this.evaluator,
        spec,
        { champion: state.champion.location, candidate: state.candidate?.location ?? null },
        this.batchForShard,
        this.testBatch,
        config.weights,
      );
    }
    const told = tell(
      state,
      { slices: [report], recheck, locate: (index) => members[index], durationMs: 0 },
      config,
    );
    this.state = told.state;
    this.objectives = told.objectives;
    this.population = members;
    return told.record;
  }

  /** The last completed generation's members (empty before the first): for measurements. */
  get members(): readonly Genome[] {
    return this.population;
  }

  /** The champion's genome, or null before the first generation. */
  championMember(): Genome | null {
    return this.state.champion?.location ?? null;
  }
}
