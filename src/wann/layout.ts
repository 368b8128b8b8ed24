/**
 * Drawing layout of a genome, platform-free (the run page draws it as SVG): the layer of every
 * node for a left-to-right picture. Inputs and bias are layer 0; a hidden node sits one layer right
 * of its deepest enabled source (longest path from the inputs), at least at layer 1; all outputs
 * share the last layer, right of every hidden node.
 */

/** The parts of a `wann-genome/1` document the layout reads. */
export interface LayoutGenome {
  nodes: readonly { id: number; kind: 'bias' | 'input' | 'output' | 'hidden' }[];
  conns: readonly { src: number; dst: number; enabled: boolean }[];
}

export interface Layers {
  /** Layer per node id. */
  layer: Map<number, number>;
  /** The outputs' layer (= number of hidden layers + 1). */
  depth: number;
}

export function layerNodes(genome: LayoutGenome): Layers {
  const incoming = new Map<number, number[]>();
  for (const c of genome.conns) {
    if (!c.enabled) continue;
    const list = incoming.get(c.dst);
    if (list) list.push(c.src);
    else incoming.set(c.dst, [c.src]);
  }
  const kind = new Map(genome.nodes.map((n) => [n.id, n.kind]));
  const layer = new Map<number, number>();
  const onPath = new Set<number>();
  // Iterative depth-first search (grown genomes can be deep: no recursion limits).
  const visit = (start: number): number => {
    const stack: number[] = [start];
    while (stack.length) {
      const id = stack[stack.length - 1];
      if (layer.has(id)) {
        stack.pop();
        continue;
      }
      const k = kind.get(id);
      if (k === 'bias' || k === 'input' || k === undefined) {
        layer.set(id, 0);
        stack.pop();
        continue;
      }
      const sources = incoming.get(id) ?? [];
      const pending = sources.filter((s) => !layer.has(s) && !onPath.has(s));
      if (pending.length && !onPath.has(id)) {
        onPath.add(id);
        stack.push(...pending);
        continue;
      }
      // Sources still on the path would be a cycle (genomes are acyclic): they count as layer 0.
      let l = 1;
      for (const s of sources) l = Math.max(l, (layer.get(s) ?? 0) + 1);
      layer.set(id, l);
      onPath.delete(id);
      stack.pop();
    }
    return layer.get(start)!;
  };
  let depth = 1;
  for (const n of genome.nodes) if (n.kind === 'hidden') depth = Math.max(depth, visit(n.id) + 1);
  for (const n of genome.nodes) {
    if (n.kind === 'output') layer.set(n.id, depth);
    else if (n.kind !== 'hidden') layer.set(n.id, 0);
  }
  return { layer, depth };
}
