/**
 * The four WANN topology mutations, as pure functions: each takes a genome and returns a NEW genome
 * (the input is never modified), or an unchanged clone when there is nothing valid to act on.
 *
 * Acyclicity of the ENABLED graph is an invariant every operator keeps, which is all evaluation needs
 * (disabled genes are inert). Why each operator keeps it, given an acyclic genome whose outputs have
 * no outgoing enabled connections (true from `initialGenome` on, since no operator ever makes an
 * output a source):
 * - addNode splits an enabled u→v into u→new→v. A cycle through `new` would need a path v→…→u that
 *   already existed beside u→v, i.e. an older cycle.
 * - addConnection only connects a node to one in a strictly higher layer, where layers are a
 *   longest-path layering of the enabled graph (inputs 0, hidden ≥ 1, outputs above all hidden):
 *   every enabled edge, the new one included, goes strictly upward, so no cycle can exist.
 * - enableConnection re-checks each candidate u→v: it is skipped when v already reaches u over
 *   enabled edges (or when u is an output). The layering above ignores disabled genes, so a disabled
 *   gene may point "downward"; this check is what stops it from closing a cycle later.
 * - changeActivation does not touch connections.
 */
import type { Rng } from '../random';
import type { SearchConfig } from './config';
import { firstHidden, type Genome } from './genome';

export type MutationOperator = 'addConnection' | 'addNode' | 'enableConnection' | 'changeActivation';

/** Roulette order, as in the reference: add connection, add node, enable, change activation. */
export const MUTATION_OPERATORS: readonly MutationOperator[] = [
  'addConnection',
  'addNode',
  'enableConnection',
  'changeActivation',
];

export interface MutationContext {
  /**
   * Next unused innovation number; advanced as operators assign innovations. Breeding sets it to one
   * above the parent's last innovation (genome.ts: innovations are per genome, no run counter).
   */
  nextInnovation: number;
  /** Activation ids a new or changed hidden node may take (MNIST_ACTIVATIONS for MNIST). */
  readonly activations: readonly number[];
  /**
   * Ablation only (generation.ts `SearchVariant`): add-node leaves the split connection enabled
   * when both its ends are hidden nodes, as the reference's evaluation effectively does.
   */
  readonly keepHiddenSplits?: boolean;
}

export type MutationProbabilities = Pick<
  SearchConfig,
  'probAddConnection' | 'probAddNode' | 'probEnable' | 'probChangeActivation'
>;

export interface Mutation {
  genome: Genome;
  operator: MutationOperator;
  /** False when the operator had nothing valid to act on and `genome` is an unchanged clone. */
  changed: boolean;
}

// ---------------------------------------------------------------------------------------------
// Helpers

function cloneWithRoom(g: Genome, extraNodes: number, extraConns: number): Genome {
  const n = g.innov.length;
  const out: Genome = {
    inputs: g.inputs,
    outputs: g.outputs,
    acts: new Uint8Array(g.acts.length + extraNodes),
    innov: new Int32Array(n + extraConns),
    src: new Int32Array(n + extraConns),
    dst: new Int32Array(n + extraConns),
    enabled: new Uint8Array(n + extraConns),
  };
  out.acts.set(g.acts);
  out.innov.set(g.innov);
  out.src.set(g.src);
  out.dst.set(g.dst);
  out.enabled.set(g.enabled);
  return out;
}

function cloneGenomeArrays(g: Genome): Genome {
  return cloneWithRoom(g, 0, 0);
}

/** Innovations increase along a genome: a counter at or below a gene already present is a bug. */
function assertInnovationAhead(g: Genome, ctx: MutationContext): void {
  const last = g.innov.length > 0 ? g.innov[g.innov.length - 1] : 0;
  if (!Number.isInteger(ctx.nextInnovation) || ctx.nextInnovation <= last) {
    throw new RangeError(
      `innovation counter ${ctx.nextInnovation} is not above the genome's last innovation ${last}`,
    );
  }
}

function assertActivations(ctx: MutationContext): void {
  if (ctx.activations.length === 0) throw new RangeError('no allowed activations for hidden nodes');
}

/**
 * Layer of every node id: 0 for bias and inputs; for hidden nodes 1 + the longest path reaching them
 * over ENABLED hidden→hidden connections; outputs one above the deepest hidden layer (1 without
 * hidden nodes). Throws if the enabled hidden graph has a cycle or an output has an enabled outgoing
 * connection: neither can come out of these operators, so either means a corrupt genome.
 */
export function nodeLayers(g: Genome): Int32Array {
  const n = g.acts.length;
  const h0 = firstHidden(g);
  const nIn = g.inputs + 1;
  const m = g.innov.length;
  const layer = new Int32Array(n);
  // CSR adjacency of enabled hidden→hidden edges (typed arrays, no per-edge objects).
  const start = new Int32Array(n + 1);
  const indeg = new Int32Array(n);
  for (let i = 0; i < m; i++) {
    if (!g.enabled[i]) continue;
    const s = g.src[i];
    const d = g.dst[i];
    if (s >= nIn && s < h0) throw new Error(`genome has an enabled connection out of output node ${s}`);
    if (s >= h0 && d >= h0) {
      start[s + 1]++;
      indeg[d]++;
    }
  }
  for (let i = 0; i < n; i++) start[i + 1] += start[i];
  const adj = new Int32Array(start[n]);
  const fill = start.slice(0, n);
  for (let i = 0; i < m; i++) {
    if (g.enabled[i] && g.src[i] >= h0 && g.dst[i] >= h0) adj[fill[g.src[i]]++] = g.dst[i];
  }
  // Kahn's algorithm; a node's layer is final once all its hidden predecessors are processed.
  const queue = new Int32Array(n - h0);
  let head = 0;
  let tail = 0;
  for (let v = h0; v < n; v++) {
    layer[v] = 1;
    if (indeg[v] === 0) queue[tail++] = v;
  }
  let deepest = 0;
  while (head < tail) {
    const u = queue[head++];
    if (layer[u] > deepest) deepest = layer[u];
    for (let k = start[u]; k < start[u + 1]; k++) {
      const v = adj[k];
      if (layer[u] + 1 > layer[v]) layer[v] = layer[u] + 1;
      if (--indeg[v] === 0) queue[tail++] = v;
    }
  }
  if (tail !== n - h0) throw new Error('genome has a cycle among enabled connections');
  for (let o = nIn; o < h0; o++) layer[o] = deepest + 1;
  return layer;
}

// ---------------------------------------------------------------------------------------------
// Operators (internal forms return null when there is nothing valid to do)

function tryAddNode(g: Genome, rng: Rng, ctx: MutationContext): Genome | null {
  assertInnovationAhead(g, ctx);
  assertActivations(ctx);
  const m = g.innov.length;
  let enabledTotal = 0;
  for (let i = 0; i < m; i++) enabledTotal += g.enabled[i];
  if (enabledTotal === 0) return null;
  let k = rng.int(enabledTotal);
  let split = -1;
  for (let i = 0; i < m; i++) {
    if (g.enabled[i] && k-- === 0) {
      split = i;
      break;
    }
  }
  const act = ctx.activations[rng.int(ctx.activations.length)];
  const id = g.acts.length;
  const out = cloneWithRoom(g, 1, 2);
  out.acts[id] = act;
  const h0 = firstHidden(g);
  out.enabled[split] = ctx.keepHiddenSplits && g.src[split] >= h0 && g.dst[split] >= h0 ? 1 : 0;
  // src→new first, then new→dst: two fresh innovations, appended so the arrays stay sorted.
  out.innov[m] = ctx.nextInnovation++;
  out.src[m] = g.src[split];
  out.dst[m] = id;
  out.enabled[m] = 1;
  out.innov[m + 1] = ctx.nextInnovation++;
  out.src[m + 1] = id;
  out.dst[m + 1] = g.dst[split];
  out.enabled[m + 1] = 1;
  return out;
}

/**
 * The source is uniform over the nodes that have at least one valid destination, the destination
 * uniform over that source's valid ones: the same distribution as the reference (it walks sources in
 * random order and takes the first with a valid destination), in O(nodes + connections).
 */
function tryAddConnection(g: Genome, rng: Rng, ctx: MutationContext): Genome | null {
  assertInnovationAhead(g, ctx);
  const n = g.acts.length;
  const m = g.innov.length;
  const nIn = g.inputs + 1;
  const h0 = firstHidden(g);
  const layer = nodeLayers(g);
  const top = layer[nIn]; // the output layer is the highest
  // above[L] = number of possible destinations (non-input nodes) in a layer strictly above L.
  const perLayer = new Int32Array(top + 2);
  for (let v = nIn; v < n; v++) perLayer[layer[v]]++;
  const above = new Int32Array(top + 2);
  for (let l = top - 1; l >= 0; l--) above[l] = above[l + 1] + perLayer[l + 1];
  // Existing genes (enabled or not) pointing upward from each source; genomes have no duplicate
  // src→dst, so this counts distinct targets.
  const existing = new Int32Array(n);
  for (let i = 0; i < m; i++) {
    if (layer[g.dst[i]] > layer[g.src[i]]) existing[g.src[i]]++;
  }
  const free = (s: number): number => above[layer[s]] - existing[s];
  const isSource = (s: number): boolean => (s < nIn || s >= h0) && free(s) > 0; // never an output
  let sources = 0;
  for (let s = 0; s < n; s++) if (isSource(s)) sources++;
  if (sources === 0) return null;

  let k = rng.int(sources);
  let source = -1;
  for (let s = 0; s < n; s++) {
    if (isSource(s) && k-- === 0) {
      source = s;
      break;
    }
  }
  const taken = new Uint8Array(n);
  for (let i = 0; i < m; i++) if (g.src[i] === source) taken[g.dst[i]] = 1;
  const sourceLayer = layer[source];
  k = rng.int(free(source));
  let target = -1;
  for (let v = nIn; v < n; v++) {
    if (layer[v] > sourceLayer && !taken[v] && k-- === 0) {
      target = v;
      break;
    }
  }
  if (target < 0) throw new Error('genome has duplicate connections (destination count mismatch)');
  const out = cloneWithRoom(g, 0, 1);
  out.innov[m] = ctx.nextInnovation++;
  out.src[m] = source;
  out.dst[m] = target;
  out.enabled[m] = 1;
  return out;
}

/**
 * Uniform over the disabled genes that can be enabled without closing a cycle: candidates are drawn
 * without replacement until one passes, so a failing one costs a draw but never biases the choice.
 * Only hidden→hidden genes need the reachability search; nothing enters bias/inputs and outputs are
 * sinks, so genes from an input or into an output are always safe.
 */
function tryEnableConnection(g: Genome, rng: Rng, _ctx: MutationContext): Genome | null {
  const m = g.innov.length;
  const n = g.acts.length;
  const nIn = g.inputs + 1;
  const h0 = firstHidden(g);
  let count = 0;
  for (let i = 0; i < m; i++) if (!g.enabled[i]) count++;
  if (count === 0) return null;
  const candidates = new Int32Array(count);
  for (let i = 0, j = 0; i < m; i++) if (!g.enabled[i]) candidates[j++] = i;

  // Built on the first hidden→hidden candidate only.
  let start: Int32Array | null = null;
  let adj: Int32Array | null = null;
  let seen: Int32Array | null = null;
  let stack: Int32Array | null = null;
  let epoch = 0;
  const reaches = (from: number, to: number): boolean => {
    if (!start || !adj || !seen || !stack) {
      start = new Int32Array(n + 1);
      for (let i = 0; i < m; i++) if (g.enabled[i] && g.src[i] >= h0 && g.dst[i] >= h0) start[g.src[i] + 1]++;
      for (let i = 0; i < n; i++) start[i + 1] += start[i];
      adj = new Int32Array(start[n]);
      const fill = start.slice(0, n);
      for (let i = 0; i < m; i++) {
        if (g.enabled[i] && g.src[i] >= h0 && g.dst[i] >= h0) adj[fill[g.src[i]]++] = g.dst[i];
      }
      seen = new Int32Array(n);
      stack = new Int32Array(n);
    }
    epoch++;
    let sp = 0;
    stack[sp++] = from;
    seen[from] = epoch;
    while (sp > 0) {
      const u = stack[--sp];
      if (u === to) return true;
      for (let k = start[u]; k < start[u + 1]; k++) {
        const v = adj[k];
        if (seen[v] !== epoch) {
          seen[v] = epoch;
          stack[sp++] = v;
        }
      }
    }
    return false;
  };
  const safe = (i: number): boolean => {
    const s = g.src[i];
    const d = g.dst[i];
    if (s === d) return false;
    if (s >= nIn && s < h0) return false; // outputs must stay sinks
    if (s < nIn || d < h0) return true;
    return !reaches(d, s);
  };

  let left = count;
  while (left > 0) {
    const j = rng.int(left);
    const c = candidates[j];
    if (safe(c)) {
      const out = cloneGenomeArrays(g);
      out.enabled[c] = 1;
      return out;
    }
    candidates[j] = candidates[--left];
  }
  return null;
}

function tryChangeActivation(g: Genome, rng: Rng, ctx: MutationContext): Genome | null {
  const h0 = firstHidden(g);
  const hidden = g.acts.length - h0;
  if (hidden === 0) return null;
  const node = h0 + rng.int(hidden);
  const current = g.acts[node];
  const pool = ctx.activations.filter((a) => a !== current);
  if (pool.length === 0) return null;
  const out = cloneGenomeArrays(g);
  out.acts[node] = pool[rng.int(pool.length)];
  return out;
}

const OPERATORS: Record<MutationOperator, (g: Genome, rng: Rng, ctx: MutationContext) => Genome | null> = {
  addConnection: tryAddConnection,
  addNode: tryAddNode,
  enableConnection: tryEnableConnection,
  changeActivation: tryChangeActivation,
};

// ---------------------------------------------------------------------------------------------
// Public API

/**
 * Split a uniformly chosen enabled connection u→v: disable it, add hidden node `new` (id = node
 * count, activation uniform from ctx.activations) and enabled u→new, new→v with two new innovations.
 */
export function addNode(genome: Genome, rng: Rng, ctx: MutationContext): Genome {
  return tryAddNode(genome, rng, ctx) ?? cloneGenomeArrays(genome);
}

/** Add one enabled connection from a bias/input/hidden node to a node in a strictly higher layer. */
export function addConnection(genome: Genome, rng: Rng, ctx: MutationContext): Genome {
  return tryAddConnection(genome, rng, ctx) ?? cloneGenomeArrays(genome);
}

/** Enable one uniformly chosen disabled connection among those that would not close a cycle. */
export function enableConnection(genome: Genome, rng: Rng, ctx: MutationContext): Genome {
  return tryEnableConnection(genome, rng, ctx) ?? cloneGenomeArrays(genome);
}

/** Give a uniformly chosen hidden node a different allowed activation (uniform among the others). */
export function changeActivation(genome: Genome, rng: Rng, ctx: MutationContext): Genome {
  return tryChangeActivation(genome, rng, ctx) ?? cloneGenomeArrays(genome);
}

/** One roulette spin over the four probabilities (normalised by their sum), reference order. */
export function chooseOperator(rng: Rng, p: MutationProbabilities): MutationOperator {
  const weights = [p.probAddConnection, p.probAddNode, p.probEnable, p.probChangeActivation];
  let total = 0;
  for (const w of weights) {
    if (!(w >= 0)) throw new RangeError(`mutation probabilities must be ≥ 0, got ${w}`);
    total += w;
  }
  if (!(total > 0)) throw new RangeError('at least one mutation probability must be positive');
  const spin = rng.float() * total;
  let acc = 0;
  let last = 0;
  for (let i = 0; i < weights.length; i++) {
    if (weights[i] === 0) continue;
    last = i;
    acc += weights[i];
    if (spin < acc) return MUTATION_OPERATORS[i];
  }
  return MUTATION_OPERATORS[last]; // only reachable through float rounding of the sum
}

/** Apply exactly one operator, chosen by the configured probabilities. */
export function mutate(
  genome: Genome,
  rng: Rng,
  ctx: MutationContext,
  config: MutationProbabilities,
): Mutation {
  const operator = chooseOperator(rng, config);
  const result = OPERATORS[operator](genome, rng, ctx);
  return result
    ? { genome: result, operator, changed: true }
    : { genome: cloneGenomeArrays(genome), operator, changed: false };
}
