/**
 * Reproducible benchmark populations with a chosen mean number of enabled connections, made by the
 * search's own mutation operators from seeded streams. Growing 960 genomes to ~2,000 connections
 * one mutation at a time would take minutes, so 48 lineages are grown and each population member
 * is a lineage plus a few more seeded mutations: the same shapes evolution makes, quickly.
 */
import { stream } from '../src/random';
import { MNIST_ACTIVATIONS } from '../src/wann/activation-ids';
import { cloneGenome, enabledCount, type Genome, initialGenome } from '../src/wann/genome';
import { addConnection, addNode, changeActivation, type MutationContext } from '../src/wann/mutation';

export const BENCH_SEED = 1906_04358;
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
