/**
 * The float64 kernel backend (`precision: 'f64'`): the JS backend's numerics with the hot loops
 * in the WebAssembly SIMD kernel (src/wann/kernel/), two examples per f64x2: sums, the per-tile
 * input sums (from a float32 copy of the batch's inputs), activation rows, logit gathering and the
 * softmax's exps. The same results as the JS backend but for exp-based values (gaussian, tanh,
 * sigmoid, softmax sums: within ~1 ulp). Measured A/B on one thread (bench/kernel-ab.ts): ×1.9 at
 * ~120 connections and ×2.45 at ~2,000 over the JS backend.
 */
import { PARITY_MIRRORED } from '../activations';
import type { Kernel } from '../kernel/kernel';
import { PARITY_NONE, type Plan } from '../plan';
import type { Batch } from '../types';
import { type LogitSources, type NumericBackend, type Scratch, scratchLayout } from './backend';
import { float64ConstantRows, float64Exps, float64LabelExps, PAIR_RANGE_LIMIT_64 } from './js-float64';
import { inputProgramWords, KernelScratch } from './kernel-scratch';
import { TermList } from './terms';

export class WasmFloat64Backend implements NumericBackend {
  /** The kernel works two examples at a time: an odd tile is rounded up. */
  readonly tile: number;
  readonly pairRangeLimit = PAIR_RANGE_LIMIT_64;
  readonly fused = null;
  private readonly scratch: KernelScratch;
  private readonly terms = new TermList();

  constructor(kernel: Kernel, tile: number, inputCacheBytes: number) {
    this.tile = tile + (tile & 1);
    const empty = scratchLayout({ sumCount: 0, rows: 0, outputs: 0, maxHiddenSources: 0 }, this.tile, 0, 0);
    this.scratch = new KernelScratch(kernel, empty, inputCacheBytes);
  }

  prepare(plan: Plan, batch: Batch): Scratch {
    this.scratch.prepare(scratchLayout(plan, this.tile, inputProgramWords(plan), 0), plan, batch);
    this.terms.reserve(plan);
    return this.scratch;
  }

  loadTile(plan: Plan, batch: Batch, t0: number, len: number): void {
    const { scratch } = this;
    float64ConstantRows(scratch.buf, scratch.layout, plan, len);
    const x = scratch.tileInputs(batch, t0, len);
    scratch.kernel.insums(scratch.progByte, scratch.progRows, x, len);
  }

  /** Every row's terms summed in one kernel call (or read in place when one), then activated. */
  forward(plan: Plan, w: number, paired: boolean, len: number): void {
    const { scratch, terms } = this;
    const { layout } = scratch;
    const { tile, planeA, planeB } = layout;
    const { rowFlags, rowAct, rowParity } = plan;
    const { act, mirror } = scratch.kernel;
    for (let r = 0; r < plan.rows; r++) {
      if (rowFlags[r] !== 0) continue;
      const id = rowAct[r];
      const parity = rowParity[r];
      const out = planeA + r * tile;
      terms.load(plan, layout, r, false);
      let src = this.sumTerms(len);
      // A single term is read in place: its sign goes into the weight.
      let ws = terms.count === 1 ? w * terms.sign[0] : w;
      if (paired && parity === PARITY_MIRRORED) {
        mirror[id](ws, src, out, planeB + r * tile, len);
        continue;
      }
      act[id](ws, src, out, len);
      if (paired && parity === PARITY_NONE) {
        terms.load(plan, layout, r, true);
        src = this.sumTerms(len);
        ws = terms.count === 1 ? -w * terms.sign[0] : -w;
        act[id](ws, src, planeB + r * tile, len);
      }
    }
  }

  /**
   * Where the loaded terms' sum is read: a single term in place, more summed by the kernel (from
   * their (offset, sign) list at listBase) into the pre-activation row.
   */
  private sumTerms(len: number): number {
    const { terms, scratch } = this;
    const { buf, layout } = scratch;
    const n = terms.count;
    if (n === 1) return terms.off[0];
    const { listBase, preBase } = layout;
    for (let t = 0; t < n; t++) {
      buf[listBase + 2 * t] = terms.off[t];
      buf[listBase + 2 * t + 1] = terms.sign[t];
    }
    scratch.kernel.sum(preBase, listBase, n, terms.signed ? 1 : 0, len);
    return preBase;
  }

  gatherLogits(sources: LogitSources, outputs: number, len: number): void {
    const { scratch } = this;
    const { logitBase, tile, maxBase, minBase, listBase } = scratch.layout;
    scratch.writeLogitList(sources, outputs);
    scratch.kernel.gather(logitBase, tile, maxBase, minBase, listBase, outputs, len);
  }

  expSums(outputs: number, len: number, recip: boolean): void {
    const { logitBase, tile, maxBase, sumBase, recipBase } = this.scratch.layout;
    this.scratch.kernel.expsums(logitBase, tile, maxBase, sumBase, recip ? recipBase : -1, outputs, len);
  }

  labelExps(labels: Uint8Array, t0: number, len: number): void {
    float64LabelExps(this.scratch.buf, this.scratch.layout, labels, t0, len);
  }

  exps(outputs: number, len: number): void {
    float64Exps(this.scratch.buf, this.scratch.layout, outputs, len);
  }
}
