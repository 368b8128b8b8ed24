/**
 * What an evaluator's numeric backend does, and the scratch it does it in. The evaluator
 * (evaluator.ts) tiles a batch, walks the shared weights in mirrored pairs and scores each tile:
 * the same for every backend. A backend owns what differs: the precision of the node values and
 * whether the hot loops run in JS or in the WebAssembly kernel (js-float64.ts, wasm-float64.ts,
 * wasm-float32.ts).
 */

import type { Plan } from '../plan';
import type { Batch } from '../types';

/**
 * Element indices into the scratch `buf` (a Float64Array) for one plan:
 * [input sums | values at w (plane A) | values at −w (plane B) | pre-activation row | logits
 * (outputs × tile) | per example: max logit, min logit, Σ exp, Σ 1/exp | exps (outputs × tile) |
 * the kernel's term list | the kernel's programs].
 * The float32 backend keeps its rows as float32 at the same element indices of a Float32Array view
 * of the same memory; logits and the softmax's sums stay float64.
 */
export interface ScratchLayout {
  readonly tile: number;
  readonly planeA: number;
  readonly planeB: number;
  readonly preBase: number;
  readonly logitBase: number;
  readonly maxBase: number;
  readonly minBase: number;
  readonly sumBase: number;
  readonly recipBase: number;
  /** exp(logit − max) per output and example, output-major (`labelExps`, `exps`). */
  readonly expBase: number;
  /** The kernel's term or logit list: (offset, sign or scale) pairs. */
  readonly listBase: number;
  /** The kernel's input-sum program (i32s). */
  readonly progBase: number;
  /** The float32 kernel's `forward32` program (i32s). */
  readonly fwdBase: number;
  /** Doubles the layout needs. */
  readonly size: number;
}

/**
 * The layout of a plan at this tile; `progWords` / `fwdWords`: the i32 words a backend's kernel
 * programs need (0 without them).
 */
export function scratchLayout(
  plan: Pick<Plan, 'sumCount' | 'rows' | 'outputs' | 'maxHiddenSources'>,
  tile: number,
  progWords: number,
  fwdWords: number,
): ScratchLayout {
  const planeA = plan.sumCount * tile;
  const planeB = planeA + plan.rows * tile;
  const preBase = planeB + plan.rows * tile;
  const logitBase = preBase + tile;
  const maxBase = logitBase + plan.outputs * tile;
  const minBase = maxBase + tile;
  const sumBase = minBase + tile;
  const recipBase = sumBase + tile;
  const expBase = recipBase + tile;
  const listBase = expBase + plan.outputs * tile;
  const progBase = listBase + 2 * (Math.max(plan.maxHiddenSources, plan.outputs) + 2);
  const fwdBase = progBase + Math.ceil(progWords / 2);
  const size = fwdBase + Math.ceil(fwdWords / 2);
  return {
    tile,
    planeA,
    planeB,
    preBase,
    logitBase,
    maxBase,
    minBase,
    sumBase,
    recipBase,
    expBase,
    listBase,
    progBase,
    fwdBase,
    size,
  };
}

/** The scratch of the plan being evaluated: valid until the next `prepare`. */
export interface Scratch {
  readonly buf: Float64Array;
  readonly layout: ScratchLayout;
}

/** Where each output's logit is read (an element index in `buf`) and the factor it is read with. */
export interface LogitSources {
  readonly off: Int32Array;
  readonly scale: Float64Array;
}

/**
 * One numeric backend. Every method works on the scratch of the last `prepare`, one tile of
 * examples t0..t0+len (len ≤ tile) at a time.
 */
export interface NumericBackend {
  /** Examples per tile: the asked tile rounded up to the backend's vector width. */
  readonly tile: number;
  /**
   * Largest max − min logit range for which the softmax at −w is computed as 1/exp of the
   * softmax's exps at w (no overflow of 1/exp in this precision).
   */
  readonly pairRangeLimit: number;
  /**
   * Lay the scratch out for the plan and make the batch's inputs ready (once per evaluation);
   * with `fused`, room for that many scoring jobs (`FusedScoring`).
   */
  prepare(plan: Plan, batch: Batch, scoreJobs?: number): Scratch;
  /** The fused scoring pass, where the backend has one (the float32 kernel), else null. */
  readonly fused: FusedScoring | null;
  /** Input sums (bias count + Σ input rows) of the tile, and the constant rows' values. */
  loadTile(plan: Plan, batch: Batch, t0: number, len: number): void;
  /**
   * All row values at weight w into plane A, and, when `paired`, at −w into plane B for the rows
   * whose parity does not give them for free.
   */
  forward(plan: Plan, w: number, paired: boolean, len: number): void;
  /**
   * The tile's logits, clamped into ±1e300 (NaN → −1e300, the least likely class), into the logit block
   * (output-major), and per example their max and min.
   */
  gatherLogits(sources: LogitSources, outputs: number, len: number): void;
  /** Per example Σ_j exp(logit_j − max) at sumBase, and with `recip` Σ_j 1/exp(…) at recipBase. */
  expSums(outputs: number, len: number, recip: boolean): void;
  /** Per example, exp(logit of its label − max) at its place in the exps, as `expSums` summed it. */
  labelExps(labels: Uint8Array, t0: number, len: number): void;
  /** Every output's exp(logit − max) in the exps, as `expSums` summed them. */
  exps(outputs: number, len: number): void;
}

/**
 * A tile's scoring in one kernel call for every view (the float32 kernel): gather, the pair
 * decision, exps and the scoring loop, the same float operations in the same order as the
 * evaluator's JS `score`, so the results are the same bits. Jobs (a view's logit sources at w and
 * −w) depend on the weight only, not on the tile: they are written once per evaluation.
 */
export interface FusedScoring {
  /**
   * Job `job`: its logit sources at w, and at −w (`minusW`, null where the scores at −w are those
   * at w or it has no mirror); `pairAllowed`: its outputs are odd and −w is asked for, so the
   * softmax at −w may come from the exps at w where the tile's logit range allows.
   */
  writeJob(
    job: number,
    outputs: number,
    atW: LogitSources,
    minusW: LogitSources | null,
    pairAllowed: boolean,
  ): void;
  /**
   * Score jobs first..first+count−1 on the tile: afterwards `logLik(v, side)` / `correct(v, side)`
   * (side 0: w, 1: −w) for v < count, the tile's Σ ln p(label) and correct examples.
   */
  scoreTile(first: number, count: number, outputs: number, labels: Uint8Array, t0: number, len: number): void;
  logLik(v: number, side: number): number;
  correct(v: number, side: number): number;
}
