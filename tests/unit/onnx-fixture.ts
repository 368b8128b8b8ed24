/** A grown MNIST genome for the ONNX tests: hidden nodes of every MNIST activation, several levels. */
import { type Rng, stream } from '../../src/random';
import { MNIST_ACTIVATIONS } from '../../src/wann/activation-ids';
import { firstHidden, type Genome, initialGenome, initialInnovations } from '../../src/wann/genome';
import { addConnection, addNode, changeActivation, type MutationContext } from '../../src/wann/mutation';

/**
 * Deterministic: seeded mutations (add node, add connection, change activation) until the genome
 * has ≥ `minHidden` hidden nodes and uses every one of `activations`.
 */
export function grownGenome(
  seed = 7,
  minHidden = 40,
  activations: readonly number[] = MNIST_ACTIVATIONS,
): Genome {
  const rng: Rng = stream(seed, 0, 'init', 0);
  let g = initialGenome(256, 10, 0.3, rng);
  const ctx: MutationContext = { nextInnovation: initialInnovations(256, 10) + 1, activations };
  const covered = () => {
    const seen = new Set<number>();
    for (let id = firstHidden(g); id < g.acts.length; id++) seen.add(g.acts[id]);
    return activations.every((a) => seen.has(a));
  };
  for (let i = 0; i < 5000 && (g.acts.length - firstHidden(g) < minHidden || !covered()); i++) {
    const r = rng.float();
    if (r < 0.35) g = addNode(g, rng, ctx);
    else if (r < 0.85) g = addConnection(g, rng, ctx);
    else g = changeActivation(g, rng, ctx);
  }
  return g;
}
