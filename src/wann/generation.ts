/**
 * One generation, split where it scales: the serial side handles numbers, the slice side genomes.
 *
 * Coordinator side (serial, tiny: population × a few numbers):
 *   `planGeneration(config, g, objectives of g−1)` ranks generation g−1 (NSGA-II on the pair drawn
 *   from stream(seed, g−1, 'objectives')) and selects, for every member j of generation g, the index
 *   of its parent in generation g−1: members j < elites are the best-ranked genomes copied
 *   unchanged; member j ≥ elites is child c = j − elites, the better of two size-`tournamentSize`
 *   tournaments drawn from stream(seed, g, 'select', c) over the kept (not culled) ranks.
 *   `completeGeneration` turns the slices' reports into the generation's objectives, its
 *   `GenerationRecord` and the champion.
 *
 * Slice side (parallel: any subset of members, in any order, on any machine):
 *   `breedMember` builds member j of generation g from its parent alone: generation 0 is
 *   initialGenome(stream(seed, 0, 'init', j)); an elite is an exact copy; a child is its parent with
 *   exactly one mutation operator drawn from stream(seed, g, 'mutate', j). `evaluateMembers` scores
 *   them on the generation's shard (stream(seed, g, 'shard') over `config.trainShards`).
 *
 * Nothing here needs a counter shared by the population: a new node's id is the genome's node count
 * and a new gene's innovation number is one above the genome's last (see genome.ts), so a member is a
 * pure function of (config, generation, index, parent), and a run's result depends only on its config
 * and seed, never on slice size, evaluator count, retries or restarts.
 */
import { z } from 'zod';
import { stream } from '../random';
import { MNIST_ACTIVATIONS } from './activation-ids';
import { breedingSizes, tournament } from './breeding';
import { MNIST_INPUTS, MNIST_OUTPUTS, type SearchConfig } from './config';
import { cloneGenome, enabledCount, type Genome, initialGenome, lastInnovation } from './genome';
import { mutate } from './mutation';
import type { Evaluator } from './network';
import { compile } from './network';
import { rankPopulation } from './nsga2';
import { type ChampionRecord, finiteOrNull, type GenerationRecord, type ObjectivePair } from './record';
import type { Batch } from './types';

/** What breeding needs of a run's config (a slice task carries exactly this). */
export type BreedingParams = Pick<
  SearchConfig,
  'seed' | 'initEnableProb' | 'probAddConnection' | 'probAddNode' | 'probEnable' | 'probChangeActivation'
>;

export const breedingParamsSchema = z.strictObject({
  seed: z.number().int().min(0).max(0xffffffff),
  initEnableProb: z.number().min(0).max(1),
  probAddConnection: z.number().min(0).max(1),
  probAddNode: z.number().min(0).max(1),
  probEnable: z.number().min(0).max(1),
  probChangeActivation: z.number().min(0).max(1),
});

export function breedingParams(config: BreedingParams): BreedingParams {
  const { seed, initEnableProb, probAddConnection, probAddNode, probEnable, probChangeActivation } = config;
  return { seed, initEnableProb, probAddConnection, probAddNode, probEnable, probChangeActivation };
}

/** The training shard generation g is evaluated on: one seeded draw per generation. */
export function generationShard(config: Pick<SearchConfig, 'seed' | 'trainShards'>, gen: number): number {
  return stream(config.seed, gen, 'shard').int(config.trainShards);
}

// ---------------------------------------------------------------------------------------------
// Coordinator side

/** The numbers a generation's ranking needs, one entry per member. */
export interface GenerationObjectives {
  /** Mean fitness over the shared weights (NaN for a failed evaluation). */
  meanFitness: Float64Array;
  /** Max fitness over the shared weights (NaN for a failed evaluation). */
  maxFitness: Float64Array;
  /** Enabled connections. */
  connections: Uint32Array;
}

/** Which parent each member of generation `gen` comes from (generation 0 has none). */
export interface GenerationPlan {
  gen: number;
  /** Members [0, elites) are copies of their parents; the rest are mutated children. */
  elites: number;
  /** parents[j] = index in generation gen−1 of member j's parent; empty for generation 0. */
  parents: Int32Array;
  /** The pair generation gen−1 was ranked on (null for generation 0). */
  rankedOn: ObjectivePair | null;
}

/** The objective pair generation `gen` is ranked on: [mean, 1/connections] with probability p. */
export function objectivePair(config: Pick<SearchConfig, 'seed' | 'probConnectionObjective'>, gen: number) {
  const useConnections = stream(config.seed, gen, 'objectives').chance(config.probConnectionObjective);
  return (useConnections ? 'mean+connections' : 'mean+max') as ObjectivePair;
}

/**
 * Rank generation gen−1 and select every member's parent for generation `gen`. A genome whose mean
 * fitness is not finite (a failed evaluation) gets −Infinity in every objective, so it ranks last.
 */
export function planGeneration(
  config: SearchConfig,
  gen: number,
  previous: GenerationObjectives | null,
): GenerationPlan {
  if (gen === 0 || previous === null) {
    if (gen !== 0) throw new RangeError(`generation ${gen} needs the objectives of generation ${gen - 1}`);
    return { gen: 0, elites: 0, parents: new Int32Array(0), rankedOn: null };
  }
  const size = previous.meanFitness.length;
  if (size === 0) throw new RangeError('cannot select from an empty generation');
  const mean = new Float64Array(size);
  const second = new Float64Array(size);
  const pair = objectivePair(config, gen - 1);
  for (let i = 0; i < size; i++) {
    const m = previous.meanFitness[i];
    if (Number.isFinite(m)) {
      mean[i] = m;
      second[i] =
        pair === 'mean+connections' ? 1 / Math.max(1, previous.connections[i]) : previous.maxFitness[i];
    } else {
      mean[i] = second[i] = Number.NEGATIVE_INFINITY;
    }
  }
  if (size !== config.population) {
    throw new RangeError(`generation ${gen - 1} has ${size} members, the config says ${config.population}`);
  }
  const sorted = rankPopulation([mean, second]).order; // member indices, best first
  const { kept, elites, children } = breedingSizes(size, config.cullRatio, config.eliteRatio);
  const parents = new Int32Array(size);
  for (let e = 0; e < elites; e++) parents[e] = sorted[e];
  for (let c = 0; c < children; c++) {
    const rng = stream(config.seed, gen, 'select', c);
    const a = tournament(rng, kept, config.tournamentSize);
    const b = tournament(rng, kept, config.tournamentSize);
    parents[elites + c] = sorted[Math.min(a, b)];
  }
  return { gen, elites, parents, rankedOn: pair };
}

// ---------------------------------------------------------------------------------------------
// Slice side

const MNIST_SHAPE = { inputs: MNIST_INPUTS, outputs: MNIST_OUTPUTS };

/**
 * Member `index` of generation `gen`: built from its parent alone (null for generation 0). The
 * returned genome is new; the parent is not modified.
 */
export function breedMember(
  params: BreedingParams,
  gen: number,
  index: number,
  elites: number,
  parent: Genome | null,
  shape: { inputs: number; outputs: number } = MNIST_SHAPE,
): Genome {
  if (gen === 0) {
    return initialGenome(
      shape.inputs,
      shape.outputs,
      params.initEnableProb,
      stream(params.seed, 0, 'init', index),
    );
  }
  if (!parent) throw new RangeError(`member ${index} of generation ${gen} needs its parent`);
  if (index < elites) return cloneGenome(parent);
  const ctx = { nextInnovation: lastInnovation(parent) + 1, activations: MNIST_ACTIVATIONS };
  return mutate(parent, stream(params.seed, gen, 'mutate', index), ctx, params).genome;
}

/**
 * What a slice reports for its members [sliceStart, sliceEnd), member-major: `fitness[i·w + k]` is
 * member sliceStart+i at weight k. `offsets` locates each member inside the slice's stored
 * population blob (member i is bytes [offsets[i], offsets[i+1])), so a breeder of the next
 * generation can read just the parents it needs.
 */
const fitnessValue = z.union([z.number(), z.nan()]);
export const sliceReportSchema = z
  .strictObject({
    gen: z.number().int().min(0),
    sliceStart: z.number().int().min(0),
    sliceEnd: z.number().int().min(1),
    weights: z.number().int().min(1).max(16),
    fitness: z.array(fitnessValue),
    accuracy: z.array(z.number().min(0).max(1)),
    connections: z.array(z.number().int().min(0)),
    nodes: z.array(z.number().int().min(1)),
    offsets: z.array(z.number().int().min(0)),
  })
  .superRefine((r, ctx) => {
    const n = r.sliceEnd - r.sliceStart;
    const expect = (field: string, got: number, want: number) => {
      if (got !== want)
        ctx.addIssue({ code: 'custom', path: [field], message: `expected ${want} values, got ${got}` });
    };
    if (n < 1)
      ctx.addIssue({ code: 'custom', path: ['sliceEnd'], message: 'sliceEnd must exceed sliceStart' });
    expect('fitness', r.fitness.length, n * r.weights);
    expect('accuracy', r.accuracy.length, n * r.weights);
    expect('connections', r.connections.length, n);
    expect('nodes', r.nodes.length, n);
    expect('offsets', r.offsets.length, n + 1);
    for (let i = 1; i < r.offsets.length; i++) {
      if (r.offsets[i] <= r.offsets[i - 1]) {
        ctx.addIssue({ code: 'custom', path: ['offsets', i], message: 'offsets must increase' });
        break;
      }
    }
  });
export type SliceReport = z.infer<typeof sliceReportSchema>;

/** Compile and evaluate members at every weight; a genome that fails to compile scores NaN. */
export function evaluateMembers(
  evaluator: Evaluator,
  genomes: readonly Genome[],
  batch: Batch,
  weights: readonly number[],
  slice: { gen: number; sliceStart: number },
  offsets: ArrayLike<number>,
  onError: (index: number, error: unknown) => void = () => {},
): SliceReport {
  const w = weights.length;
  const n = genomes.length;
  const report: SliceReport = {
    gen: slice.gen,
    sliceStart: slice.sliceStart,
    sliceEnd: slice.sliceStart + n,
    weights: w,
    fitness: new Array<number>(n * w),
    accuracy: new Array<number>(n * w),
    connections: new Array<number>(n),
    nodes: new Array<number>(n),
    offsets: Array.from(offsets),
  };
  for (let i = 0; i < n; i++) {
    const g = genomes[i];
    report.connections[i] = enabledCount(g);
    report.nodes[i] = g.acts.length;
    try {
      const r = evaluator.evaluate(compile(g), batch, weights);
      for (let k = 0; k < w; k++) {
        report.fitness[i * w + k] = r.fitness[k];
        report.accuracy[i * w + k] = r.accuracy[k];
      }
    } catch (e) {
      // Deterministic (the same genome fails every time): NaN ranks it last, never champion.
      onError(slice.sliceStart + i, e);
      for (let k = 0; k < w; k++) {
        report.fitness[i * w + k] = Number.NaN;
        report.accuracy[i * w + k] = 0;
      }
    }
  }
  return report;
}

// ---------------------------------------------------------------------------------------------
// Completing a generation (coordinator side)

export interface CompletedGeneration {
  objectives: GenerationObjectives;
  record: GenerationRecord;
  champion: ChampionRecord | null;
}

/**
 * Every slice is in: the generation's objectives, statistics and champion. `reports` must cover
 * [0, population) exactly (any order). The champion is the best mean fitness seen so far; a tie
 * keeps the older champion, and within a generation the lower index.
 */
export function completeGeneration(
  gen: number,
  config: Pick<SearchConfig, 'seed' | 'probConnectionObjective' | 'trainShards'>,
  population: number,
  reports: readonly SliceReport[],
  previousChampion: ChampionRecord | null,
  durationMs: number,
): CompletedGeneration {
  const meanFitness = new Float64Array(population);
  const maxFitness = new Float64Array(population);
  const connections = new Uint32Array(population);
  const seen = new Uint8Array(population);
  let nodes = 0;
  let w = 0;
  for (const r of reports) {
    if (r.gen !== gen) throw new RangeError(`report of generation ${r.gen} in generation ${gen}`);
    w = r.weights;
    for (let i = 0; i < r.sliceEnd - r.sliceStart; i++) {
      const j = r.sliceStart + i;
      if (j >= population || seen[j]) throw new RangeError(`member ${j} reported twice or out of range`);
      seen[j] = 1;
      let sum = 0;
      let max = Number.NEGATIVE_INFINITY;
      for (let k = 0; k < r.weights; k++) {
        const f = r.fitness[i * r.weights + k];
        sum += f;
        if (f > max) max = f;
      }
      meanFitness[j] = sum / r.weights;
      maxFitness[j] = Number.isFinite(meanFitness[j]) ? max : Number.NaN;
      connections[j] = r.connections[i];
      nodes += r.nodes[i];
    }
  }
  for (let j = 0; j < population; j++) if (!seen[j]) throw new RangeError(`member ${j} has no report`);

  let best = -1;
  const finite: number[] = [];
  let connectionSum = 0;
  for (let j = 0; j < population; j++) {
    connectionSum += connections[j];
    const m = meanFitness[j];
    if (!Number.isFinite(m)) continue;
    finite.push(m);
    if (best < 0 || m > meanFitness[best]) best = j;
  }
  const sorted = Float64Array.from(finite).sort();
  const valid = sorted.length;
  let sum = 0;
  for (let i = 0; i < valid; i++) sum += sorted[i];

  const bestAccuracy = best >= 0 ? memberAccuracy(reports, best, w) : [];
  let champion = previousChampion;
  if (best >= 0 && (champion === null || meanFitness[best] > champion.fitness)) {
    champion = {
      generation: gen,
      index: best,
      fitness: meanFitness[best],
      accuracy: bestAccuracy,
      connections: connections[best],
    };
  }
  const record: GenerationRecord = {
    gen,
    objectives: objectivePair(config, gen),
    shard: generationShard(config, gen),
    fitnessMean: valid ? finiteOrNull(sum / valid) : null,
    fitnessMedian: valid
      ? valid % 2
        ? sorted[valid >> 1]
        : (sorted[(valid >> 1) - 1] + sorted[valid >> 1]) / 2
      : null,
    fitnessMax: valid ? sorted[valid - 1] : null,
    bestEverFitness: champion ? champion.fitness : null,
    championAccuracy: best >= 0 ? bestAccuracy.reduce((a, b) => a + b, 0) / bestAccuracy.length : null,
    championConnections: best >= 0 ? connections[best] : null,
    meanConnections: connectionSum / population,
    meanNodes: nodes / population,
    evaluations: population,
    durationMs: Math.max(0, Math.round(durationMs)),
    champion,
  };
  return { objectives: { meanFitness, maxFitness, connections }, record, champion };
}

function memberAccuracy(reports: readonly SliceReport[], j: number, w: number): number[] {
  for (const r of reports) {
    if (j >= r.sliceStart && j < r.sliceEnd) {
      const i = j - r.sliceStart;
      return r.accuracy.slice(i * w, i * w + w);
    }
  }
  return [];
}

// ---------------------------------------------------------------------------------------------
// Objectives in compact form (Durable Object storage, fork hand-over)

/** [meanFitness…, maxFitness…, connections…] as one Float64Array (NaN survives, unlike JSON). */
export function packObjectives(o: GenerationObjectives): Float64Array {
  const n = o.meanFitness.length;
  const out = new Float64Array(3 * n);
  out.set(o.meanFitness, 0);
  out.set(o.maxFitness, n);
  for (let i = 0; i < n; i++) out[2 * n + i] = o.connections[i];
  return out;
}

export function unpackObjectives(packed: Float64Array): GenerationObjectives {
  if (packed.length % 3 !== 0) throw new RangeError(`packed objectives of length ${packed.length}`);
  const n = packed.length / 3;
  return {
    meanFitness: packed.slice(0, n),
    maxFitness: packed.slice(n, 2 * n),
    connections: Uint32Array.from(packed.subarray(2 * n)),
  };
}
