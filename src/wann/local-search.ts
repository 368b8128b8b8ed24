/**
 * The generation contract driven in one thread, with every genome in memory: the reference the
 * distributed drivers (the Durable Object with its evaluators, the Node worker pool) must match
 * generation for generation, champion re-checks included. Used by the golden trace test and the
 * platform benchmark's replay.
 */
import type { SearchConfig } from './config';
import {
  breedingParams,
  breedMember,
  completeGeneration,
  evaluateMembers,
  evaluateRecheck,
  type GenerationObjectives,
  generationShard,
  planGeneration,
  recheckSpec,
} from './generation';
import { encodePopulation, type Genome, populationOffsets } from './genome';
import type { Evaluator } from './network';
import type { ChampionRecord, GenerationRecord } from './record';
import type { Batch } from './types';

export class LocalSearch {
  /** The generation `step` evaluates next. */
  generation = 0;
  champion: ChampionRecord | null = null;
  /** The best single-batch genome waiting for the next re-check (re-check on). */
  candidate: ChampionRecord | null = null;
  private championGenome: Genome | null = null;
  private candidateGenome: Genome | null = null;
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
  ) {}

  /** Breed, evaluate and complete one generation (with its re-check, if due); returns its record. */
  step(): GenerationRecord {
    const gen = this.generation;
    const plan = planGeneration(this.config, gen, this.objectives);
    const params = breedingParams(this.config);
    const genomes: Genome[] = [];
    for (let j = 0; j < this.config.population; j++) {
      const parent = gen === 0 ? null : this.population[plan.parents[j]];
      genomes.push(breedMember(params, gen, j, plan.elites, parent));
    }
    const batch = this.batchForShard(generationShard(this.config, gen));
    const offsets = populationOffsets(encodePopulation(genomes));
    const report = evaluateMembers(
      this.evaluator,
      genomes,
      batch,
      this.config.weights,
      {
        gen,
        sliceStart: 0,
      },
      offsets,
    );
    const spec = recheckSpec(this.config, gen, this.champion, this.candidate);
    let recheck = null;
    if (spec) {
      if (!this.testBatch)
        throw new Error(`generation ${gen} re-checks the champion: LocalSearch needs a test batch`);
      recheck = evaluateRecheck(
        this.evaluator,
        spec,
        { champion: this.championGenome!, candidate: this.candidateGenome },
        this.batchForShard,
        this.testBatch,
        this.config.weights,
      );
    }
    const done = completeGeneration(gen, this.config, genomes.length, [report], this.champion, 0, {
      candidate: this.candidate,
      report: recheck,
    });
    this.championGenome = this.genomeOf(done.champion, genomes);
    this.candidateGenome = this.genomeOf(done.candidate, genomes);
    this.champion = done.champion;
    this.candidate = done.candidate;
    this.objectives = done.objectives;
    this.population = genomes;
    this.generation = gen + 1;
    return done.record;
  }

  /** The champion's genome, or null before the first generation. */
  championMember(): Genome | null {
    return this.championGenome;
  }

  /** The genome at `who`'s address: this generation's, or the champion's or candidate's before. */
  private genomeOf(who: ChampionRecord | null, current: Genome[]): Genome | null {
    if (!who) return null;
    if (who.generation === this.generation) return current[who.index];
    for (const [c, g] of [
      [this.champion, this.championGenome],
      [this.candidate, this.candidateGenome],
    ] as const) {
      if (c && g && c.generation === who.generation && c.index === who.index) return g;
    }
    throw new Error(`no genome for generation ${who.generation} member ${who.index}`);
  }
}
