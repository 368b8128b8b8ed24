/**
 * A genome compiled for evaluation (`compile` → `Plan`), and plans merged so that the rows they
 * share are evaluated once (`mergePlans`). The evaluators (src/wann/evaluator/) run plans; this
 * file knows nothing of how.
 *
 * - Nodes that cannot reach an output are dropped at compile time; the rest are "rows" in
 *   topological order with CSR source lists, so the cost of a plan is ∝ enabled connections.
 * - The part of each node's sum that comes from the bias and inputs does not depend on the shared
 *   weight: a row records it as an "input sum" (computed once per batch by the evaluator).
 * - Weight mirroring: the shared weights come in pairs ±w. A row whose hidden sources are all even
 *   (value at −w = value at w) has pre(−w) = −pre(w), so its value at −w is ± its value at w when
 *   its activation is even/odd, or follows from a cheap identity (sigmoid, relu, step): the row's
 *   parity, fixed here, lets the evaluator compute those rows once per pair.
 * - Linear outputs fed only by the bias/inputs (every output of an unmutated genome) are flagged
 *   ROW_LOGIT_VIEW: never materialised, the softmax reads w · input sum directly.
 * - Shared rows (`mergePlans`): the members of a slice are children of a few parents, so most of
 *   their rows are structurally the same row; merged, each is evaluated once per tile and weight
 *   pair, and each member is scored from its own output rows. Bit-identical to evaluating each
 *   member alone (×1.84 at ~2,000 connections on one thread, bench/results/core.json).
 */
import { ACTIVATION_COUNT, ACTIVATION_IDS } from './activation-ids';
import { activationParity, applyActivationFast, PARITY_EVEN, PARITY_ODD } from './activations';
import { firstHidden, type Genome, GenomeFormatError } from './genome';

/** Row parity: the value at −w must be computed on its own. */
export const PARITY_NONE = 0;

/** Row flag: no enabled incoming connection, so the value is act(0) for every example and weight. */
export const ROW_CONSTANT = 1;
/** Row flag: a linear output fed only by bias/inputs, not a source: its logit is w · input sum. */
export const ROW_LOGIT_VIEW = 2;

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
  /** ROW_CONSTANT / ROW_LOGIT_VIEW flags per row. */
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
    if (!(act >= 1 && act <= ACTIVATION_COUNT))
      throw new GenomeFormatError(`node ${v} has unknown activation id ${act}`);
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
    if (noHidden && sumIndex[r] < 0) rowFlags[r] = ROW_CONSTANT;
    else if (noHidden && rowAct[r] === ACTIVATION_IDS.linear && rowNode[r] < hidden0 && !usedAsSource[r])
      rowFlags[r] = ROW_LOGIT_VIEW;
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
    if (rowFlags[r] & ROW_CONSTANT) {
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
    if (rowFlags[r] & ROW_CONSTANT && applyActivationFast(rowAct[r], 0) === 0) continue;
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
