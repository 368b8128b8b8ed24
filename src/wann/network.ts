/**
 * Evaluating a genome: compile it once into a `Plan`, then run the plan on a batch at every shared
 * weight with an `Evaluator` (reusable scratch memory).
 *
 * Semantics (WANN.md): with shared weight w, node value = act(w · Σ enabled incoming sources), the
 * bias outputs 1, an input outputs its pixel value, an empty sum is 0 (so a hidden node with no
 * enabled input outputs act(0), e.g. gaussian(0) = cos(0) = 1). Outputs have activations too.
 * Classification is softmax over the outputs (row max subtracted first). Fitness per weight is
 * −mean cross-entropy with the label's probability clamped to ≥ 1e-12, so fitness ∈ [−27.631…, 0]
 * (MIN_FITNESS = ln 1e-12); accuracy is argmax == label with ties going to the lowest index.
 *
 * Where the time goes, and what this does about it (see DESIGN.md "Where evaluation time goes"):
 * - The part of each node's sum that comes from the bias and inputs does not depend on w: it is
 *   computed once per batch ("input sums") and shared by all weights.
 * - Nodes that cannot reach an output are dropped at compile time; the rest are "rows" in
 *   topological order with CSR source lists, so the cost is ∝ enabled connections.
 * - Values live batch-major (row × example) in one Float64Array allocated once and reused, a tile
 *   of examples at a time (bounded memory for 10,000-image test sets, rows that stay in cache).
 *   The JS path is Float64 (JS arithmetic is double anyway); the kernel's search numerics are
 *   Float32 (below).
 * - Weight mirroring: the shared weights come in pairs ±w. A row whose hidden sources are all even
 *   (value at −w = value at w) has pre(−w) = −pre(w), so its value at −w is ± its value at w when
 *   its activation is even/odd, or follows from a cheap identity (sigmoid, relu, step). Those rows
 *   are computed once per pair; and when every output is odd, the softmax at −w reuses the exps.
 * - Activations and the softmax's exp are the fast polynomial versions of `activations.ts`; rows
 *   with two pre-activation terms are summed inside the activation loop.
 * - Linear outputs fed only by the bias/inputs (every output of an unmutated genome) are never
 *   materialised: the softmax reads w · input sum directly.
 * - Shared rows (`evaluateMany`, `mergePlans`): the members of a slice are children of a few
 *   parents, so most of their rows are structurally the same row; merged, each is evaluated once
 *   per tile and weight pair, and each member is scored from its own output rows. Bit-identical to
 *   evaluating each member alone (×1.84 at ~2,000 connections on one thread, bench/results/core.json).
 *
 * Optional WebAssembly SIMD kernel (`EvaluatorOptions.kernel`, src/wann/kernel/): sums, the
 * per-tile input sums (from a Float32 copy of the batch's inputs in the kernel's memory, made once
 * per batch and reused: a Batch's arrays must not be mutated after its first evaluation), activation
 * rows, logit gathering and the softmax's exps two examples per f64x2; the JS loops stay the
 * fallback and the reference it is tested against. Measured A/B on one thread (bench/kernel-ab.ts):
 * ×1.4–1.7 at ~120 connections, ×1.9 at ~500, ×2.2 at ~2,000 before the input sums moved into the
 * kernel; with them, ×1.9 at ~120 and ×2.45 at ~2,000 (kernel time −19% and −13.5%).
 *
 * Search numerics (`EvaluatorOptions.precision`, default 'f32' with a kernel). With the kernel,
 * node values are float32, four examples per f32x4: input sums (bias + inputs, each addition
 * rounded to float32), hidden sums, pre-activations w·Σ (w rounded to float32) and activations
 * (float32 polynomials: `applyActivation32` / `exp32` in activations.ts are their exact model);
 * logits, the softmax sums (of float32 exps) and the fitness stay float64. The tile is rounded up
 * to a multiple of 4, and one `forward32` call evaluates every row of a tile from a per-plan
 * program (no JS between rows). Every operation is a plain IEEE-754 float32/float64 operation (no
 * fused multiply-add, no relaxed SIMD), so the bits are the same on every engine: Node worker
 * threads, workerd, any CPU. What this changes: fitness values differ from the float64 path by
 * ~1e-7 typically (≤ 1e-3 for the 99th percentile of random test genomes; float32 rounding of a
 * pre-activation of ~100 moves sin(πx) by ~1e-5), so a search's trajectory differs from a
 * float64 one, and is itself fully deterministic. The float64 paths (the JS path and 'f64') are
 * for publishing and reporting: `report.ts` (test accuracies of a published model) evaluates with
 * the JS path, which is what the ONNX export computes. The JS path is also the fallback where the
 * kernel cannot be instantiated (workers/evaluator/evaluate-slice.ts logs it): a run evaluated
 * there would not reproduce the kernel's float32 bits, so that fallback exists only for engines
 * without WebAssembly SIMD (none of the supported ones). Measured A/B on one thread,
 * bench/kernel-ab.ts, interleaved, this shared 2-core machine at load ~14: ×2.17 over the float64
 * kernel at ~2,000 connections (see README "Core benchmark" for the current figures).
 *
 * Measured (JS path, this 2-core machine while shared, CPU time of one thread, 1,000 MNIST images, the 6
 * shared weights, bench/populations.ts): ~0.65 ms per genome at ~120 connections, ~2.9 ms at ~500,
 * ~13.5 ms at ~2,000 connections with ~380 hidden nodes. What is left is JS scalar arithmetic:
 * ~3–4 ns per transcendental activation or exp, ~0.3–0.7 ns per summed source element.
 */
import { SHARED_WEIGHTS } from './activation-ids';
import {
  activationParity,
  applyActivation,
  applyActivation2,
  applyActivationFast,
  applyActivationMirrored,
  fastExp,
  PARITY_EVEN,
  PARITY_MIRRORED,
  PARITY_ODD,
} from './activations';
import { firstHidden, type Genome, GenomeFormatError } from './genome';
import { KERNEL_BUF_BYTE, Kernel } from './kernel/kernel';
import type { Batch, GenomeResult } from './types';

/** Probabilities are clamped to at least this before the log, so a fitness is ≥ ln(1e-12). */
export const MIN_PROBABILITY = 1e-12;
/** The lowest possible fitness, ln(1e-12) = −27.631021115928547. */
export const MIN_FITNESS = Math.log(MIN_PROBABILITY);

/** Row parity: the value at −w must be computed on its own. */
export const PARITY_NONE = 0;

/** Row flags. */
const CONSTANT = 1; // no enabled incoming connection: value act(0) for every example and weight
const LOGIT_VIEW = 2; // linear output fed only by bias/inputs, not a source: logit = w · input sum

/**
 * A genome compiled for evaluation. Rows are the nodes that are evaluated (hidden nodes that can
 * reach an output, and every output), in a deterministic topological order.
 */
export interface Plan {
  readonly inputs: number;
  readonly outputs: number;
  /** Enabled connections of the genome (all of them, dead ends included): the size objective. */
  readonly connections: number;
  /** Number of rows. */
  readonly rows: number;
  /** Genome node id of each row. */
  readonly rowNode: Int32Array;
  /** Activation id of each row. */
  readonly rowAct: Uint8Array;
  /** Number of enabled bias→row connections (each adds 1 to the sum). */
  readonly rowBias: Int32Array;
  /** CSR: input sources of row r are inputSource[inputStart[r] .. inputStart[r+1]), as feature indices. */
  readonly inputStart: Int32Array;
  readonly inputSource: Int32Array;
  /** CSR: hidden/output sources of row r are hiddenSource[hiddenStart[r] .. hiddenStart[r+1]), as rows. */
  readonly hiddenStart: Int32Array;
  readonly hiddenSource: Int32Array;
  /** Row of output class j. */
  readonly outputRow: Int32Array;
  /** Index of row r's input sum (rows with a bias or input source), else −1. */
  readonly sumIndex: Int32Array;
  readonly sumCount: number;
  /** CONSTANT / LOGIT_VIEW flags per row. */
  readonly rowFlags: Uint8Array;
  /**
   * How row r's value at −w follows from its value at w (structural, the same for every w):
   * PARITY_EVEN (equal), PARITY_ODD (negated), PARITY_MIRRORED (a cheap identity of step, sigmoid,
   * relu, computed in the same pass) or PARITY_NONE (evaluated separately at −w).
   */
  readonly rowParity: Uint8Array;
  /**
   * PARITY_ODD if every output's value at −w is minus its value at w, PARITY_EVEN if every output's
   * is the same (outputs that are constantly 0 count as both), else PARITY_NONE.
   */
  readonly outputParity: number;
  /** Most hidden sources of any row (sizes the per-row scratch). */
  readonly maxHiddenSources: number;
}

/**
 * Compile a genome: check it, order its nodes topologically (Kahn's algorithm, ready nodes taken in
 * id order, first in first out), drop nodes that cannot reach an output, and split each row's
 * sources into bias/inputs (weight-independent) and hidden rows. Only enabled connections matter.
 * Throws GenomeFormatError on a cycle through enabled connections or an out-of-range connection.
 */
export function compile(genome: Genome): Plan {
  const { inputs, outputs, acts, src, dst, enabled } = genome;
  const n = acts.length;
  const hidden0 = firstHidden(genome);
  if (n < hidden0) {
    throw new GenomeFormatError(`genome has ${n} nodes, needs at least ${hidden0} (bias, inputs, outputs)`);
  }
  const m = src.length;
  if (dst.length !== m || enabled.length !== m) {
    throw new GenomeFormatError('genome connection arrays differ in length');
  }

  // Enabled edges as CSR twice: by destination (sources in connection order) and by source.
  const inCount = new Int32Array(n + 1);
  const outCount = new Int32Array(n + 1);
  let edges = 0;
  for (let k = 0; k < m; k++) {
    if (!enabled[k]) continue;
    const s = src[k];
    const d = dst[k];
    if (!(s >= 0 && s < n && d > inputs && d < n)) {
      throw new GenomeFormatError(`connection ${k} (${s}→${d}) is out of range for ${n} nodes`);
    }
    inCount[d + 1]++;
    outCount[s + 1]++;
    edges++;
  }
  for (let v = 0; v < n; v++) {
    inCount[v + 1] += inCount[v];
    outCount[v + 1] += outCount[v];
  }
  const inSrc = new Int32Array(edges);
  const outDst = new Int32Array(edges);
  {
    const inFill = inCount.slice(0, n);
    const outFill = outCount.slice(0, n);
    for (let k = 0; k < m; k++) {
      if (!enabled[k]) continue;
      inSrc[inFill[dst[k]]++] = src[k];
      outDst[outFill[src[k]]++] = dst[k];
    }
  }

  // Kahn over every node (a cycle anywhere is a malformed genome, even on a dead end).
  const indegree = new Int32Array(n);
  for (let v = 0; v < n; v++) indegree[v] = inCount[v + 1] - inCount[v];
  const order = new Int32Array(n);
  let tail = 0;
  for (let v = 0; v < n; v++) if (indegree[v] === 0) order[tail++] = v;
  for (let head = 0; head < tail; head++) {
    const v = order[head];
    for (let e = outCount[v]; e < outCount[v + 1]; e++) {
      const d = outDst[e];
      if (--indegree[d] === 0) order[tail++] = d;
    }
  }
  if (tail < n) throw cycleError(n, indegree, inCount, inSrc);

  // Liveness: a node is evaluated if it is an output or feeds a live node (reverse topological pass).
  const live = new Uint8Array(n);
  for (let j = 0; j < outputs; j++) live[inputs + 1 + j] = 1;
  let rows = 0;
  for (let t = n - 1; t >= 0; t--) {
    const v = order[t];
    if (!live[v]) continue;
    if (v > inputs) rows++;
    for (let e = inCount[v]; e < inCount[v + 1]; e++) live[inSrc[e]] = 1;
  }

  const rowNode = new Int32Array(rows);
  const rowAct = new Uint8Array(rows);
  const rowBias = new Int32Array(rows);
  const rowFlags = new Uint8Array(rows);
  const sumIndex = new Int32Array(rows);
  const inputStart = new Int32Array(rows + 1);
  const hiddenStart = new Int32Array(rows + 1);
  const rowOf = new Int32Array(n).fill(-1);
  let nInput = 0;
  let nHidden = 0;
  for (let t = 0, r = 0; t < n; t++) {
    const v = order[t];
    if (!live[v] || v <= inputs) continue;
    const act = acts[v];
    if (!(act >= 1 && act <= 11)) throw new GenomeFormatError(`node ${v} has unknown activation id ${act}`);
    rowNode[r] = v;
    rowAct[r] = act;
    rowOf[v] = r;
    for (let e = inCount[v]; e < inCount[v + 1]; e++) {
      const s = inSrc[e];
      if (s === 0) rowBias[r]++;
      else if (s <= inputs) nInput++;
      else nHidden++;
    }
    inputStart[r + 1] = nInput;
    hiddenStart[r + 1] = nHidden;
    r++;
  }
  const inputSource = new Int32Array(nInput);
  const hiddenSource = new Int32Array(nHidden);
  const usedAsSource = new Uint8Array(rows);
  let sumCount = 0;
  for (let r = 0; r < rows; r++) {
    const v = rowNode[r];
    let i = inputStart[r];
    let h = hiddenStart[r];
    for (let e = inCount[v]; e < inCount[v + 1]; e++) {
      const s = inSrc[e];
      if (s === 0) continue;
      if (s <= inputs) inputSource[i++] = s - 1;
      else {
        hiddenSource[h++] = rowOf[s];
        usedAsSource[rowOf[s]] = 1;
      }
    }
    sumIndex[r] = rowBias[r] > 0 || inputStart[r + 1] > inputStart[r] ? sumCount++ : -1;
  }
  const outputRow = new Int32Array(outputs);
  for (let j = 0; j < outputs; j++) outputRow[j] = rowOf[inputs + 1 + j];
  for (let r = 0; r < rows; r++) {
    const noHidden = hiddenStart[r + 1] === hiddenStart[r];
    if (noHidden && sumIndex[r] < 0) rowFlags[r] = CONSTANT;
    else if (noHidden && rowAct[r] === 1 && rowNode[r] < hidden0 && !usedAsSource[r])
      rowFlags[r] = LOGIT_VIEW;
  }

  // Weight mirroring. With pre(w) = w·(S + Σ_h v_h(w)): if every hidden source is even (or there is
  // none), pre(−w) = −pre(w) and the row inherits its activation's parity; if every source is odd
  // and there is no bias/input sum, pre(−w) = pre(w) and the row is even. Otherwise: none.
  const rowParity = new Uint8Array(rows);
  let maxHiddenSources = 0;
  for (let r = 0; r < rows; r++) {
    const hs = hiddenStart[r];
    const he = hiddenStart[r + 1];
    maxHiddenSources = Math.max(maxHiddenSources, he - hs);
    if (rowFlags[r] & CONSTANT) {
      rowParity[r] = PARITY_EVEN; // act(0) at every weight
      continue;
    }
    let allEven = true;
    let allOdd = true;
    for (let e = hs; e < he; e++) {
      const p = rowParity[hiddenSource[e]];
      if (p !== PARITY_EVEN) allEven = false;
      if (p !== PARITY_ODD) allOdd = false;
    }
    if (allEven) rowParity[r] = activationParity(rowAct[r]);
    else if (allOdd && sumIndex[r] < 0) rowParity[r] = PARITY_EVEN;
    else rowParity[r] = PARITY_NONE;
  }

  let allOdd = true;
  let allEven = true;
  for (let j = 0; j < outputs; j++) {
    const r = outputRow[j];
    if (rowFlags[r] & CONSTANT && applyActivationFast(rowAct[r], 0) === 0) continue;
    if (rowParity[r] !== PARITY_ODD) allOdd = false;
    if (rowParity[r] !== PARITY_EVEN) allEven = false;
  }
  const outputParity = allEven ? PARITY_EVEN : allOdd ? PARITY_ODD : PARITY_NONE;

  return {
    inputs,
    outputs,
    connections: edges,
    rows,
    rowNode,
    rowAct,
    rowBias,
    inputStart,
    inputSource,
    hiddenStart,
    hiddenSource,
    outputRow,
    sumIndex,
    sumCount,
    rowFlags,
    rowParity,
    outputParity,
    maxHiddenSources,
  };
}

// ---------------------------------------------------------------------------------------------
// Shared rows: plans evaluated together

/**
 * Most rows of one merged group (`mergePlans`): each row is two planes of `tile` doubles plus an
 * input sum, so at the default tile of 256 a group's scratch stays under ~24 MB. A plan larger
 * than this on its own is a group by itself (as it would be evaluated alone).
 */
export const MAX_MERGED_ROWS = 4096;

/** One member of a merged group: where its outputs are among the merged rows. */
export interface MergedMember {
  readonly outputRow: Int32Array;
  readonly outputParity: number;
  readonly connections: number;
}

/** Plans [start, end) merged: `plan` holds every structurally distinct row once. */
export interface MergedPlans {
  readonly plan: Plan;
  readonly members: readonly MergedMember[];
  readonly start: number;
  readonly end: number;
  /** Rows of the members' own plans, for the sharing ratio. */
  readonly memberRows: number;
}

/**
 * Merge plans [start, …) into one plan whose rows are the members' rows with every structurally
 * identical row kept once, taking members while the merged rows stay ≤ maxRows (at least one).
 * Two rows are identical when they have the same activation, flags, bias count, input sources in
 * the same order and hidden sources that are (recursively) identical rows in the same order: then
 * they are the same sequence of float operations on the same values, so evaluating the row once
 * gives every member the bits it would get alone. Rows keep each member's topological order
 * (a member's new rows are appended in its order), so the merged plan is topologically ordered.
 * Genomes of one generation share most of their rows (children of the same parents): see
 * `Evaluator.evaluateMany`.
 */
export function mergePlans(plans: readonly Plan[], start = 0, maxRows = MAX_MERGED_ROWS): MergedPlans {
  if (!(start >= 0 && start < plans.length)) throw new RangeError(`no plan at ${start}`);
  const first = plans[start];
  const rowAct: number[] = [];
  const rowBias: number[] = [];
  const rowFlags: number[] = [];
  const rowParity: number[] = [];
  const inputStart: number[] = [0];
  const inputSource: number[] = [];
  const hiddenStart: number[] = [0];
  const hiddenSource: number[] = [];
  /** Hash → first merged row with it; further rows with the same hash chain through `nextSame`. */
  const byHash = new Map<number, number>();
  const nextSame: number[] = [];
  const members: MergedMember[] = [];
  let memberRows = 0;
  let rid = new Int32Array(0);
  /** Per row of the member being merged: the merged row it equals, or −1 (a new row). */
  let found = new Int32Array(0);

  const hashRow = (p: Plan, r: number): number => {
    let h = Math.imul(p.rowAct[r] ^ (p.rowFlags[r] << 8) ^ (p.rowBias[r] << 12), 0x9e3779b1);
    for (let e = p.inputStart[r]; e < p.inputStart[r + 1]; e++) {
      h = Math.imul(h ^ p.inputSource[e], 0x85ebca6b);
      h ^= h >>> 15;
    }
    h = Math.imul(h ^ 0x7fffffff, 0xc2b2ae35);
    for (let e = p.hiddenStart[r]; e < p.hiddenStart[r + 1]; e++) {
      h = Math.imul(h ^ rid[p.hiddenSource[e]], 0x27d4eb2f);
      h ^= h >>> 13;
    }
    return h;
  };
  const sameRow = (p: Plan, r: number, m: number): boolean => {
    if (p.rowAct[r] !== rowAct[m] || p.rowFlags[r] !== rowFlags[m] || p.rowBias[r] !== rowBias[m])
      return false;
    const i0 = p.inputStart[r];
    const ni = p.inputStart[r + 1] - i0;
    if (ni !== inputStart[m + 1] - inputStart[m]) return false;
    for (let e = 0; e < ni; e++) if (p.inputSource[i0 + e] !== inputSource[inputStart[m] + e]) return false;
    const h0 = p.hiddenStart[r];
    const nh = p.hiddenStart[r + 1] - h0;
    if (nh !== hiddenStart[m + 1] - hiddenStart[m]) return false;
    for (let e = 0; e < nh; e++)
      if (rid[p.hiddenSource[h0 + e]] !== hiddenSource[hiddenStart[m] + e]) return false;
    return true;
  };
  const find = (p: Plan, r: number, h: number): number => {
    for (let m = byHash.get(h) ?? -1; m >= 0; m = nextSame[m]) if (sameRow(p, r, m)) return m;
    return -1;
  };

  let end = start;
  for (; end < plans.length; end++) {
    const p = plans[end];
    if (p.inputs !== first.inputs || p.outputs !== first.outputs)
      throw new RangeError(`plan ${end} has another shape than plan ${start}`);
    if (rid.length < p.rows) rid = new Int32Array(p.rows);
    // Count the rows this member would add (new rows get ids past the merged ones, so rows fed by
    // them are new too); stop before a member that would pass maxRows.
    let added = 0;
    if (found.length < p.rows) found = new Int32Array(p.rows);
    for (let r = 0; r < p.rows; r++) {
      found[r] = find(p, r, hashRow(p, r));
      rid[r] = found[r] >= 0 ? found[r] : rowAct.length + added++;
    }
    if (end > start && rowAct.length + added > maxRows) break;
    for (let r = 0; r < p.rows; r++) {
      // A row found above reads only merged rows: its id is final. A new one is looked up again
      // (with its sources' final ids: it may equal an earlier new row of the same member).
      if (found[r] >= 0) continue;
      const h = hashRow(p, r);
      let m = find(p, r, h);
      if (m < 0) {
        m = rowAct.length;
        rowAct.push(p.rowAct[r]);
        rowBias.push(p.rowBias[r]);
        rowFlags.push(p.rowFlags[r]);
        rowParity.push(p.rowParity[r]);
        for (let e = p.inputStart[r]; e < p.inputStart[r + 1]; e++) inputSource.push(p.inputSource[e]);
        inputStart.push(inputSource.length);
        for (let e = p.hiddenStart[r]; e < p.hiddenStart[r + 1]; e++)
          hiddenSource.push(rid[p.hiddenSource[e]]);
        hiddenStart.push(hiddenSource.length);
        nextSame.push(byHash.get(h) ?? -1);
        byHash.set(h, m);
      }
      rid[r] = m;
    }
    const outputRow = new Int32Array(p.outputs);
    for (let j = 0; j < p.outputs; j++) outputRow[j] = rid[p.outputRow[j]];
    members.push({ outputRow, outputParity: p.outputParity, connections: p.connections });
    memberRows += p.rows;
  }

  const rows = rowAct.length;
  const sumIndex = new Int32Array(rows);
  let sumCount = 0;
  let maxHiddenSources = 0;
  for (let r = 0; r < rows; r++) {
    sumIndex[r] = rowBias[r] > 0 || inputStart[r + 1] > inputStart[r] ? sumCount++ : -1;
    maxHiddenSources = Math.max(maxHiddenSources, hiddenStart[r + 1] - hiddenStart[r]);
  }
  const plan: Plan = {
    inputs: first.inputs,
    outputs: first.outputs,
    connections: first.connections,
    rows,
    rowNode: new Int32Array(rows).fill(-1),
    rowAct: Uint8Array.from(rowAct),
    rowBias: Int32Array.from(rowBias),
    inputStart: Int32Array.from(inputStart),
    inputSource: Int32Array.from(inputSource),
    hiddenStart: Int32Array.from(hiddenStart),
    hiddenSource: Int32Array.from(hiddenSource),
    outputRow: members[0].outputRow,
    sumIndex,
    sumCount,
    rowFlags: Uint8Array.from(rowFlags),
    rowParity: Uint8Array.from(rowParity),
    outputParity: members[0].outputParity,
    maxHiddenSources,
  };
  return { plan, members, start, end, memberRows };
}

/** Name a node on a cycle (and the cycle) among the nodes Kahn's algorithm could not order. */
function cycleError(
  n: number,
  indegree: Int32Array,
  inCount: Int32Array,
  inSrc: Int32Array,
): GenomeFormatError {
  // Every unordered node has an unordered predecessor, so walking back from one must repeat a node.
  const seenAt = new Int32Array(n).fill(-1);
  const path: number[] = [];
  let v = 0;
  while (indegree[v] === 0) v++;
  while (seenAt[v] < 0) {
    seenAt[v] = path.length;
    path.push(v);
    for (let e = inCount[v]; e < inCount[v + 1]; e++) {
      if (indegree[inSrc[e]] > 0) {
        v = inSrc[e];
        break;
      }
    }
  }
  const cycle = path.slice(seenAt[v]).reverse();
  const shown = cycle.length > 8 ? [...cycle.slice(0, 8), '…'] : [...cycle, cycle[0]];
  return new GenomeFormatError(
    `genome has a cycle through node ${cycle[0]} (enabled connections ${shown.join(' → ')})`,
  );
}

// ---------------------------------------------------------------------------------------------

/** Largest max − min logit range for which the −w softmax is computed as 1/exp (e^700 < 1e305). */
const PAIR_RANGE_LIMIT = 700;
/** The same for the float32 exps of the f32 search numerics (e^−80 is still a normal float32). */
const PAIR_RANGE_LIMIT_32 = 80;

/**
 * Largest batch `inputs` (bytes of float32) the kernel path copies whole into its memory and keeps
 * while the same batch comes back (a 1,000-image shard of 256 features: 1 MB; the 10,000-image
 * test set: 10 MB); larger ones are copied per tile. Wasm memory never shrinks, so this bounds what
 * the inputs copy adds to one evaluator's memory.
 */
const INPUT_CACHE_BYTES = 16 << 20;

/** Logits are clamped into ±LOGIT_LIMIT, NaN to −LOGIT_LIMIT, before the softmax (see Evaluator). */
const LOGIT_LIMIT = 1e300;

/** Clamp a logit into ±LOGIT_LIMIT, NaN → −LOGIT_LIMIT (so a NaN output is the least likely class). */
function finiteLogit(raw: number): number {
  // biome-ignore lint/complexity/useMathMinMax: NaN must become −LOGIT_LIMIT; Math.min/max would keep it
  return raw > -LOGIT_LIMIT ? (raw < LOGIT_LIMIT ? raw : LOGIT_LIMIT) : -LOGIT_LIMIT;
}

export interface EvaluatorOptions {
  /** Examples processed together (the length of a scratch row). Default 256. */
  tile?: number;
  /**
   * The compiled WebAssembly SIMD kernel (src/wann/kernel/kernel.wasm, see kernel/kernel.ts), or
   * nothing for the plain JS path. With `precision` 'f64' the same results as the JS path (exp-based
   * values within ~1 ulp), ~2× faster on grown genomes, an odd tile rounded up to even; with 'f32'
   * (the default) the float32 search numerics above, ~2× faster again, the tile rounded up to a
   * multiple of 4.
   */
  kernel?: WebAssembly.Module;
  /**
   * With a kernel: the search numerics. 'f32' (default): node values are float32, four examples
   * per f32x4 (see "Search numerics" above); 'f64': the float64 kernel, the JS path's numerics.
   * Without a kernel the evaluation is always float64 (the publishing path, equal to the ONNX).
   */
  precision?: 'f32' | 'f64';
  /**
   * With a kernel: largest batch `inputs` (bytes of float32) copied whole into the kernel's memory
   * and reused while the same batch comes back; larger batches are copied per tile. Default 16 MiB.
   */
  inputCacheBytes?: number;
}

/**
 * Reusable scratch memory for evaluating plans. Not reentrant (JS is single-threaded: fine); one
 * per thread. Buffers grow to the largest plan seen and are then reused without allocation.
 *
 * Weights are processed in mirrored pairs (w, −w) when both are asked for (the six shared weights
 * are three pairs): rows whose value at −w is ± their value at w (`Plan.rowParity`) are computed
 * once for both, which halves the activation and hidden-sum work of most genomes.
 *
 * Non-finite values (overflow, e.g. chains of `squared`) cannot make a fitness NaN or −∞: each
 * logit is clamped into ±1e300 before the softmax, NaN to −1e300 (a NaN output is the least
 * likely class), and the label's probability is clamped to ≥ 1e-12. So fitness ∈ [−27.631…, 0]
 * always; an example whose logits are all NaN gets uniform probabilities and predicted class 0.
 */
export class Evaluator {
  private readonly tile: number;
  private buf: Float64Array = new Float64Array(0);
  /**
   * Layout of `buf` for the loaded plan: [input sums | values at w (plane A) | values at −w (plane B)
   * | pre-activation row | logits (outputs × tile) | per example: max logit, min logit, Σ exp,
   * Σ 1/exp].
   */
  private planeA = 0;
  private planeB = 0;
  private preBase = 0;
  private logitBase = 0;
  private maxBase = 0;
  private minBase = 0;
  private sumBase = 0;
  private recipBase = 0;
  private expBase = 0;
  private logitOff = new Int32Array(16);
  private logitScale = new Float64Array(16);
  /** Per-row scratch: where each pre-activation term (input sum, hidden sources) is read, its sign. */
  private srcOff = new Int32Array(16);
  private srcSign = new Float64Array(16);
  /** Number of terms `reduceTerms` left in srcOff/srcSign (1 or 2). */
  private termCount = 0;
  private tileLogLik = 0;
  private tileCorrect = 0;
  private tileLogLik2 = 0;
  private tileCorrect2 = 0;

  /** The WebAssembly kernel, if one was given: then `buf` is a view of its memory. */
  private readonly kernel: Kernel | null;
  /** Float32 search numerics (kernel only): rows live in `buf32`, logits and sums in `buf`. */
  private readonly f32: boolean;
  /** Float32 view of the kernel's memory at the same base as `buf` (f32 mode). */
  private buf32: Float32Array = new Float32Array(0);
  /** act(0) per activation id as the float32 kernel computes it (constant rows, f32 mode). */
  private readonly constant32 = new Float64Array(12);
  /** Element index in `buf` of the kernel's term list ((offset, sign) pairs). */
  private listBase = 0;
  /** Doubles of `buf` in use by the layout (with a kernel, `buf` views all of its memory). */
  private bufCap = 0;
  /**
   * Kernel input sums: element index in `buf` of the `insums` program (i32s), the byte address of
   * the Float32 inputs copy (after the scratch), the batch `inputs` it holds whole (null: none, or
   * per-tile copies) and its length, and the limit on whole copies (`EvaluatorOptions.inputCacheBytes`).
   */
  private progBase = 0;
  private inputsByte = 0;
  private cachedInputs: Float32Array | null = null;
  private cachedLength = 0;
  private readonly inputCacheBytes: number;
  /** Rows in the `insums` program. */
  private progRows = 0;
  /** Float32 mode: element index in `buf` of the `forward32` program, and its number of rows. */
  private fwdBase = 0;
  private fwdRows = 0;

  constructor(options: EvaluatorOptions = {}) {
    const tile = options.tile ?? 256;
    if (!(Number.isInteger(tile) && tile >= 1)) throw new RangeError('tile must be a positive integer');
    this.kernel = options.kernel ? new Kernel(options.kernel) : null;
    const precision = options.precision ?? 'f32';
    if (precision !== 'f32' && precision !== 'f64') throw new RangeError(`precision must be 'f32' or 'f64'`);
    this.f32 = this.kernel !== null && precision === 'f32';
    // The kernel works two (float32: four) examples at a time: rows need a stride of that multiple.
    this.tile = this.f32 ? (tile + 3) & ~3 : this.kernel ? tile + (tile & 1) : tile;
    if (this.kernel && this.f32) {
      // Constant rows hold act(0) exactly as the kernel's float32 activation gives it.
      const k = this.kernel;
      const v = k.view32();
      for (let id = 1; id <= 11; id++) {
        v.fill(0, 0, 8);
        k.act32[id](1, 0, 4, 4);
        this.constant32[id] = v[4];
      }
    }
    this.inputCacheBytes = options.inputCacheBytes ?? INPUT_CACHE_BYTES;
  }

  /** Fitness and accuracy of the plan on the batch at each weight. */
  evaluate(plan: Plan, batch: Batch, weights: readonly number[] = SHARED_WEIGHTS): GenomeResult {
    return this.evaluateViews(plan, [plan], batch, weights)[0];
  }

  /**
   * `evaluate` of each plan, in order, with the rows that plans share evaluated once: the plans
   * are merged in groups of at most `maxRows` distinct rows (`mergePlans`). Every result is bit
   * for bit what `evaluate` gives the plan alone (a shared row is the same operations on the same
   * values), so how plans are grouped, or sliced, never changes a result. The members of one
   * generation are children of a few parents and share most of their rows (measured in a search,
   * seed 1, generations 50–200: 9–14 % of a 64-member slice's rows are distinct; the benchmark's
   * populations: `distinctRows` in bench/results/core.json).
   */
  evaluateMany(
    plans: readonly Plan[],
    batch: Batch,
    weights: readonly number[] = SHARED_WEIGHTS,
    maxRows = MAX_MERGED_ROWS,
  ): GenomeResult[] {
    const results: GenomeResult[] = [];
    for (let start = 0; start < plans.length; ) {
      const merged = mergePlans(plans, start, maxRows);
      results.push(...this.evaluateMerged(merged, batch, weights));
      start = merged.end;
    }
    return results;
  }

  /** Each member's results of a merged group (`mergePlans`). */
  evaluateMerged(
    merged: MergedPlans,
    batch: Batch,
    weights: readonly number[] = SHARED_WEIGHTS,
  ): GenomeResult[] {
    const { plan } = merged;
    // Members whose outputs are the same merged rows score the same: once (the connection count,
    // which the scores do not read, is each member's own).
    const views: Plan[] = [];
    const viewOf = new Map<string, number>();
    const which = merged.members.map((m) => {
      const key = `${m.outputParity}:${m.outputRow.join(',')}`;
      let v = viewOf.get(key);
      if (v === undefined) {
        v = views.length;
        viewOf.set(key, v);
        views.push({ ...plan, outputRow: m.outputRow, outputParity: m.outputParity });
      }
      return v;
    });
    const results = this.evaluateViews(plan, views, batch, weights);
    return merged.members.map((m, i) => {
      const r = results[which[i]];
      return { fitness: [...r.fitness], accuracy: [...r.accuracy], connections: m.connections };
    });
  }

  /**
   * The rows of `plan` evaluated once per tile and weight pair; each view (the same rows, its own
   * outputs) scored from them in turn.
   */
  private evaluateViews(
    plan: Plan,
    views: readonly Plan[],
    batch: Batch,
    weights: readonly number[],
  ): GenomeResult[] {
    checkBatch(plan, batch, true);
    const nw = weights.length;
    const mirror = mirrorIndex(weights);
    const logLiks = views.map(() => new Float64Array(nw));
    const corrects = views.map(() => new Float64Array(nw));
    this.reserve(plan);
    if (this.kernel) this.prepareInputs(this.kernel, plan, batch);
    for (let t0 = 0; t0 < batch.count; t0 += this.tile) {
      const len = Math.min(this.tile, batch.count - t0);
      this.loadTile(plan, batch, t0, len);
      for (let k = 0; k < nw; k++) {
        if (mirror[k] >= 0 && mirror[k] < k) continue; // done with its pair
        const m = mirror[k];
        this.forward(plan, weights[k], m >= 0, len);
        for (let v = 0; v < views.length; v++) {
          const view = views[v];
          const logLik = logLiks[v];
          const correct = corrects[v];
          this.prepareLogits(view, weights[k], false);
          const range = this.gatherLogits(view, len);
          // Logits at −w are the negated logits at w: both softmaxes from one set of exps.
          const pairOdd =
            m >= 0 &&
            view.outputParity === PARITY_ODD &&
            range <= (this.f32 ? PAIR_RANGE_LIMIT_32 : PAIR_RANGE_LIMIT);
          if (pairOdd) this.scorePairOdd(view, batch.labels, t0, len);
          else this.score(view, batch.labels, t0, len);
          logLik[k] += this.tileLogLik;
          correct[k] += this.tileCorrect;
          if (m < 0) continue;
          if (pairOdd) {
            logLik[m] += this.tileLogLik2;
            correct[m] += this.tileCorrect2;
            continue;
          }
          if (view.outputParity !== PARITY_EVEN) {
            this.prepareLogits(view, -weights[k], true);
            this.gatherLogits(view, len);
            this.score(view, batch.labels, t0, len);
          } // else the logits at −w are the same, and so are the scores
          logLik[m] += this.tileLogLik;
          correct[m] += this.tileCorrect;
        }
      }
    }
    return views.map((view, v) => {
      const fitness: number[] = [];
      const accuracy: number[] = [];
      for (let k = 0; k < nw; k++) {
        fitness.push(logLiks[v][k] / batch.count);
        accuracy.push(corrects[v][k] / batch.count);
      }
      return { fitness, accuracy, connections: view.connections };
    });
  }

  /** Softmax probabilities at one weight, example-major: out[i·outputs + j]. */
  forwardProbabilities(plan: Plan, batch: Batch, weight: number, out?: Float32Array): Float32Array {
    checkBatch(plan, batch, false);
    const size = batch.count * plan.outputs;
    const probs = out ?? new Float32Array(size);
    if (probs.length < size) throw new RangeError(`out has ${probs.length} entries, needs ${size}`);
    this.reserve(plan);
    if (this.kernel) this.prepareInputs(this.kernel, plan, batch);
    for (let t0 = 0; t0 < batch.count; t0 += this.tile) {
      const len = Math.min(this.tile, batch.count - t0);
      this.loadTile(plan, batch, t0, len);
      this.forward(plan, weight, false, len);
      this.prepareLogits(plan, weight, false);
      this.gatherLogits(plan, len);
      this.softmaxInto(plan, t0, len, probs);
    }
    return probs;
  }

  /**
   * Predicted class (argmax of the outputs, ties → lowest index) at each weight, weight-major:
   * out[k·count + i]. The input sums are computed once for all weights.
   */
  predictLabelsPerWeight(plan: Plan, batch: Batch, weights: readonly number[], out?: Int32Array): Int32Array {
    checkBatch(plan, batch, false);
    const count = batch.count;
    const size = weights.length * count;
    const labels = out ?? new Int32Array(size);
    if (labels.length < size) throw new RangeError(`out has ${labels.length} entries, needs ${size}`);
    const mirror = mirrorIndex(weights);
    this.reserve(plan);
    if (this.kernel) this.prepareInputs(this.kernel, plan, batch);
    for (let t0 = 0; t0 < count; t0 += this.tile) {
      const len = Math.min(this.tile, count - t0);
      this.loadTile(plan, batch, t0, len);
      for (let k = 0; k < weights.length; k++) {
        if (mirror[k] >= 0 && mirror[k] < k) continue;
        const paired = mirror[k] >= 0;
        this.forward(plan, weights[k], paired, len);
        this.prepareLogits(plan, weights[k], false);
        this.gatherLogits(plan, len);
        this.argmaxInto(len, labels, k * count + t0);
        if (!paired) continue;
        this.prepareLogits(plan, -weights[k], true);
        this.gatherLogits(plan, len);
        this.argmaxInto(len, labels, mirror[k] * count + t0);
      }
    }
    return labels;
  }

  /** Predicted class at one weight (argmax, ties → lowest index). */
  predictLabels(plan: Plan, batch: Batch, weight: number, out?: Int32Array): Int32Array {
    return this.predictLabelsPerWeight(plan, batch, [weight], out);
  }

  // -------------------------------------------------------------------------------------------

  /** Grow the scratch buffers for this plan and fix the layout. */
  private reserve(plan: Plan): void {
    const tile = this.tile;
    this.planeA = plan.sumCount * tile;
    this.planeB = this.planeA + plan.rows * tile;
    this.preBase = this.planeB + plan.rows * tile;
    this.logitBase = this.preBase + tile;
    this.maxBase = this.logitBase + plan.outputs * tile;
    this.minBase = this.maxBase + tile;
    this.sumBase = this.minBase + tile;
    this.recipBase = this.sumBase + tile;
    // Float32 numerics: the softmax's exps per output (the label's is read back, not recomputed).
    this.expBase = this.recipBase + tile;
    this.listBase = this.expBase + (this.f32 ? plan.outputs * tile : 0);
    this.progBase = this.listBase + 2 * (Math.max(plan.maxHiddenSources, plan.outputs) + 2);
    // The kernel's input-sum program: 3 + sources i32s per summed row, and 4 of slack (it reads 4 offsets).
    const progWords = this.kernel ? 3 * plan.sumCount + plan.inputSource.length + 4 : 0;
    // The float32 forward program (`writeForwardProgram`): at most 5 words a row and 4 per term.
    this.fwdBase = this.progBase + Math.ceil(progWords / 2);
    const fwdWords = this.f32 ? 5 * plan.rows + 4 * (plan.hiddenSource.length + plan.rows) + 4 : 0;
    const need = this.fwdBase + Math.ceil(fwdWords / 2);
    if (this.bufCap < need) {
      const size = Math.max(need, Math.ceil(this.bufCap * 1.5));
      this.buf = this.kernel ? this.kernel.view(size) : new Float64Array(size);
      if (this.kernel) this.buf32 = this.kernel.view32();
      this.bufCap = size;
      // The inputs copy lives right after the scratch: it moves.
      this.cachedInputs = null;
      this.inputsByte = KERNEL_BUF_BYTE + Math.ceil(size / 2) * 16;
    }
    if (this.logitOff.length < plan.outputs) {
      this.logitOff = new Int32Array(plan.outputs);
      this.logitScale = new Float64Array(plan.outputs);
    }
    if (this.srcOff.length < plan.maxHiddenSources + 2) {
      this.srcOff = new Int32Array(plan.maxHiddenSources + 2);
      this.srcSign = new Float64Array(plan.maxHiddenSources + 2);
    }
  }

  /**
   * With a kernel: make the batch's inputs visible to it (after `reserve`), and write the plan's
   * input-sum program. A batch whose inputs fit in INPUT_CACHE_BYTES is copied whole once and reused
   * while the same `inputs` array (same object, same length) comes back: a Batch's arrays must not
   * be mutated after its first evaluation (no caller does; they are built once, then only read).
   * Larger batches (the 10,000-image test set) are copied a tile at a time instead (`loadTile`):
   * no reuse, so no constraint on them.
   */
  private prepareInputs(kernel: Kernel, plan: Plan, batch: Batch): void {
    const { count, features } = batch;
    const n = count * features;
    const whole = n * 4 <= this.inputCacheBytes;
    const floats = whole ? n : features * this.tile;
    // +4 floats: odd tiles read one float past a row's last example.
    kernel.ensure(this.inputsByte + (floats + 4) * 4);
    if (this.buf.buffer !== kernel.buffer) {
      this.buf = kernel.view(this.bufCap);
      this.buf32 = kernel.view32();
    }
    const stride = whole ? count : this.tile;
    if (whole && !(this.cachedInputs === batch.inputs && this.cachedLength === n)) {
      new Float32Array(kernel.buffer, this.inputsByte, n).set(batch.inputs.subarray(0, n));
      this.cachedInputs = batch.inputs;
      this.cachedLength = n;
    } else if (!whole) this.cachedInputs = null;
    // Program: per summed row, its destination, bias count, n and its n input rows' byte offsets.
    const prog = new Int32Array(kernel.buffer, KERNEL_BUF_BYTE + this.progBase * 8);
    const { inputStart, inputSource, sumIndex, rowBias, rowFlags } = plan;
    let o = 0;
    let rows = 0;
    for (let r = 0; r < plan.rows; r++) {
      const si = sumIndex[r];
      if (rowFlags[r] & CONSTANT || si < 0) continue;
      prog[o++] = si * this.tile;
      prog[o++] = rowBias[r];
      prog[o++] = inputStart[r + 1] - inputStart[r];
      for (let e = inputStart[r]; e < inputStart[r + 1]; e++) prog[o++] = inputSource[e] * stride * 4;
      rows++;
    }
    this.progRows = rows;
    if (this.f32) this.writeForwardProgram(kernel, plan);
  }

  /**
   * The `forward32` program of the plan (see scripts/build-kernel.ts): per evaluated row, its
   * activation and parity, its rows in plane A and B, and its terms at w and (parity NONE) at −w,
   * exactly as `listTerms` gives them.
   */
  private writeForwardProgram(kernel: Kernel, plan: Plan): void {
    const { tile, planeA, planeB } = this;
    const { rowFlags, rowAct, rowParity, sumIndex, hiddenStart, hiddenSource } = plan;
    const prog = new Int32Array(kernel.buffer, KERNEL_BUF_BYTE + this.fwdBase * 8);
    let o = 0;
    let rows = 0;
    for (let r = 0; r < plan.rows; r++) {
      if (rowFlags[r] !== 0) continue;
      const parity = rowParity[r];
      prog[o++] = rowAct[r] | (parity << 8);
      prog[o++] = planeA + r * tile;
      prog[o++] = planeB + r * tile;
      for (const mirrored of parity === PARITY_NONE ? [false, true] : [false]) {
        const head = o++;
        let n = 0;
        let signed = 0;
        if (sumIndex[r] >= 0) {
          prog[o++] = sumIndex[r] * tile;
          prog[o++] = 1;
          n++;
        }
        for (let e = hiddenStart[r]; e < hiddenStart[r + 1]; e++, n++) {
          const h = hiddenSource[e];
          const p = mirrored ? rowParity[h] : PARITY_EVEN;
          prog[o++] = (p === PARITY_EVEN || p === PARITY_ODD ? planeA : planeB) + h * tile;
          prog[o++] = p === PARITY_ODD ? -1 : 1;
          if (p === PARITY_ODD) signed = 1;
        }
        prog[head] = n | (signed << 16);
      }
      rows++;
    }
    this.fwdRows = rows;
  }

  /** Input sums (bias count + Σ input rows) of examples t0..t0+len, and the constant rows. */
  private loadTile(plan: Plan, batch: Batch, t0: number, len: number): void {
    if (this.kernel) {
      this.loadTileKernel(this.kernel, plan, batch, t0, len);
      return;
    }
    const { buf, tile, planeA } = this;
    const { inputStart, inputSource, sumIndex, rowBias, rowFlags, rowAct } = plan;
    const x = batch.inputs;
    const count = batch.count;
    for (let r = 0; r < plan.rows; r++) {
      if (rowFlags[r] & CONSTANT) {
        // Same at every weight (act(w·0)); lives in plane A and is read from there (even parity).
        buf.fill(applyActivationFast(rowAct[r], 0), planeA + r * tile, planeA + r * tile + len);
        continue;
      }
      const si = sumIndex[r];
      if (si < 0) continue;
      const o = si * tile;
      let e = inputStart[r];
      const end = inputStart[r + 1];
      // Sum in connection order (bias first), four input rows per pass over the tile.
      let remaining = end - e;
      const take = Math.min(4, remaining);
      sumFirst(buf, o, rowBias[r], x, inputSource, e, take, count, t0, len);
      e += take;
      remaining -= take;
      while (remaining > 0) {
        const step = Math.min(4, remaining);
        sumMore(buf, o, x, inputSource, e, step, count, t0, len);
        e += step;
        remaining -= step;
      }
    }
  }

  /** `loadTile` with the kernel (the program and inputs from `prepareInputs`): the same sums. */
  private loadTileKernel(kernel: Kernel, plan: Plan, batch: Batch, t0: number, len: number): void {
    const { buf, buf32, f32, constant32, tile, planeA, inputsByte } = this;
    const { rowFlags, rowAct } = plan;
    for (let r = 0; r < plan.rows; r++) {
      if (rowFlags[r] & CONSTANT) {
        if (f32) buf32.fill(constant32[rowAct[r]], planeA + r * tile, planeA + r * tile + len);
        else buf.fill(applyActivationFast(rowAct[r], 0), planeA + r * tile, planeA + r * tile + len);
      }
    }
    let x = inputsByte + t0 * 4;
    if (this.cachedInputs === null) {
      // Per-tile copy: feature p's examples t0..t0+len at p · tile.
      const { count, features, inputs } = batch;
      const copy = new Float32Array(kernel.buffer, inputsByte, features * tile);
      for (let p = 0; p < features; p++)
        copy.set(inputs.subarray(p * count + t0, p * count + t0 + len), p * tile);
      x = inputsByte;
    }
    (f32 ? kernel.insums32 : kernel.insums)(KERNEL_BUF_BYTE + this.progBase * 8, this.progRows, x, len);
  }

  /**
   * All row values at weight w into plane A, and, when `paired`, at −w into plane B for the rows
   * whose parity does not give them for free.
   */
  private forward(plan: Plan, w: number, paired: boolean, len: number): void {
    if (this.kernel) {
      this.forwardKernel(this.kernel, plan, w, paired, len);
      return;
    }
    const { buf, tile, planeA, planeB, srcOff, srcSign } = this;
    const { rowFlags, rowAct, rowParity } = plan;
    for (let r = 0; r < plan.rows; r++) {
      if (rowFlags[r] !== 0) continue;
      const act = rowAct[r];
      const parity = rowParity[r];
      const out = planeA + r * tile;
      this.reduceTerms(plan, r, false, len);
      if (paired && parity === PARITY_MIRRORED) {
        const b = this.termCount > 1 ? srcOff[1] : -1;
        const mirror = planeB + r * tile;
        applyActivationMirrored(
          act,
          w * srcSign[0],
          buf,
          srcOff[0],
          b,
          srcSign[0] * srcSign[1],
          buf,
          out,
          buf,
          mirror,
          len,
        );
        continue;
      }
      this.activate(act, w, out, len);
      if (paired && parity === PARITY_NONE) {
        this.reduceTerms(plan, r, true, len);
        this.activate(act, -w, planeB + r * tile, len);
      }
    }
  }

  /** `forward` with the WebAssembly kernel: every row's terms are summed in one call, then activated. */
  private forwardKernel(kernel: Kernel, plan: Plan, w: number, paired: boolean, len: number): void {
    if (this.f32) {
      // The whole tile in one call (the same steps as below, from the program).
      const prog = KERNEL_BUF_BYTE + this.fwdBase * 8;
      kernel.forward32(prog, this.fwdRows, w, paired ? 1 : 0, this.preBase, len);
      return;
    }
    const { tile, planeA, planeB, preBase, listBase } = this;
    const { rowFlags, rowAct, rowParity } = plan;
    const { act, mirror, sum } = kernel;
    for (let r = 0; r < plan.rows; r++) {
      if (rowFlags[r] !== 0) continue;
      const id = rowAct[r];
      const parity = rowParity[r];
      const out = planeA + r * tile;
      const n = this.listTerms(plan, r, false);
      const buf = this.buf;
      let src = preBase;
      let ws = w;
      if (n === 1) {
        src = buf[listBase];
        ws = w * buf[listBase + 1];
      } else sum(preBase, listBase, n, this.listSigned ? 1 : 0, len);
      if (paired && parity === PARITY_MIRRORED) {
        mirror[id](ws, src, out, planeB + r * tile, len);
        continue;
      }
      act[id](ws, src, out, len);
      if (paired && parity === PARITY_NONE) {
        const n2 = this.listTerms(plan, r, true);
        src = preBase;
        ws = -w;
        if (n2 === 1) {
          src = buf[listBase];
          ws = -w * buf[listBase + 1];
        } else sum(preBase, listBase, n2, this.listSigned ? 1 : 0, len);
        act[id](ws, src, planeB + r * tile, len);
      }
    }
  }

  /** Whether the last `listTerms` has a sign −1. */
  private listSigned = false;

  /**
   * Row r's pre-activation terms as `reduceTerms` finds them, written as (offset, sign) pairs at
   * buf[listBase..] for the kernel; returns their number.
   */
  private listTerms(plan: Plan, r: number, mirrored: boolean): number {
    const { buf, tile, planeA, planeB, listBase } = this;
    const { hiddenStart, hiddenSource, rowParity } = plan;
    const si = plan.sumIndex[r];
    const hs = hiddenStart[r];
    const he = hiddenStart[r + 1];
    let o = listBase;
    let signed = false;
    if (si >= 0) {
      buf[o++] = si * tile;
      buf[o++] = 1;
    }
    for (let e = hs; e < he; e++) {
      const h = hiddenSource[e];
      const p = mirrored ? rowParity[h] : PARITY_EVEN;
      buf[o++] = (p === PARITY_EVEN || p === PARITY_ODD ? planeA : planeB) + h * tile;
      if (p === PARITY_ODD) {
        buf[o++] = -1;
        signed = true;
      } else buf[o++] = 1;
    }
    this.listSigned = signed;
    return (o - listBase) >> 1;
  }

  /** buf[out..] = act(w · Σ terms) for the one or two terms `reduceTerms` left. */
  private activate(act: number, w: number, out: number, len: number): void {
    const { buf, srcOff, srcSign } = this;
    if (this.termCount === 1) applyActivation(act, w * srcSign[0], buf, srcOff[0], buf, out, len);
    else
      applyActivation2(
        act,
        w * srcSign[0],
        buf,
        srcOff[0],
        srcOff[1],
        srcSign[0] * srcSign[1],
        buf,
        out,
        len,
      );
  }

  /**
   * Row r's pre-activation terms at w (`mirrored` false: hidden sources from plane A) or at −w
   * (each hidden source as its parity says: ±plane A, or plane B): the input sum first, then the
   * hidden sources in connection order. All but the last are summed into the pre-activation row
   * when there are more than two, so one or two terms remain in srcOff/srcSign[0..termCount).
   * (±1 signs and sums in this order give exactly the left-to-right sum.)
   */
  private reduceTerms(plan: Plan, r: number, mirrored: boolean, len: number): void {
    const { buf, tile, planeA, planeB, preBase, srcOff, srcSign } = this;
    const { hiddenStart, hiddenSource, rowParity } = plan;
    const si = plan.sumIndex[r];
    const hs = hiddenStart[r];
    const he = hiddenStart[r + 1];
    let n = 0;
    let signed = false;
    if (si >= 0) {
      srcOff[0] = si * tile;
      srcSign[0] = 1;
      n = 1;
    }
    for (let e = hs; e < he; e++, n++) {
      const h = hiddenSource[e];
      const p = mirrored ? rowParity[h] : PARITY_EVEN;
      srcOff[n] = (p === PARITY_EVEN || p === PARITY_ODD ? planeA : planeB) + h * tile;
      srcSign[n] = p === PARITY_ODD ? -1 : 1;
      if (p === PARITY_ODD) signed = true;
    }
    if (n > 2) {
      // Terms 0..n−2 into the pre-activation row, up to 4 per pass; the last stays a term.
      let e = 0;
      let first = -1;
      while (e < n - 1) {
        const take = Math.min(4, n - 1 - e);
        if (signed) addRowsSigned(buf, preBase, first, srcOff, srcSign, e, take, len);
        else addRows(buf, preBase, first, srcOff, e, take, len);
        first = preBase;
        e += take;
      }
      srcOff[0] = preBase;
      srcSign[0] = 1;
      srcOff[1] = srcOff[n - 1];
      srcSign[1] = srcSign[n - 1];
      n = 2;
    }
    this.termCount = n;
  }

  /**
   * Where each output's logit is read from at `weight`: mirrored (the −w of a pair) reads rows
   * through their parity; LOGIT_VIEW rows are weight · input sum.
   */
  private prepareLogits(plan: Plan, weight: number, mirrored: boolean): void {
    const { logitOff, logitScale, tile, planeA, planeB } = this;
    for (let j = 0; j < plan.outputs; j++) {
      const r = plan.outputRow[j];
      const parity = plan.rowParity[r];
      if (plan.rowFlags[r] & LOGIT_VIEW) {
        logitOff[j] = plan.sumIndex[r] * tile;
        logitScale[j] = weight;
      } else if (!mirrored || parity === PARITY_EVEN || parity === PARITY_ODD) {
        logitOff[j] = planeA + r * tile;
        logitScale[j] = mirrored && parity === PARITY_ODD ? -1 : 1;
      } else {
        logitOff[j] = planeB + r * tile;
        logitScale[j] = 1;
      }
    }
  }

  /**
   * The tile's logits, clamped finite (see `finiteLogit`), into the logit block (output-major), and
   * per example the max and min. Returns the largest max − min over the tile.
   */
  private gatherLogits(plan: Plan, len: number): number {
    const { buf, tile, logitBase, maxBase, minBase, logitOff, logitScale } = this;
    if (this.kernel) {
      const { listBase } = this;
      for (let j = 0; j < plan.outputs; j++) {
        buf[listBase + 2 * j] = logitOff[j];
        buf[listBase + 2 * j + 1] = logitScale[j];
      }
      const gather = this.f32 ? this.kernel.gather32 : this.kernel.gather;
      gather(logitBase, tile, maxBase, minBase, listBase, plan.outputs, len);
      let range = 0;
      for (let i = 0; i < len; i++) range = Math.max(range, buf[maxBase + i] - buf[minBase + i]);
      return range;
    }
    return gatherLogitRows(buf, logitBase, tile, maxBase, minBase, logitOff, logitScale, plan.outputs, len);
  }

  /**
   * From gathered logits: Σ ln p(label) (p clamped ≥ 1e-12) and the number of examples whose argmax
   * (ties → lowest index) is the label, into tileLogLik/tileCorrect.
   */
  private score(plan: Plan, labels: Uint8Array, t0: number, len: number): void {
    const { buf, tile, logitBase, maxBase, sumBase } = this;
    if (this.kernel) this.expsums(this.kernel, -1, plan.outputs, len);
    else expSums(buf, logitBase, tile, maxBase, sumBase, plan.outputs, len);
    // Float32 numerics: the label's exp as the kernel summed it (exp32), read back.
    const { f32, expBase } = this;
    let logLik = 0;
    // Product of clamped probabilities, flushed through one log when it gets small: each factor is
    // ≥ 1e-12 and the product stays ≥ 1e-300, so one Math.log per ~25 examples instead of one each.
    let product = 1;
    let correct = 0;
    for (let i = 0; i < len; i++) {
      const label = labels[t0 + i];
      const logit = buf[logitBase + label * tile + i];
      const max = buf[maxBase + i];
      const e = f32 ? buf[expBase + label * tile + i] : fastExp(logit - max);
      product *= Math.max(e / buf[sumBase + i], MIN_PROBABILITY);
      if (product < 1e-288) {
        logLik += Math.log(product);
        product = 1;
      }
      if (logit === max && firstAt(buf, logitBase, tile, i, label, max)) correct++;
    }
    this.tileLogLik = logLik + Math.log(product);
    this.tileCorrect = correct;
  }

  /**
   * `score` at w (→ tileLogLik/tileCorrect) and at −w (→ tileLogLik2/tileCorrect2) when the logits
   * at −w are exactly the negated logits at w. With e_j = exp(l_j − max), the softmax at −w is
   * (1/e_j) / Σ(1/e_k): a division instead of an exp. Needs max − min ≤ PAIR_RANGE_LIMIT (no
   * overflow of 1/e_j); the argmax at −w is the argmin at w, ties → lowest index either way.
   */
  private scorePairOdd(plan: Plan, labels: Uint8Array, t0: number, len: number): void {
    const { buf, tile, logitBase, maxBase, minBase, sumBase, recipBase } = this;
    if (this.kernel) this.expsums(this.kernel, recipBase, plan.outputs, len);
    else expSumsPair(buf, logitBase, tile, maxBase, sumBase, recipBase, plan.outputs, len);
    const { f32, expBase } = this;
    let logLik = 0;
    let logLik2 = 0;
    let product = 1;
    let product2 = 1;
    let correct = 0;
    let correct2 = 0;
    for (let i = 0; i < len; i++) {
      const label = labels[t0 + i];
      const logit = buf[logitBase + label * tile + i];
      const max = buf[maxBase + i];
      const min = buf[minBase + i];
      const e = f32 ? buf[expBase + label * tile + i] : fastExp(logit - max);
      product *= Math.max(e / buf[sumBase + i], MIN_PROBABILITY);
      product2 *= Math.max(1 / e / buf[recipBase + i], MIN_PROBABILITY);
      if (product < 1e-288) {
        logLik += Math.log(product);
        product = 1;
      }
      if (product2 < 1e-288) {
        logLik2 += Math.log(product2);
        product2 = 1;
      }
      if (logit === max && firstAt(buf, logitBase, tile, i, label, max)) correct++;
      if (logit === min && firstAt(buf, logitBase, tile, i, label, min)) correct2++;
    }
    this.tileLogLik = logLik + Math.log(product);
    this.tileCorrect = correct;
    this.tileLogLik2 = logLik2 + Math.log(product2);
    this.tileCorrect2 = correct2;
  }

  private softmaxInto(plan: Plan, t0: number, len: number, out: Float32Array): void {
    const { buf, tile, logitBase, maxBase, sumBase } = this;
    const no = plan.outputs;
    if (this.kernel) this.expsums(this.kernel, -1, no, len);
    else expSums(buf, logitBase, tile, maxBase, sumBase, no, len);
    const { f32, expBase } = this;
    for (let j = 0; j < no; j++) {
      const off = logitBase + j * tile;
      const eOff = expBase + j * tile;
      for (let i = 0; i < len; i++) {
        const e = f32 ? buf[eOff + i] : fastExp(buf[off + i] - buf[maxBase + i]);
        out[(t0 + i) * no + j] = e / buf[sumBase + i];
      }
    }
  }

  /** Σ exp (and with recip ≥ 0, Σ 1/exp) of the gathered logits with the kernel, in its numerics. */
  private expsums(kernel: Kernel, recip: number, outputs: number, len: number): void {
    const { tile, logitBase, maxBase, sumBase, expBase } = this;
    if (this.f32) kernel.expsums32(logitBase, tile, maxBase, sumBase, recip, expBase, outputs, len);
    else kernel.expsums(logitBase, tile, maxBase, sumBase, recip, outputs, len);
  }

  /** Argmax of the gathered logits (the first output equal to the max: ties → lowest index). */
  private argmaxInto(len: number, out: Int32Array, o: number): void {
    const { buf, tile, logitBase, maxBase } = this;
    for (let i = 0; i < len; i++) {
      const max = buf[maxBase + i];
      let j = 0;
      while (buf[logitBase + j * tile + i] !== max) j++;
      out[o + i] = j;
    }
  }
}

/** Is `label` the first output whose logit equals `value` (ties → lowest index)? */
function firstAt(
  buf: Float64Array,
  logitBase: number,
  tile: number,
  i: number,
  label: number,
  value: number,
): boolean {
  for (let j = 0; j < label; j++) if (buf[logitBase + j * tile + i] === value) return false;
  return true;
}

/** See `Evaluator.gatherLogits`. Output-major passes over whole rows: what V8 compiles best. */
function gatherLogitRows(
  buf: Float64Array,
  logitBase: number,
  tile: number,
  maxOff: number,
  minOff: number,
  logitOff: Int32Array,
  logitScale: Float64Array,
  outputs: number,
  len: number,
): number {
  const off0 = logitOff[0];
  const scale0 = logitScale[0];
  for (let i = 0; i < len; i++) {
    const v = finiteLogit(scale0 * buf[off0 + i]);
    buf[logitBase + i] = v;
    buf[maxOff + i] = v;
    buf[minOff + i] = v;
  }
  for (let j = 1; j < outputs; j++) {
    const off = logitOff[j];
    const scale = logitScale[j];
    const dst = logitBase + j * tile;
    for (let i = 0; i < len; i++) {
      const v = finiteLogit(scale * buf[off + i]);
      buf[dst + i] = v;
      const max = buf[maxOff + i];
      const min = buf[minOff + i];
      // Plain comparisons: the values are finite, and V8's Math.max/min (NaN and −0 handling) is
      // measurably slower in this loop.
      // biome-ignore lint/complexity/useMathMinMax: see above
      buf[maxOff + i] = v > max ? v : max;
      // biome-ignore lint/complexity/useMathMinMax: see above
      buf[minOff + i] = v < min ? v : min;
    }
  }
  let range = 0;
  for (let i = 0; i < len; i++) range = Math.max(range, buf[maxOff + i] - buf[minOff + i]);
  return range;
}

/** buf[sumOff + i] = Σ_j exp(logit_j − max) (≥ 1: the max contributes exp(0)). */
function expSums(
  buf: Float64Array,
  logitBase: number,
  tile: number,
  maxOff: number,
  sumOff: number,
  outputs: number,
  len: number,
): void {
  for (let i = 0; i < len; i++) buf[sumOff + i] = fastExp(buf[logitBase + i] - buf[maxOff + i]);
  for (let j = 1; j < outputs; j++) {
    const off = logitBase + j * tile;
    for (let i = 0; i < len; i++) buf[sumOff + i] += fastExp(buf[off + i] - buf[maxOff + i]);
  }
}

/** As `expSums`, and buf[recipOff + i] = Σ_j 1/exp(logit_j − max). */
function expSumsPair(
  buf: Float64Array,
  logitBase: number,
  tile: number,
  maxOff: number,
  sumOff: number,
  recipOff: number,
  outputs: number,
  len: number,
): void {
  for (let i = 0; i < len; i++) {
    const e = fastExp(buf[logitBase + i] - buf[maxOff + i]);
    buf[sumOff + i] = e;
    buf[recipOff + i] = 1 / e;
  }
  for (let j = 1; j < outputs; j++) {
    const off = logitBase + j * tile;
    for (let i = 0; i < len; i++) {
      const e = fastExp(buf[off + i] - buf[maxOff + i]);
      buf[sumOff + i] += e;
      buf[recipOff + i] += 1 / e;
    }
  }
}

function checkBatch(plan: Plan, batch: Batch, needLabels: boolean): void {
  const { count, features } = batch;
  if (features !== plan.inputs) {
    throw new RangeError(`batch has ${features} features, the genome ${plan.inputs} inputs`);
  }
  if (!(Number.isInteger(count) && count >= 1)) throw new RangeError(`batch count must be ≥ 1, got ${count}`);
  if (batch.inputs.length < count * features) {
    throw new RangeError(`batch inputs hold ${batch.inputs.length} values, need ${count * features}`);
  }
  if (!needLabels) return;
  if (batch.labels.length < count)
    throw new RangeError(`batch has ${batch.labels.length} labels for ${count}`);
  for (let i = 0; i < count; i++) {
    if (batch.labels[i] >= plan.outputs) {
      throw new RangeError(`label ${batch.labels[i]} of example ${i} is not < ${plan.outputs} outputs`);
    }
  }
}

/**
 * buf[o..o+len) = bias + Σ of `take` (1–4, or 0) input rows inputSource[e..e+take), tile t0.
 * Left-to-right sums, so the order is exactly bias, then inputs in connection order.
 */
function sumFirst(
  buf: Float64Array,
  o: number,
  bias: number,
  x: Float32Array,
  inputSource: Int32Array,
  e: number,
  take: number,
  count: number,
  t0: number,
  len: number,
): void {
  const end = o + len;
  if (take === 0) {
    buf.fill(bias, o, end);
    return;
  }
  const a = inputSource[e] * count + t0 - o;
  if (take === 1) {
    for (let i = o; i < end; i++) buf[i] = bias + x[a + i];
    return;
  }
  const b = inputSource[e + 1] * count + t0 - o;
  if (take === 2) {
    for (let i = o; i < end; i++) buf[i] = bias + x[a + i] + x[b + i];
    return;
  }
  const c = inputSource[e + 2] * count + t0 - o;
  if (take === 3) {
    for (let i = o; i < end; i++) buf[i] = bias + x[a + i] + x[b + i] + x[c + i];
    return;
  }
  const d = inputSource[e + 3] * count + t0 - o;
  for (let i = o; i < end; i++) buf[i] = bias + x[a + i] + x[b + i] + x[c + i] + x[d + i];
}

/** buf[o..o+len) += Σ of `take` (1–4) input rows, left to right. */
function sumMore(
  buf: Float64Array,
  o: number,
  x: Float32Array,
  inputSource: Int32Array,
  e: number,
  take: number,
  count: number,
  t0: number,
  len: number,
): void {
  const end = o + len;
  const a = inputSource[e] * count + t0 - o;
  if (take === 1) {
    for (let i = o; i < end; i++) buf[i] = buf[i] + x[a + i];
    return;
  }
  const b = inputSource[e + 1] * count + t0 - o;
  if (take === 2) {
    for (let i = o; i < end; i++) buf[i] = buf[i] + x[a + i] + x[b + i];
    return;
  }
  const c = inputSource[e + 2] * count + t0 - o;
  if (take === 3) {
    for (let i = o; i < end; i++) buf[i] = buf[i] + x[a + i] + x[b + i] + x[c + i];
    return;
  }
  const d = inputSource[e + 3] * count + t0 - o;
  for (let i = o; i < end; i++) buf[i] = buf[i] + x[a + i] + x[b + i] + x[c + i] + x[d + i];
}

/**
 * buf[dst..dst+len) = (first < 0 ? 0 : buf[first..]) + Σ of `take` (1–4) rows at srcOff[e..e+take),
 * left to right. `first` may equal `dst` (accumulate in place).
 */
function addRows(
  buf: Float64Array,
  dst: number,
  first: number,
  srcOff: Int32Array,
  e: number,
  take: number,
  len: number,
): void {
  const a = srcOff[e];
  const b = take > 1 ? srcOff[e + 1] : 0;
  const c = take > 2 ? srcOff[e + 2] : 0;
  const d = take > 3 ? srcOff[e + 3] : 0;
  if (first < 0) {
    // Starting from 0: 0 + a is a, so the sum order is the same as accumulating from 0.
    if (take === 1) for (let i = 0; i < len; i++) buf[dst + i] = buf[a + i];
    else if (take === 2) for (let i = 0; i < len; i++) buf[dst + i] = buf[a + i] + buf[b + i];
    else if (take === 3) for (let i = 0; i < len; i++) buf[dst + i] = buf[a + i] + buf[b + i] + buf[c + i];
    else for (let i = 0; i < len; i++) buf[dst + i] = buf[a + i] + buf[b + i] + buf[c + i] + buf[d + i];
    return;
  }
  const f = first;
  if (take === 1) for (let i = 0; i < len; i++) buf[dst + i] = buf[f + i] + buf[a + i];
  else if (take === 2) for (let i = 0; i < len; i++) buf[dst + i] = buf[f + i] + buf[a + i] + buf[b + i];
  else if (take === 3)
    for (let i = 0; i < len; i++) buf[dst + i] = buf[f + i] + buf[a + i] + buf[b + i] + buf[c + i];
  else
    for (let i = 0; i < len; i++)
      buf[dst + i] = buf[f + i] + buf[a + i] + buf[b + i] + buf[c + i] + buf[d + i];
}

/** As `addRows`, each source row multiplied by its sign ±1 (exact) first. */
function addRowsSigned(
  buf: Float64Array,
  dst: number,
  first: number,
  srcOff: Int32Array,
  srcSign: Float64Array,
  e: number,
  take: number,
  len: number,
): void {
  const a = srcOff[e];
  const b = take > 1 ? srcOff[e + 1] : 0;
  const c = take > 2 ? srcOff[e + 2] : 0;
  const d = take > 3 ? srcOff[e + 3] : 0;
  const sa = srcSign[e];
  const sb = take > 1 ? srcSign[e + 1] : 0;
  const sc = take > 2 ? srcSign[e + 2] : 0;
  const sd = take > 3 ? srcSign[e + 3] : 0;
  if (first < 0) {
    if (take === 1) for (let i = 0; i < len; i++) buf[dst + i] = sa * buf[a + i];
    else if (take === 2) for (let i = 0; i < len; i++) buf[dst + i] = sa * buf[a + i] + sb * buf[b + i];
    else if (take === 3)
      for (let i = 0; i < len; i++) buf[dst + i] = sa * buf[a + i] + sb * buf[b + i] + sc * buf[c + i];
    else
      for (let i = 0; i < len; i++)
        buf[dst + i] = sa * buf[a + i] + sb * buf[b + i] + sc * buf[c + i] + sd * buf[d + i];
    return;
  }
  const f = first;
  if (take === 1) for (let i = 0; i < len; i++) buf[dst + i] = buf[f + i] + sa * buf[a + i];
  else if (take === 2)
    for (let i = 0; i < len; i++) buf[dst + i] = buf[f + i] + sa * buf[a + i] + sb * buf[b + i];
  else if (take === 3)
    for (let i = 0; i < len; i++)
      buf[dst + i] = buf[f + i] + sa * buf[a + i] + sb * buf[b + i] + sc * buf[c + i];
  else
    for (let i = 0; i < len; i++)
      buf[dst + i] = buf[f + i] + sa * buf[a + i] + sb * buf[b + i] + sc * buf[c + i] + sd * buf[d + i];
}

/**
 * For each weight, the index of its mirror −w in the list (first unused match), or −1. 0 and
 * weights without a mirror are evaluated on their own.
 */
function mirrorIndex(weights: readonly number[]): Int32Array {
  const mirror = new Int32Array(weights.length).fill(-1);
  for (let k = 0; k < weights.length; k++) {
    if (mirror[k] >= 0 || weights[k] === 0 || !Number.isFinite(weights[k])) continue;
    for (let m = k + 1; m < weights.length; m++) {
      if (mirror[m] < 0 && weights[m] === -weights[k]) {
        mirror[k] = m;
        mirror[m] = k;
        break;
      }
    }
  }
  return mirror;
}

// ---------------------------------------------------------------------------------------------
// Convenience functions on one shared Evaluator (synchronous, so sharing it is safe).

const sharedEvaluator = new Evaluator();

/** Fitness (−mean cross-entropy, ≥ MIN_FITNESS) and accuracy at each weight. */
export function evaluate(
  plan: Plan,
  batch: Batch,
  weights: readonly number[] = SHARED_WEIGHTS,
): GenomeResult {
  return sharedEvaluator.evaluate(plan, batch, weights);
}

/** Softmax probabilities at one weight, example-major (count × outputs). */
export function forwardProbabilities(
  plan: Plan,
  batch: Batch,
  weight: number,
  out?: Float32Array,
): Float32Array {
  return sharedEvaluator.forwardProbabilities(plan, batch, weight, out);
}

/** Predicted class of each example at one weight (argmax, ties → lowest index). */
export function predictLabels(plan: Plan, batch: Batch, weight: number, out?: Int32Array): Int32Array {
  return sharedEvaluator.predictLabels(plan, batch, weight, out);
}

/** Predicted classes at each weight, weight-major (weights × count). */
export function predictLabelsPerWeight(
  plan: Plan,
  batch: Batch,
  weights: readonly number[],
  out?: Int32Array,
): Int32Array {
  return sharedEvaluator.predictLabelsPerWeight(plan, batch, weights, out);
}
