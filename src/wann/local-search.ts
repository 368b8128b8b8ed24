/**
 * The generation contract driven in one thread, with every genome in memory: the reference the
 * distributed drivers (the Durable Object with its evaluators, the Node worker pool) must match
 * generation for generation. Used by the golden trace test and the platform benchmark's replay.
 */
import type { SearchConfig } from './config';
import {
  breedingParams,
  breedMember,
  completeGeneration,
  evaluateMembers,
  type GenerationObjectives,
  generationShard,
  planGeneration,
} from './generation';
import { encodePopulation, type Genome, populationOffsets } from './genome';
import type { Evaluator } from './network';
import type { ChampionRecord, GenerationRecord } from './record';
import type { Batch } from './types';

export class LocalSearch {
  /** The generation `step` evaluates next. */
  generation = 0;
  champion: ChampionRecord | null = null;
  private championGenome: Genome | null = null;
  private population: Genome[] = [];
  private objectives: GenerationObjectives | null = null;

  constructor(
    readonly config: SearchConfig,
    private readonly batchForShard: (shard: number) => Batch,
    private readonly evaluator: Evaluator,
  ) {}

  /** Breed, evaluate and complete one generation; returns its record. */
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
    const done = completeGeneration(gen, this.config, genomes.length, [report], this.champion, 0);
    if (done.champion && done.champion !== this.champion) this.championGenome = genomes[done.champion.index];
    this.champion = done.champion;
    this.objectives = done.objectives;
    this.population = genomes;
    this.generation = gen + 1;
    return done.record;
  }

  /** The best-ever genome (by mean fitness), or null before the first generation. */
  championMember(): Genome | null {
    return this.championGenome;
  }
}
