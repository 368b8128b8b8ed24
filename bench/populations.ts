/**
 * Reproducible benchmark populations with a chosen mean number of enabled connections, made by the
 * search's own mutation operators from seeded streams. Growing 960 genomes to ~2,000 connections
 * one mutation at a time would take minutes, so 48 lineages are grown and each population member
 * is a lineage plus a few more seeded mutations: the same shapes evolution makes, quickly.
 */
import { stream } from '../src/random';
import { MNIST_ACTIVATIONS } from '../src/wann/activation-ids';
import { resolveConfig } from '../src/wann/config';
import {
  breedingParams,
  breedMember,
  type GenerationObjectives,
  planGeneration,
} from '../src/wann/generation';
import { cloneGenome, enabledCount, type Genome, initialGenome } from '../src/wann/genome';
import { addConnection, addNode, changeActivation, type MutationContext } from '../src/wann/mutation';
import { compile, mergePlans } from '../src/wann/network';

export const BENCH_SEED = 1906_04358;
/**
 * Generations `bredPopulation` breeds for the core benchmark. With 4, the 64-member slices of the
 * ~2,000-connection population have ~21 % distinct rows (~30 % at ~500): more than the 9–14 % of a
 * real search's slices (seed 1, generations 50–200: bench/search-sharing.ts), so the shared-rows row is if
 * anything slower than a search would be.
 */
export const BRED_GENERATIONS = 4;
const LINEAGES = 48;

export function benchPopulation(size: number, targetConnections: number): Genome[] {
  const ctx: MutationContext = { nextInnovation: 2571, activations: MNIST_ACTIVATIONS };
  // Initial genomes have 2570 × p enabled genes; below ~130 that alone reaches the target.
  const p = Math.min(0.05, targetConnections / 2570);
  const lineages: Genome[] = [];
  for (let l = 0; l < LINEAGES; l++) {
    const rng = stream(BENCH_SEED, targetConnections, 'lineage', l);
    let g = initialGenome(256, 10, p, rng);
    // One add-node per four add-connections: ~400 hidden nodes at ~2,000 connections, the
    // "hundreds of hidden nodes" of grown MNIST genomes.
    while (enabledCount(g) < targetConnections) {
      g = rng.chance(0.2) ? addNode(g, rng, ctx) : addConnection(g, rng, ctx);
      if (rng.chance(0.5)) g = changeActivation(g, rng, ctx);
    }
    lineages.push(g);
  }
  return Array.from({ length: size }, (_, i) => {
    const rng = stream(BENCH_SEED, targetConnections, 'member', i);
    let g = cloneGenome(lineages[i % LINEAGES]);
    for (let k = 0; k < 3; k++) g = changeActivation(g, rng, ctx);
    return g;
  });
}

export function meanOf(values: readonly number[]): number {
  return values.reduce((a, b) => a + b, 0) / Math.max(1, values.length);
}

/**
 * A population as a generation of a search sees it: `benchPopulation` bred for `generations`
 * generations by the search's own selection and breeding (`planGeneration`: NSGA-II ranking, elites,
 * tournaments; `breedMember`: one mutation per child), ranked on seeded random fitness values (a
 * real search would rank on evaluations, which would make the benchmark take minutes to set up).
 * Children of a few parents share most of their rows, as in a search: `distinctRowFraction`
 * measures how much (bench/core.ts reports it beside a real search's).
 */
export function bredPopulation(size: number, targetConnections: number, generations: number): Genome[] {
  const config = resolveConfig({ population: size }, () => BENCH_SEED);
  const params = breedingParams(config);
  let population = benchPopulation(size, targetConnections);
  for (let gen = 1; gen <= generations; gen++) {
    const rng = stream(BENCH_SEED, gen, 'bench', targetConnections);
    const meanFitness = Float64Array.from(population, () => rng.float());
    const objectives: GenerationObjectives = {
      meanFitness,
      maxFitness: meanFitness,
      connections: Uint32Array.from(population, enabledCount),
    };
    const plan = planGeneration(config, gen, objectives);
    const parents = population;
    population = Array.from({ length: size }, (_, j) =>
      breedMember(params, gen, j, plan.elites, parents[plan.parents[j]]),
    );
  }
  return population;
}

/** Distinct rows of slices of `sliceSize` members (`mergePlans`) over the rows of their plans. */
export function distinctRowFraction(population: readonly Genome[], sliceSize: number): number {
  let distinct = 0;
  let rows = 0;
  for (let s = 0; s < population.length; s += sliceSize) {
    const merged = mergePlans(population.slice(s, s + sliceSize).map(compile), 0, Number.POSITIVE_INFINITY);
    distinct += merged.plan.rows;
    rows += merged.memberRows;
  }
  return distinct / rows;
}
