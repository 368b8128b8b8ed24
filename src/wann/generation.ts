/**
 * One generation, split where it scales: the serial side handles numbers, the slice side genomes.
 *
 * Coordinator side (serial, tiny: population × a few numbers):
 *   `planGeneration(config, g, objectives of g−1)` ranks generation g−1 (NSGA-II on the pair drawn
 *   from stream(seed, g−1, 'objectives')) and selects, for every member j of generation g, the index
 *   of its parent in generation g−1: members j < elites are the best-ranked genomes copied
 *   unchanged; member j ≥ elites is child c = j − elites, the better of two size-`tournamentSize`
 *   tournaments drawn from stream(seed, g, 'select', c) over the kept (not culled) ranks.
 *   `tell` (tell.ts) turns the slices' reports into the generation's objectives, its
 *   `GenerationRecord` and the next search state (champion and candidate).
 *
 * Slice side (parallel: any subset of members, in any order, on any machine):
 *   `breedMember` builds member j of generation g from its parent alone: generation 0 is
 *   initialGenome(stream(seed, 0, 'init', j)); an elite is an exact copy; a child is its parent with
 *   exactly one mutation operator drawn from stream(seed, g, 'mutate', j). `evaluateMembers` scores
 *   them on the generation's shard (stream(seed, g, 'shard') over `config.trainShards`).
 *
 * Champion (`tell` in tell.ts, with the re-check of `recheckEvery` = N generations; N = 0 is off):
 *   Off: the champion is the best single-batch mean fitness seen so far (a tie keeps the older one,
 *   within a generation the lower index), chosenBy 'batch'. On (the reference's `checkBest` every
 *   `save_mod` generations, here with both genomes on the same batches):
 *   - the run's first champion is the best of the first generation with a finite fitness ('batch');
 *   - after that, a generation's best (by batch mean fitness, lower index on ties) becomes the
 *     *candidate* if its batch fitness beats the champion's reference fitness (its
 *     `recheckedFitness` once it has one, else its batch fitness) and the waiting candidate's batch
 *     fitness (a tie keeps the earlier candidate). Its R2 object / slice stays while it waits;
 *   - generation h is a check generation when h > 0, there is a champion and h % N == 0 or h is the
 *     run's last generation (config.generations − 1: a run's final champion is re-checked; a fork
 *     continues from that state, so it equals a fresh longer run only when the source's last
 *     generation is a multiple of N). Its
 *     re-check is one more unit of generation h's work, sent with h's slices; h completes only when
 *     every slice and the re-check are in. The re-check evaluates the champion and the candidate as
 *     they stood after generation h−1 on `recheckShards(config, h)`: min(recheckBatches,
 *     trainShards) distinct training shards drawn from stream(seed, h, 'recheck'), each shard giving
 *     a genome its mean fitness over the shared weights. The candidate replaces the champion iff its
 *     mean over those shards is strictly higher ('recheck'; "actually better"), else the champion
 *     stays ("just lucky"); either way the winner's `recheckedFitness` is its mean there and the
 *     candidate is cleared. The same unit measures the winner's ensemble accuracy on test shard
 *     `RECHECK_TEST_SHARD` (1,000 images): record h's `testAccuracy` (null on other generations);
 *   - completing generation h applies the re-check first, then weighs generation h's own best.
 *   So a run's champion is a function of the reports, i.e. of config and seed, never of when a
 *   re-check finished. Only the last generation's own best is never checked. Selection never
 *   looks at the champion: the population's trajectory is the same with the re-check on or off.
 *
 * Nothing here needs a counter shared by the population: a new node's id is the genome's node count
 * and a new gene's innovation number is one above the genome's last (see genome.ts), so a member is a
 * pure function of (config, generation, index, parent), and a run's result depends only on its config
 * and seed, never on slice size, evaluator count, retries or restarts.
 */
import { z } from 'zod';
import { stream } from '../random';
import { ensembleAccuracy } from './accuracy';
import { MNIST_ACTIVATIONS } from './activation-ids';
import { breedingSizes, tournament } from './breeding';
import { MNIST_INPUTS, MNIST_OUTPUTS, type SearchConfig } from './config';
import { cloneGenome, enabledCount, type Genome, initialGenome, lastInnovation } from './genome';
import { mutate } from './mutation';
import type { Evaluator } from './network';
import { compile, type Plan } from './network';
import { type CrowdingRule, rankPopulation } from './nsga2';
import type { ObjectivePair } from './record';
import type { Batch, GenomeResult } from './types';

/** What breeding needs of a run's config (a slice task carries exactly this). */
export type BreedingParams = Pick<
  SearchConfig,
  'seed' | 'initEnableProb' | 'probAddConnection' | 'probAddNode' | 'probEnable' | 'probChangeActivation'
> & {
  /** Ablation only (SearchVariant); never set by the platform. */
  keepHiddenSplits?: boolean;
  /**
   * The genome's input and output counts (the run's dataset: its features and classes). Absent
   * means MNIST's 256 and 10, so an MNIST slice task is the same message it always was.
   */
  inputs?: number;
  outputs?: number;
};

/** A genome's input and output node counts. */
export interface GenomeShape {
  inputs: number;
  outputs: number;
}

/** MNIST geometry: what a genome has when breeding params name no shape. */
export const MNIST_SHAPE: GenomeShape = { inputs: MNIST_INPUTS, outputs: MNIST_OUTPUTS };

export const breedingParamsSchema = z.strictObject({
  seed: z.number().int().min(0).max(0xffffffff),
  initEnableProb: z.number().min(0).max(1),
  probAddConnection: z.number().min(0).max(1),
  probAddNode: z.number().min(0).max(1),
  probEnable: z.number().min(0).max(1),
  probChangeActivation: z.number().min(0).max(1),
  /** Ablation only (SearchVariant): add-node leaves a split hidden→hidden connection enabled. */
  keepHiddenSplits: z.boolean().optional(),
  inputs: z.number().int().min(1).max(4096).optional(),
  outputs: z.number().int().min(2).max(256).optional(),
});

/**
 * The breeding params of a config searching genomes of `shape` (its dataset's; default MNIST's).
 * The shape is written only when it is not MNIST's, so MNIST params are unchanged.
 */
export function breedingParams(config: BreedingParams, shape: GenomeShape = MNIST_SHAPE): BreedingParams {
  const { seed, initEnableProb, probAddConnection, probAddNode, probEnable, probChangeActivation } = config;
  const params = { seed, initEnableProb, probAddConnection, probAddNode, probEnable, probChangeActivation };
  if (shape.inputs === MNIST_SHAPE.inputs && shape.outputs === MNIST_SHAPE.outputs) return params;
  return { ...params, inputs: shape.inputs, outputs: shape.outputs };
}

/** The genome shape breeding params produce. */
export function breedingShape(params: BreedingParams): GenomeShape {
  return { inputs: params.inputs ?? MNIST_SHAPE.inputs, outputs: params.outputs ?? MNIST_SHAPE.outputs };
}

/**
 * Departures from the paper's rules, measured by the ablation (bench/ablation.ts, Node only; the
 * platform always runs the defaults, which are the paper's):
 * - `crowding: 'reference'`: the WANN reference's crowding scale (nsga2.ts `CrowdingRule`);
 * - `keepHiddenSplits`: the reference's disabled-gene behaviour as far as it matters for what is
 *   evaluated: there, a connection split by add-node stays active when both its ends are hidden
 *   (its weight matrix keeps it), so here add-node leaves such a connection enabled. (Unlike the
 *   reference, it then counts as a connection and can be split again.)
 */
export interface SearchVariant {
  crowding?: CrowdingRule;
  keepHiddenSplits?: boolean;
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
  variant: SearchVariant = {},
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
  const sorted = rankPopulation([mean, second], variant.crowding).order; // member indices, best first
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
  shape: GenomeShape = breedingShape(params),
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
  const ctx = {
    nextInnovation: lastInnovation(parent) + 1,
    activations: MNIST_ACTIVATIONS,
    keepHiddenSplits: params.keepHiddenSplits === true,
  };
  return mutate(parent, stream(params.seed, gen, 'mutate', index), ctx, params).genome;
}

/**
 * An array of numbers that each pass `ok`, checked in one loop. Zod's per-element schemas (z.array
 * of anything) cost ~9 µs a value inside workerd, where zod may not compile its checks (no `new
 * Function`): a population-960 generation reports ~14,400 values, the largest JS cost in the
 * coordinator's CPU profile, on the path between two generations (README, "A search over HTTP").
 * The first bad value is named by its index, as zod names it.
 */
function numberArray(ok: (v: number) => boolean, expected: string) {
  return z
    .custom<number[]>((v) => Array.isArray(v), { message: 'expected an array' })
    .superRefine((values, ctx) => {
      for (let i = 0; i < values.length; i++) {
        const v: unknown = values[i];
        if (typeof v !== 'number' || !ok(v)) {
          ctx.addIssue({ code: 'custom', path: [i], message: `expected ${expected}, got ${String(v)}` });
          return;
        }
      }
    });
}
const isCount = (min: number) => (v: number) => Number.isSafeInteger(v) && v >= min;
/** A fitness: a finite number, or NaN for a member that failed to evaluate. */
const fitnessArray = () => numberArray((v) => Number.isFinite(v) || Number.isNaN(v), 'a number or NaN');

/**
 * What a slice reports for its members [sliceStart, sliceEnd), member-major: `fitness[i·w + k]` is
 * member sliceStart+i at weight k. `offsets` locates each member inside the slice's stored
 * population blob (member i is bytes [offsets[i], offsets[i+1])), so a breeder of the next
 * generation can read just the parents it needs.
 */
export const sliceReportSchema = z
  .strictObject({
    gen: z.number().int().min(0),
    sliceStart: z.number().int().min(0),
    sliceEnd: z.number().int().min(1),
    weights: z.number().int().min(1).max(16),
    fitness: fitnessArray(),
    accuracy: numberArray((v) => v >= 0 && v <= 1, 'a number in [0, 1]'),
    connections: numberArray(isCount(0), 'an integer ≥ 0'),
    nodes: numberArray(isCount(1), 'an integer ≥ 1'),
    offsets: numberArray(isCount(0), 'an integer ≥ 0'),
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
  const store = (i: number, r: GenomeResult | null) => {
    for (let k = 0; k < w; k++) {
      report.fitness[i * w + k] = r ? r.fitness[k] : Number.NaN;
      report.accuracy[i * w + k] = r ? r.accuracy[k] : 0;
    }
  };
  const plans: Plan[] = [];
  const planned: number[] = [];
  for (let i = 0; i < n; i++) {
    const g = genomes[i];
    report.connections[i] = enabledCount(g);
    report.nodes[i] = g.acts.length;
    try {
      plans.push(compile(g));
      planned.push(i);
    } catch (e) {
      // Deterministic (the same genome fails every time): NaN ranks it last, never champion.
      onError(slice.sliceStart + i, e);
      store(i, null);
    }
  }
  // Together, so the rows members share are evaluated once (bit-identical to one at a time).
  let results: GenomeResult[] | null = null;
  try {
    results = plans.length ? evaluator.evaluateMany(plans, batch, weights) : [];
  } catch {
    // Find who fails (e.g. a batch that does not fit): each member on its own, as above.
  }
  for (let p = 0; p < plans.length; p++) {
    const i = planned[p];
    if (results) {
      store(i, results[p]);
      continue;
    }
    try {
      store(i, evaluator.evaluate(plans[p], batch, weights));
    } catch (e) {
      onError(slice.sliceStart + i, e);
      store(i, null);
    }
  }
  return report;
}

// ---------------------------------------------------------------------------------------------
// The champion re-check (see this file's header)

/** The test subset a re-check measures the winner on: test shard 0 (1,000 images). */
export const RECHECK_TEST_SHARD = 0;

/** A member of some generation. */
export interface MemberAddress {
  generation: number;
  index: number;
}

/** What the re-check of generation `gen` evaluates: numbers and addresses only. */
export interface RecheckSpec {
  gen: number;
  /** Training shards, in evaluation order. */
  shards: number[];
  champion: MemberAddress;
  candidate: MemberAddress | null;
}

/**
 * Whether generation `gen` is one whose completion applies a re-check (if there is a champion):
 * every `recheckEvery`-th generation, and the run's last one (so a run's final champion has been
 * re-checked, unless the run ends on the generation that found it).
 */
export function isRecheckGeneration(
  config: Pick<SearchConfig, 'recheckEvery' | 'generations'>,
  gen: number,
): boolean {
  const every = config.recheckEvery ?? 0;
  return every > 0 && gen > 0 && (gen % every === 0 || gen === config.generations - 1);
}

/** min(recheckBatches, trainShards) distinct training shards from stream(seed, gen, 'recheck'). */
export function recheckShards(
  config: Pick<SearchConfig, 'seed' | 'trainShards' | 'recheckBatches'>,
  gen: number,
): number[] {
  const all = Array.from({ length: config.trainShards }, (_, i) => i);
  const rng = stream(config.seed, gen, 'recheck');
  const n = Math.min(config.recheckBatches, config.trainShards);
  // The first n steps of a Fisher–Yates shuffle: a uniform sample without replacement.
  for (let i = 0; i < n; i++) {
    const j = i + rng.int(all.length - i);
    const t = all[i];
    all[i] = all[j];
    all[j] = t;
  }
  return all.slice(0, n);
}

/**
 * The re-check generation `gen` needs, given the champion and candidate after generation gen−1;
 * null when it needs none (not a check generation, or no champion yet).
 */
export function recheckSpec(
  config: Pick<SearchConfig, 'seed' | 'trainShards' | 'recheckEvery' | 'recheckBatches' | 'generations'>,
  gen: number,
  champion: MemberAddress | null,
  candidate: MemberAddress | null,
): RecheckSpec | null {
  if (!champion || !isRecheckGeneration(config, gen)) return null;
  const address = (m: MemberAddress) => ({ generation: m.generation, index: m.index });
  return {
    gen,
    shards: recheckShards(config, gen),
    champion: address(champion),
    candidate: candidate ? address(candidate) : null,
  };
}

const memberAddressSchema = z.strictObject({
  generation: z.number().int().min(0),
  index: z.number().int().min(0),
});

/**
 * What a re-check reports: per shard of `shards` (in order), each genome's mean fitness over the
 * shared weights (NaN if it failed), and the winner's ensemble accuracy on the test subset.
 */
export const recheckReportSchema = z
  .strictObject({
    gen: z.number().int().min(1),
    shards: z.array(z.number().int().min(0).max(59)).min(1).max(60),
    champion: memberAddressSchema,
    candidate: memberAddressSchema.nullable(),
    championFitness: fitnessArray(),
    candidateFitness: fitnessArray(),
    testAccuracy: z.number().min(0).max(1),
  })
  .superRefine((r, ctx) => {
    const want = (field: string, got: number, n: number) => {
      if (got !== n)
        ctx.addIssue({ code: 'custom', path: [field], message: `expected ${n} values, got ${got}` });
    };
    want('championFitness', r.championFitness.length, r.shards.length);
    want('candidateFitness', r.candidateFitness.length, r.candidate ? r.shards.length : 0);
  });
export type RecheckReport = z.infer<typeof recheckReportSchema>;

/** Why `report` does not answer `spec` (null when it does). */
export function recheckMismatch(spec: RecheckSpec, report: RecheckReport): string | null {
  const same = (a: MemberAddress | null, b: MemberAddress | null) =>
    a === null || b === null ? a === b : a.generation === b.generation && a.index === b.index;
  if (report.gen !== spec.gen) return `is of generation ${report.gen}`;
  if (report.shards.join() !== spec.shards.join())
    return `used shards [${report.shards}], not [${spec.shards}]`;
  if (!same(report.champion, spec.champion)) return 'evaluated another champion';
  if (!same(report.candidate, spec.candidate)) return 'evaluated another candidate';
  return null;
}

function meanOf(values: readonly number[]): number {
  let sum = 0;
  for (const v of values) sum += v;
  return sum / values.length;
}

/**
 * The rule: the candidate wins iff its mean over the re-check shards is finite and strictly above
 * the champion's (or the champion's is not finite).
 */
export function recheckOutcome(
  report: Pick<RecheckReport, 'candidate' | 'championFitness' | 'candidateFitness'>,
): {
  accepted: boolean;
  championFitness: number;
  candidateFitness: number | null;
} {
  const championFitness = meanOf(report.championFitness);
  const candidateFitness = report.candidate ? meanOf(report.candidateFitness) : null;
  const accepted =
    candidateFitness !== null &&
    Number.isFinite(candidateFitness) &&
    (!Number.isFinite(championFitness) || candidateFitness > championFitness);
  return { accepted, championFitness, candidateFitness };
}

/**
 * Run a re-check (evaluator / worker thread side): both genomes on every shard of the spec, the
 * rule, then the winner's ensemble accuracy on `testBatch` (test shard `RECHECK_TEST_SHARD`).
 */
export function evaluateRecheck(
  evaluator: Evaluator,
  spec: RecheckSpec,
  genomes: { champion: Genome; candidate: Genome | null },
  batchForShard: (shard: number) => Batch,
  testBatch: Batch,
  weights: readonly number[],
): RecheckReport {
  if (spec.candidate !== null && genomes.candidate === null)
    throw new RangeError('the re-check has a candidate address but no candidate genome');
  const champion = compileOrNull(genomes.champion);
  const candidate = spec.candidate && genomes.candidate ? compileOrNull(genomes.candidate) : null;
  const championFitness: number[] = [];
  const candidateFitness: number[] = [];
  for (const shard of spec.shards) {
    const batch = batchForShard(shard);
    championFitness.push(
      champion ? meanOf(evaluator.evaluate(champion, batch, weights).fitness) : Number.NaN,
    );
    if (spec.candidate)
      candidateFitness.push(
        candidate ? meanOf(evaluator.evaluate(candidate, batch, weights).fitness) : Number.NaN,
      );
  }
  const accepted = recheckOutcome({ candidate: spec.candidate, championFitness, candidateFitness }).accepted;
  const winner = accepted ? candidate : champion;
  return {
    gen: spec.gen,
    shards: [...spec.shards],
    champion: { ...spec.champion },
    candidate: spec.candidate ? { ...spec.candidate } : null,
    championFitness,
    candidateFitness,
    // A winner that cannot compile (never: both were evaluated before) would classify nothing.
    testAccuracy: winner ? ensembleAccuracy(winner, testBatch, weights, evaluator) : 0,
  };
}

/** A genome that fails to compile scores NaN, as in `evaluateMembers`. */
function compileOrNull(g: Genome): ReturnType<typeof compile> | null {
  try {
    return compile(g);
  } catch {
    return null;
  }
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
