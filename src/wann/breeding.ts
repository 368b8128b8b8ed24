/**
 * Selection arithmetic shared by `planGeneration` (generation.ts), as in the reference `recombine`
 * (no speciation, crossover never): sort by rank, cull the worst, copy the elites, fill the rest with
 * mutated clones of tournament winners.
 *
 * Rounding follows the reference exactly, in the same IEEE double arithmetic:
 *   culled = floor(cullRatio · population)          (`int(np.floor(cull_ratio * len(pop)))`)
 *   elites = floor(kept · eliteRatio), kept = population − culled (taken after culling, like the
 *            reference's `len(pop)`), children = population − elites.
 * For 960 / 0.2 / 0.2: 192 culled, 768 kept, 153 elites, 807 children. We additionally always keep
 * at least one genome (the reference would empty the pool at cullRatio 1; the config caps it at 0.9).
 */
import type { Rng } from '../random';

export interface BreedingSizes {
  culled: number;
  kept: number;
  elites: number;
  children: number;
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
