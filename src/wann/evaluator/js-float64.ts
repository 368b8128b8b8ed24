/**
 * The JS float64 backend: node values are float64 (JS arithmetic is double anyway), every loop in
 * plain JS. The reference the kernels are tested against, and the publishing numerics: report.ts
 * (test accuracies of a published model) evaluates with it, which is what the ONNX export
 * computes. Also the float64 softmax exps (`float64LabelExps`, `float64Exps`) that the float64
 * kernel shares.
 *
 * Measured (this 2-core machine while shared, CPU time of one thread, 1,000 MNIST images, the 6
 * shared weights, bench/populations.ts): ~0.65 ms per genome at ~120 connections, ~2.9 ms at ~500,
 * ~13.5 ms at ~2,000 connections with ~380 hidden nodes. What is left is JS scalar arithmetic:
 * ~3–4 ns per transcendental activation or exp, ~0.3–0.7 ns per summed source element.
 */
import {
  applyActivation,
  applyActivation2,
  applyActivationFast,
  applyActivationMirrored,
  fastExp,
  PARITY_MIRRORED,
} from '../activations';
import { PARITY_NONE, type Plan, ROW_CONSTANT } from '../plan';
import type { Batch } from '../types';
import {
  type LogitSources,
  type NumericBackend,
  type Scratch,
  type ScratchLayout,
  scratchLayout,
} from './backend';
import { TermList } from './terms';

/** Widest logit range whose 1/exp cannot overflow a float64 (e^700 < 1e305). */
export const PAIR_RANGE_LIMIT_64 = 700;

export class JsFloat64Backend implements NumericBackend, Scratch {
  readonly tile: number;
  readonly pairRangeLimit = PAIR_RANGE_LIMIT_64;
  readonly fused = null;
  buf = new Float64Array(0);
  layout: ScratchLayout;
  private readonly terms = new TermList();

  constructor(tile: number) {
    this.tile = tile;
    this.layout = scratchLayout({ sumCount: 0, rows: 0, outputs: 0, maxHiddenSources: 0 }, tile, 0, 0);
  }

  prepare(plan: Plan, _batch: Batch): Scratch {
    this.layout = scratchLayout(plan, this.tile, 0, 0);
    const need = this.layout.size;
    if (this.buf.length < need) this.buf = new Float64Array(Math.max(need, Math.ceil(this.buf.length * 1.5)));
    this.terms.reserve(plan);
    return this;
  }

  loadTile(plan: Plan, batch: Batch, t0: number, len: number): void {
    const { buf } = this;
    const { tile } = this.layout;
    const { inputStart, inputSource, sumIndex, rowBias, rowFlags } = plan;
    const x = batch.inputs;
    const count = batch.count;
    float64ConstantRows(buf, this.layout, plan, len);
    for (let r = 0; r < plan.rows; r++) {
      const si = sumIndex[r];
      if (rowFlags[r] & ROW_CONSTANT || si < 0) continue;
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

  forward(plan: Plan, w: number, paired: boolean, len: number): void {
    const { buf, terms } = this;
    const { tile, planeA, planeB } = this.layout;
    const { rowFlags, rowAct, rowParity } = plan;
    for (let r = 0; r < plan.rows; r++) {
      if (rowFlags[r] !== 0) continue;
      const act = rowAct[r];
      const parity = rowParity[r];
      const out = planeA + r * tile;
      this.reduceTerms(plan, r, false, len);
      const { off, sign } = terms;
      if (paired && parity === PARITY_MIRRORED) {
        const b = terms.count > 1 ? off[1] : -1;
        const mirror = planeB + r * tile;
        applyActivationMirrored(
          act,
          w * sign[0],
          buf,
          off[0],
          b,
          sign[0] * sign[1],
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

  gatherLogits(sources: LogitSources, outputs: number, len: number): void {
    const { logitBase, tile, maxBase, minBase } = this.layout;
    gatherLogitRows(this.buf, logitBase, tile, maxBase, minBase, sources.off, sources.scale, outputs, len);
  }

  expSums(outputs: number, len: number, recip: boolean): void {
    const { buf } = this;
    const { logitBase, tile, maxBase, sumBase, recipBase } = this.layout;
    if (recip) expSumsPair(buf, logitBase, tile, maxBase, sumBase, recipBase, outputs, len);
    else expSums(buf, logitBase, tile, maxBase, sumBase, outputs, len);
  }

  labelExps(labels: Uint8Array, t0: number, len: number): void {
    float64LabelExps(this.buf, this.layout, labels, t0, len);
  }

  exps(outputs: number, len: number): void {
    float64Exps(this.buf, this.layout, outputs, len);
  }

  /** buf[out..] = act(w · Σ terms) for the one or two terms `reduceTerms` left. */
  private activate(act: number, w: number, out: number, len: number): void {
    const { buf } = this;
    const { off, sign } = this.terms;
    if (this.terms.count === 1) applyActivation(act, w * sign[0], buf, off[0], buf, out, len);
    else applyActivation2(act, w * sign[0], buf, off[0], off[1], sign[0] * sign[1], buf, out, len);
  }

  /**
   * Row r's terms (`TermList.load`), all but the last summed into the pre-activation row when
   * there are more than two, so one or two terms remain. (±1 signs and sums in this order give
   * exactly the left-to-right sum.)
   */
  private reduceTerms(plan: Plan, r: number, mirrored: boolean, len: number): void {
    const { buf, terms } = this;
    const { preBase } = this.layout;
    terms.load(plan, this.layout, r, mirrored);
    const { off, sign } = terms;
    const n = terms.count;
    if (n <= 2) return;
    // Terms 0..n−2 into the pre-activation row, up to 4 per pass; the last stays a term.
    let e = 0;
    let first = -1;
    while (e < n - 1) {
      const take = Math.min(4, n - 1 - e);
      if (terms.signed) addRowsSigned(buf, preBase, first, off, sign, e, take, len);
      else addRows(buf, preBase, first, off, e, take, len);
      first = preBase;
      e += take;
    }
    off[0] = preBase;
    sign[0] = 1;
    off[1] = off[n - 1];
    sign[1] = sign[n - 1];
    terms.count = 2;
  }
}

// ---------------------------------------------------------------------------------------------
// Float64 precision, shared with the float64 kernel (wasm-float64.ts)

/** Constant rows hold act(0) in plane A, where they are read at every weight (even parity). */
export function float64ConstantRows(buf: Float64Array, layout: ScratchLayout, plan: Plan, len: number): void {
  const { tile, planeA } = layout;
  const { rowFlags, rowAct } = plan;
  for (let r = 0; r < plan.rows; r++) {
    if (rowFlags[r] & ROW_CONSTANT)
      buf.fill(applyActivationFast(rowAct[r], 0), planeA + r * tile, planeA + r * tile + len);
  }
}

/** Per example exp(logit of the label − max), as `fastExp` (what the float64 sums add). */
export function float64LabelExps(
  buf: Float64Array,
  layout: ScratchLayout,
  labels: Uint8Array,
  t0: number,
  len: number,
): void {
  const { tile, logitBase, maxBase, expBase } = layout;
  for (let i = 0; i < len; i++) {
    const at = labels[t0 + i] * tile + i;
    buf[expBase + at] = fastExp(buf[logitBase + at] - buf[maxBase + i]);
  }
}

/** Every output's exp(logit − max), as `fastExp`. */
export function float64Exps(buf: Float64Array, layout: ScratchLayout, outputs: number, len: number): void {
  const { tile, logitBase, maxBase, expBase } = layout;
  for (let j = 0; j < outputs; j++) {
    const off = logitBase + j * tile;
    const eOff = expBase + j * tile;
    for (let i = 0; i < len; i++) buf[eOff + i] = fastExp(buf[off + i] - buf[maxBase + i]);
  }
}

// ---------------------------------------------------------------------------------------------
// The JS loops

/**
 * Logits are clamped into ±LOGIT_LIMIT, NaN to −LOGIT_LIMIT, before the softmax (the kernel's
 * `gather` does the same). A constant of this module, not an import: V8 folds a module's own
 * constant into the loop, an imported binding is loaded (and checked) at every use (measured:
 * the logit gathering ×3 slower).
 */
const LOGIT_LIMIT = 1e300;

/** Clamp a logit into ±LOGIT_LIMIT, NaN → −LOGIT_LIMIT (so a NaN output is the least likely class). */
function finiteLogit(raw: number): number {
  // biome-ignore lint/complexity/useMathMinMax: NaN must become −LOGIT_LIMIT; Math.min/max would keep it
  return raw > -LOGIT_LIMIT ? (raw < LOGIT_LIMIT ? raw : LOGIT_LIMIT) : -LOGIT_LIMIT;
}

/** See `NumericBackend.gatherLogits`. Output-major passes over whole rows: what V8 compiles best. */
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
): void {
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
