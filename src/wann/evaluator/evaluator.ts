/**
 * Running a compiled plan (plan.ts) on a batch at every shared weight: the `Evaluator`, one class
 * for every numeric backend. It owns what does not depend on the numerics: tiling, the walk over
 * the weights in mirrored pairs, merged plans, where each logit is read, and the scoring; the
 * backend (backend.ts) owns the precision of the node values and whether the hot loops run in JS
 * or in the WebAssembly kernel:
 * - js-float64.ts: float64, plain JS. The publishing numerics (report.ts; the ONNX export
 *   computes the same) and the reference the kernels are tested against.
 * - wasm-float64.ts (`kernel`, `precision: 'f64'`): the same numerics (exp-based values within
 *   ~1 ulp) with the kernel's f64x2 loops.
 * - wasm-float32.ts (`kernel`, the default precision with one): the search numerics, float32
 *   node values four examples per f32x4. A search's results depend on them: where they are asked
 *   for and the kernel cannot start, the evaluator throws `KernelStartError`; it never carries on
 *   with other numerics.
 *
 * Semantics (WANN.md): with shared weight w, node value = act(w · Σ enabled incoming sources), the
 * bias outputs 1, an input outputs its pixel value, an empty sum is 0 (so a hidden node with no
 * enabled input outputs act(0), e.g. gaussian(0) = cos(0) = 1). Outputs have activations too.
 * Classification is softmax over the outputs (row max subtracted first). Fitness per weight is
 * −mean cross-entropy with the label's probability clamped to ≥ 1e-12, so fitness ∈ [−27.631…, 0]
 * (MIN_FITNESS = ln 1e-12); accuracy is argmax == label with ties going to the lowest index.
 *
 * Where the time goes, and what this does about it (see DESIGN.md "Where evaluation time goes"):
 * - Values live batch-major (row × example) in one scratch allocated once and reused, a tile of
 *   examples at a time (bounded memory for 10,000-image test sets, rows that stay in cache).
 * - Input sums (bias + inputs) are computed once per tile and shared by all weights.
 * - Weight mirroring: rows whose value at −w follows from their value at w (`Plan.rowParity`)
 *   are computed once per pair; and when every output is odd, the softmax at −w reuses the exps.
 * - Activations and the softmax's exp are the fast polynomial versions of `activations.ts`.
 * - Scoring (float32 kernel): one `score32` call per tile and weight pair scores every view
 *   (gather, exps, the cross-entropy product and the argmax count), the JS `score` loop's float
 *   operations in the same order; only the logs of its few flushed products are taken in JS.
 * - Shared rows (`evaluateMany`): the members of a slice are merged (`mergePlans`) and each
 *   distinct row is evaluated once per tile and weight pair.
 */
import { SHARED_WEIGHTS } from '../activation-ids';
import { PARITY_EVEN, PARITY_ODD } from '../activations';
import { Kernel } from '../kernel/kernel';
import { MAX_MERGED_ROWS, type MergedPlans, mergePlans, type Plan, ROW_LOGIT_VIEW } from '../plan';
import type { Batch, GenomeResult } from '../types';
import type { FusedScoring, LogitSources, NumericBackend, Scratch } from './backend';
import { JsFloat64Backend } from './js-float64';
import { INPUT_CACHE_BYTES } from './kernel-scratch';
import { WasmFloat32Backend } from './wasm-float32';
import { WasmFloat64Backend } from './wasm-float64';

/** Probabilities are clamped to at least this before the log, so a fitness is ≥ ln(1e-12). */
export const MIN_PROBABILITY = 1e-12;
/** The lowest possible fitness, ln(1e-12) = −27.631021115928547. */
export const MIN_FITNESS = Math.log(MIN_PROBABILITY);

export interface EvaluatorOptions {
  /** Examples processed together (the length of a scratch row). Default 256. */
  tile?: number;
  /**
   * The compiled WebAssembly SIMD kernel (src/wann/kernel/kernel.wasm, see kernel/kernel.ts), or
   * nothing for the JS float64 backend. With `precision` 'f64' the same results as the JS backend
   * (exp-based values within ~1 ulp), ~2× faster on grown genomes, an odd tile rounded up to even;
   * with 'f32' (the default) the float32 search numerics, ~2× faster again, the tile rounded up to
   * a multiple of 4. If it cannot be instantiated the constructor throws `KernelStartError`.
   */
  kernel?: WebAssembly.Module;
  /**
   * The numerics. With a kernel: 'f32' (default), the search numerics (wasm-float32.ts), or 'f64',
   * the float64 kernel. Without one: float64 (the publishing numerics, equal to the ONNX); asking
   * for 'f32' without a kernel throws, since only the kernel has them.
   */
  precision?: 'f32' | 'f64';
  /**
   * With a kernel: largest batch `inputs` (bytes of float32) copied whole into the kernel's memory
   * and reused while the same batch comes back; larger batches are copied per tile. Default 16 MiB.
   */
  inputCacheBytes?: number;
  /**
   * Score each tile in one kernel call for all views (the float32 kernel's `score32`: gather,
   * exps and the scoring loop, the same float operations in the same order as the JS scoring, so
   * the same bits). Default true; false keeps the JS scoring loop (the reference the fused pass is
   * tested against). Backends without it always score in JS.
   */
  fusedScoring?: boolean;
  /**
   * The float32 kernel's softmax exps from `expFast32` (activations.ts: relative error ≤ 1e-5,
   * against exp32's 1.2e-7) instead of exp32. Off by default: other numerics, so other fitness
   * bits and another search trajectory; every evaluator of one search must agree on it. Only with
   * precision 'f32'.
   */
  fastExp?: boolean;
}

/** The backend the options ask for; throws rather than choose other numerics than asked. */
function numericBackend(options: EvaluatorOptions): NumericBackend {
  const tile = options.tile ?? 256;
  if (!(Number.isInteger(tile) && tile >= 1)) throw new RangeError('tile must be a positive integer');
  const { precision } = options;
  if (precision !== undefined && precision !== 'f32' && precision !== 'f64')
    throw new RangeError(`precision must be 'f32' or 'f64'`);
  if (!options.kernel) {
    if (precision === 'f32' || options.fastExp)
      throw new RangeError(`precision 'f32' needs the wasm kernel (options.kernel)`);
    return new JsFloat64Backend(tile);
  }
  if (options.fastExp && precision === 'f64') throw new RangeError(`fastExp is a float32 option`);
  const kernel = new Kernel(options.kernel); // throws KernelStartError
  const inputCacheBytes = options.inputCacheBytes ?? INPUT_CACHE_BYTES;
  return precision === 'f64'
    ? new WasmFloat64Backend(kernel, tile, inputCacheBytes)
    : new WasmFloat32Backend(kernel, tile, inputCacheBytes, options.fastExp === true);
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
  private readonly backend: NumericBackend;
  /** The backend's fused scoring pass, unless the options turn it off. */
  private readonly fused: FusedScoring | null;
  /** Where each output's logit is read at the current weight (`prepareLogits`). */
  private logits: LogitSources = { off: new Int32Array(16), scale: new Float64Array(16) };
  /** The same at −w, for a fused scoring job. */
  private logitsMinus: LogitSources = { off: new Int32Array(16), scale: new Float64Array(16) };
  /** The last `score`: Σ ln p(label) and correct examples at w, and (pair) at −w. */
  private tileLogLik = 0;
  private tileCorrect = 0;
  private tileLogLik2 = 0;
  private tileCorrect2 = 0;

  /** Throws KernelStartError where a kernel is given and cannot start. */
  constructor(options: EvaluatorOptions = {}) {
    this.backend = numericBackend(options);
    this.fused = options.fusedScoring === false ? null : this.backend.fused;
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

  /** Softmax probabilities at one weight, example-major: out[i·outputs + j]. */
  forwardProbabilities(plan: Plan, batch: Batch, weight: number, out?: Float32Array): Float32Array {
    checkBatch(plan, batch, false);
    const size = batch.count * plan.outputs;
    const probs = out ?? new Float32Array(size);
    if (probs.length < size) throw new RangeError(`out has ${probs.length} entries, needs ${size}`);
    const { backend } = this;
    const no = plan.outputs;
    this.sweep(plan, batch, [weight], (s, t0, len) => {
      this.prepareLogits(s, plan, weight, false);
      backend.gatherLogits(this.logits, no, len);
      backend.expSums(no, len, false);
      backend.exps(no, len);
      const { buf } = s;
      const { tile, expBase, sumBase } = s.layout;
      for (let j = 0; j < no; j++) {
        const eOff = expBase + j * tile;
        for (let i = 0; i < len; i++) probs[(t0 + i) * no + j] = buf[eOff + i] / buf[sumBase + i];
      }
    });
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
    const { backend } = this;
    this.sweep(plan, batch, weights, (s, t0, len, k, m) => {
      this.prepareLogits(s, plan, weights[k], false);
      backend.gatherLogits(this.logits, plan.outputs, len);
      argmaxInto(s, len, labels, k * count + t0);
      if (m < 0) return;
      this.prepareLogits(s, plan, -weights[k], true);
      backend.gatherLogits(this.logits, plan.outputs, len);
      argmaxInto(s, len, labels, m * count + t0);
    });
    return labels;
  }

  /** Predicted class at one weight (argmax, ties → lowest index). */
  predictLabels(plan: Plan, batch: Batch, weight: number, out?: Int32Array): Int32Array {
    return this.predictLabelsPerWeight(plan, batch, [weight], out);
  }

  // -------------------------------------------------------------------------------------------

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
    const logLiks = views.map(() => new Float64Array(nw));
    const corrects = views.map(() => new Float64Array(nw));
    if (this.fused) this.scoreFused(this.fused, plan, views, batch, weights, logLiks, corrects);
    else this.scoreInJs(plan, views, batch, weights, logLiks, corrects);
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

  /** `evaluateViews`' scoring in JS: per tile, weight pair and view, gather, exps, `score`. */
  private scoreInJs(
    plan: Plan,
    views: readonly Plan[],
    batch: Batch,
    weights: readonly number[],
    logLiks: Float64Array[],
    corrects: Float64Array[],
  ): void {
    const { backend } = this;
    this.sweep(plan, batch, weights, (s, t0, len, k, m) => {
      for (let v = 0; v < views.length; v++) {
        const view = views[v];
        const logLik = logLiks[v];
        const correct = corrects[v];
        this.prepareLogits(s, view, weights[k], false);
        backend.gatherLogits(this.logits, view.outputs, len);
        // Logits at −w are the negated logits at w: both softmaxes from one set of exps.
        const pairOdd =
          m >= 0 && view.outputParity === PARITY_ODD && logitRange(s, len) <= backend.pairRangeLimit;
        this.score(s, view, batch.labels, t0, len, pairOdd);
        logLik[k] += this.tileLogLik;
        correct[k] += this.tileCorrect;
        if (m < 0) continue;
        if (pairOdd) {
          logLik[m] += this.tileLogLik2;
          correct[m] += this.tileCorrect2;
          continue;
        }
        if (view.outputParity !== PARITY_EVEN) {
          this.prepareLogits(s, view, -weights[k], true);
          backend.gatherLogits(this.logits, view.outputs, len);
          this.score(s, view, batch.labels, t0, len, false);
        } // else the logits at −w are the same, and so are the scores
        logLik[m] += this.tileLogLik;
        correct[m] += this.tileCorrect;
      }
    });
  }

  /**
   * `evaluateViews`' scoring with the backend's fused pass: per tile and weight pair one call for
   * every view. A view's jobs (its logit sources at w and −w) are written on the first tile.
   * What it adds up is what the JS scoring adds up, in the same order.
   */
  private scoreFused(
    fused: FusedScoring,
    plan: Plan,
    views: readonly Plan[],
    batch: Batch,
    weights: readonly number[],
    logLiks: Float64Array[],
    corrects: Float64Array[],
  ): void {
    const nv = views.length;
    this.sweep(
      plan,
      batch,
      weights,
      (s, t0, len, k, m) => {
        const first = k * nv;
        if (t0 === 0) {
          for (let v = 0; v < nv; v++) {
            const view = views[v];
            this.prepareLogits(s, view, weights[k], false, this.logits);
            const minusW = m >= 0 && view.outputParity !== PARITY_EVEN;
            if (minusW) this.prepareLogits(s, view, -weights[k], true, this.logitsMinus);
            const pairAllowed = m >= 0 && view.outputParity === PARITY_ODD;
            fused.writeJob(
              first + v,
              plan.outputs,
              this.logits,
              minusW ? this.logitsMinus : null,
              pairAllowed,
            );
          }
        }
        fused.scoreTile(first, nv, plan.outputs, batch.labels, t0, len);
        for (let v = 0; v < nv; v++) {
          const tileLogLik = fused.logLik(v, 0);
          const tileCorrect = fused.correct(v, 0);
          logLiks[v][k] += tileLogLik;
          corrects[v][k] += tileCorrect;
          if (m < 0) continue;
          // Even outputs: the logits at −w are those at w, and so are the scores.
          if (views[v].outputParity === PARITY_EVEN) {
            logLiks[v][m] += tileLogLik;
            corrects[v][m] += tileCorrect;
          } else {
            logLiks[v][m] += fused.logLik(v, 1);
            corrects[v][m] += fused.correct(v, 1);
          }
        }
      },
      weights.length * nv,
    );
  }

  /**
   * The walk every evaluation shares: tile by tile, the weights in mirrored pairs (w at k, −w at
   * m ≥ 0; m = −1 for a weight without its mirror in the list), the rows at w (and, paired, at −w)
   * computed, then `visit` reads them.
   */
  private sweep(
    plan: Plan,
    batch: Batch,
    weights: readonly number[],
    visit: (s: Scratch, t0: number, len: number, k: number, m: number) => void,
    scoreJobs = 0,
  ): void {
    const { backend } = this;
    const mirror = mirrorIndex(weights);
    const s = backend.prepare(plan, batch, scoreJobs);
    if (this.logits.off.length < plan.outputs) {
      this.logits = { off: new Int32Array(plan.outputs), scale: new Float64Array(plan.outputs) };
      this.logitsMinus = { off: new Int32Array(plan.outputs), scale: new Float64Array(plan.outputs) };
    }
    for (let t0 = 0; t0 < batch.count; t0 += backend.tile) {
      const len = Math.min(backend.tile, batch.count - t0);
      backend.loadTile(plan, batch, t0, len);
      for (let k = 0; k < weights.length; k++) {
        const m = mirror[k];
        if (m >= 0 && m < k) continue; // done with its pair
        backend.forward(plan, weights[k], m >= 0, len);
        visit(s, t0, len, k, m);
      }
    }
  }

  /**
   * Where each output's logit is read from at `weight`: mirrored (the −w of a pair) reads rows
   * through their parity; ROW_LOGIT_VIEW rows are weight · input sum.
   */
  private prepareLogits(
    s: Scratch,
    plan: Plan,
    weight: number,
    mirrored: boolean,
    into: LogitSources = this.logits,
  ): void {
    const { off, scale } = into;
    const { tile, planeA, planeB } = s.layout;
    for (let j = 0; j < plan.outputs; j++) {
      const r = plan.outputRow[j];
      const parity = plan.rowParity[r];
      if (plan.rowFlags[r] & ROW_LOGIT_VIEW) {
        off[j] = plan.sumIndex[r] * tile;
        scale[j] = weight;
      } else if (!mirrored || parity === PARITY_EVEN || parity === PARITY_ODD) {
        off[j] = planeA + r * tile;
        scale[j] = mirrored && parity === PARITY_ODD ? -1 : 1;
      } else {
        off[j] = planeB + r * tile;
        scale[j] = 1;
      }
    }
  }

  /**
   * From gathered logits: Σ ln p(label) (p clamped ≥ 1e-12) and the number of examples whose argmax
   * (ties → lowest index) is the label, into tileLogLik/tileCorrect. With `pair` (the logits at −w
   * are exactly the negated logits at w, max − min ≤ pairRangeLimit) also at −w into
   * tileLogLik2/tileCorrect2: with e_j = exp(l_j − max), the softmax at −w is (1/e_j) / Σ(1/e_k),
   * a division instead of an exp, and the argmax at −w is the argmin at w (ties → lowest index
   * either way).
   */
  private score(s: Scratch, plan: Plan, labels: Uint8Array, t0: number, len: number, pair: boolean): void {
    this.backend.expSums(plan.outputs, len, pair);
    this.backend.labelExps(labels, t0, len);
    const { buf } = s;
    const { tile, logitBase, maxBase, minBase, sumBase, recipBase, expBase } = s.layout;
    let logLik = 0;
    let logLik2 = 0;
    // Product of clamped probabilities, flushed through one log when it gets small: each factor is
    // ≥ 1e-12 and the product stays ≥ 1e-300, so one Math.log per ~25 examples instead of one each.
    let product = 1;
    let product2 = 1;
    let correct = 0;
    let correct2 = 0;
    for (let i = 0; i < len; i++) {
      const label = labels[t0 + i];
      const logit = buf[logitBase + label * tile + i];
      const max = buf[maxBase + i];
      const e = buf[expBase + label * tile + i];
      product *= Math.max(e / buf[sumBase + i], MIN_PROBABILITY);
      if (product < 1e-288) {
        logLik += Math.log(product);
        product = 1;
      }
      if (logit === max && firstAt(buf, logitBase, tile, i, label, max)) correct++;
      if (!pair) continue;
      const min = buf[minBase + i];
      product2 *= Math.max(1 / e / buf[recipBase + i], MIN_PROBABILITY);
      if (product2 < 1e-288) {
        logLik2 += Math.log(product2);
        product2 = 1;
      }
      if (logit === min && firstAt(buf, logitBase, tile, i, label, min)) correct2++;
    }
    this.tileLogLik = logLik + Math.log(product);
    this.tileCorrect = correct;
    this.tileLogLik2 = logLik2 + Math.log(product2);
    this.tileCorrect2 = correct2;
  }
}

/** The largest max − min of the gathered logits over the tile. */
function logitRange(s: Scratch, len: number): number {
  const { buf } = s;
  const { maxBase, minBase } = s.layout;
  let range = 0;
  for (let i = 0; i < len; i++) range = Math.max(range, buf[maxBase + i] - buf[minBase + i]);
  return range;
}

/** Argmax of the gathered logits (the first output equal to the max: ties → lowest index). */
function argmaxInto(s: Scratch, len: number, out: Int32Array, o: number): void {
  const { buf } = s;
  const { tile, logitBase, maxBase } = s.layout;
  for (let i = 0; i < len; i++) {
    const max = buf[maxBase + i];
    let j = 0;
    while (buf[logitBase + j * tile + i] !== max) j++;
    out[o + i] = j;
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
