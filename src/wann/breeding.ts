/**
 * One generation's breeding, as in the reference `recombine` (no speciation, crossover never):
 * sort by rank, cull the worst, copy the elites, fill the rest with mutated clones of tournament
 * winners.
 *
 * Rounding follows the reference exactly, in the same IEEE double arithmetic:
 *   culled = floor(cullRatio · population)          (`int(np.floor(cull_ratio * len(pop)))`)
 *   elites = floor(kept · eliteRatio), kept = population − culled (taken after culling, like the
 *            reference's `len(pop)`), children = population − elites.
 * For 960 / 0.2 / 0.2: 192 culled, 768 kept, 153 elites, 807 children. We additionally always keep
 * at least one genome (the reference would empty the pool at cullRatio 1; the config caps it at 0.9).
 *
 * Child c (0-based among children) draws everything from stream(seed, generation, 'breed', c): first
 * two tournaments of `tournamentSize` indices each, uniform with replacement over the kept pool (in
 * rank order, so the lowest index is the best), the better winner is the parent; then the operator
 * roulette and the operator's own draws. Innovation numbers are handed out in child order.
 */
import { type Rng, stream } from '../random';
import type { SearchConfig } from './config';
import { cloneGenome, type Genome } from './genome';
import { type MutationContext, type MutationOperator, type MutationProbabilities, mutate } from './mutation';

export type BreedingConfig = Pick<SearchConfig, 'seed' | 'cullRatio' | 'eliteRatio' | 'tournamentSize'> &
  MutationProbabilities;

export interface BreedingSizes {
  culled: number;
  kept: number;
  elites: number;
  children: number;
}

export interface BreedingResult {
  /** Next population: the elites in rank order, then the children in child order. */
  population: Genome[];
  /** parents[j] = index (in the input population) of the genome next-population member j came from. */
  parents: Int32Array;
  /** operators[c] = the mutation operator child c received. */
  operators: MutationOperator[];
  /** Innovation counter after breeding (ctx.nextInnovation is advanced too). */
  nextInnovation: number;
}

export function breedingSizes(population: number, cullRatio: number, eliteRatio: number): BreedingSizes {
  const culled = Math.min(population - 1, Math.max(0, Math.floor(cullRatio * population)));
  const kept = population - culled;
  const elites = Math.min(kept, Math.max(0, Math.floor(kept * eliteRatio)));
  return { culled, kept, elites, children: population - elites };
}

/** Indices sorted by rank ascending (ties, which a proper ranking never has, by index). */
export function rankOrder(rank: ArrayLike<number>): Int32Array {
  const idx = Array.from({ length: rank.length }, (_, i) => i);
  idx.sort((a, b) => rank[a] - rank[b] || a - b);
  return Int32Array.from(idx);
}

/** Best (lowest) of `size` uniform draws with replacement from [0, pool). */
export function tournament(rng: Rng, pool: number, size: number): number {
  let best = pool;
  for (let t = 0; t < size; t++) {
    const x = rng.int(pool);
    if (x < best) best = x;
  }
  return best;
}

export function breed(
  population: readonly Genome[],
  rank: ArrayLike<number>,
  config: BreedingConfig,
  generation: number,
  ctx: MutationContext,
): BreedingResult {
  const size = population.length;
  if (size === 0) throw new RangeError('cannot breed an empty population');
  if (rank.length !== size) throw new RangeError(`got ${rank.length} ranks for ${size} genomes`);
  const { kept, elites, children } = breedingSizes(size, config.cullRatio, config.eliteRatio);
  const sorted = rankOrder(rank);

  const next: Genome[] = [];
  const parents = new Int32Array(size);
  for (let e = 0; e < elites; e++) {
    parents[e] = sorted[e];
    next.push(cloneGenome(population[sorted[e]]));
  }
  const operators: MutationOperator[] = [];
  for (let c = 0; c < children; c++) {
    const rng = stream(config.seed, generation, 'breed', c);
    const a = tournament(rng, kept, config.tournamentSize);
    const b = tournament(rng, kept, config.tournamentSize);
    const parent = sorted[Math.min(a, b)];
    const child = mutate(population[parent], rng, ctx, config);
    parents[elites + c] = parent;
    operators.push(child.operator);
    next.push(child.genome);
  }
  return { population: next, parents, operators, nextInnovation: ctx.nextInnovation };
}
