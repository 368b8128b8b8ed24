/**
 * The float32 kernel backend, the search numerics (`precision: 'f32'`, the default with a kernel).
 * Node values are float32, four examples per f32x4: input sums (bias + inputs, each addition
 * rounded to float32), hidden sums, pre-activations w·Σ (w rounded to float32) and activations
 * (float32 polynomials: `applyActivation32` / `exp32` in activations.ts are their exact model);
 * logits, the softmax sums (of float32 exps) and the fitness stay float64. The tile is rounded up
 * to a multiple of 4, and one `forward32` call evaluates every row of a tile from a per-plan
 * program (no JS between rows). Every operation is a plain IEEE-754 float32/float64 operation (no
 * fused multiply-add, no relaxed SIMD), so the bits are the same on every engine: Node worker
 * threads, workerd, any CPU.
 *
 * Scoring is fused (`FusedScoring`, the kernel's `score32`): one call per tile and weight pair
 * gathers, exponentiates and scores every view with the JS loop's float64 operations in its order.
 * With `fastExp` (off by default) the softmax's exps are expFast32's (activations.ts): other bits.
 *
 * What this changes: fitness values differ from the float64 backends by ~1e-7 typically (≤ 1e-3
 * for the 99th percentile of random test genomes; float32 rounding of a pre-activation of ~100
 * moves sin(πx) by ~1e-5), so a search's trajectory differs from a float64 one, and is itself
 * fully deterministic. Measured A/B on one thread, bench/kernel-ab.ts: ×2.17 over the float64
 * kernel at ~2,000 connections (see README "Core benchmark" for the current figures).
 */
import { ACTIVATION_COUNT } from '../activation-ids';
import { KERNEL_BUF_BYTE, type Kernel } from '../kernel/kernel';
import { PARITY_NONE, type Plan, ROW_CONSTANT } from '../plan';
import type { Batch } from '../types';
import {
  type FusedScoring,
  type LogitSources,
  type NumericBackend,
  type Scratch,
  type ScratchLayout,
  scratchLayout,
} from './backend';
import { inputProgramWords, KernelScratch } from './kernel-scratch';
import { TermList } from './terms';

/** Widest logit range whose 1/exp cannot overflow (e^−80 is still a normal float32). */
export const PAIR_RANGE_LIMIT_32 = 80;

export class WasmFloat32Backend implements NumericBackend, FusedScoring {
  /** The kernel works four examples at a time: the tile is rounded up to a multiple of 4. */
  readonly tile: number;
  readonly pairRangeLimit = PAIR_RANGE_LIMIT_32;
  private readonly scratch: KernelScratch;
  private readonly terms = new TermList();
  /** act(0) per activation id as the float32 kernel computes it (the constant rows' value). */
  private readonly constant32 = new Float64Array(ACTIVATION_COUNT + 1);
  /** Rows in the `forward32` program. */
  private fwdRows = 0;
  readonly fused: FusedScoring = this;
  /** The fused scoring's room, element indices after the layout (`prepare`). */
  private jobBase = 0;
  private resBase = 0;
  private labelBase = 0;
  /** Doubles of one tally record: correct, last product, flushes, the flushed products. */
  private readonly slot: number;

  /** The softmax's exps from expFast32 (activations.ts) instead of exp32: other numerics. */
  private readonly fastExp: boolean;

  constructor(kernel: Kernel, tile: number, inputCacheBytes: number, fastExp = false) {
    this.tile = (tile + 3) & ~3;
    this.fastExp = fastExp;
    // A flush takes ≥ 24 examples (each factor ≥ 1e-12, flushed below 1e-288): ≤ tile/24 + 1.
    this.slot = 3 + (this.tile >> 4) + 2;
    const empty = scratchLayout({ sumCount: 0, rows: 0, outputs: 0, maxHiddenSources: 0 }, this.tile, 0, 0);
    this.scratch = new KernelScratch(kernel, empty, inputCacheBytes);
    const v = kernel.view32();
    for (let id = 1; id <= ACTIVATION_COUNT; id++) {
      v.fill(0, 0, 8);
      kernel.act32[id](1, 0, 4, 4);
      this.constant32[id] = v[4];
    }
  }

  prepare(plan: Plan, batch: Batch, scoreJobs = 0): Scratch {
    // The forward program: at most 5 words a row and 4 per term.
    const fwdWords = 5 * plan.rows + 4 * (plan.hiddenSource.length + plan.rows) + 4;
    this.scratch.prepare(
      this.withScoring(scratchLayout(plan, this.tile, inputProgramWords(plan), fwdWords), plan, scoreJobs),
      plan,
      batch,
    );
    this.terms.reserve(plan);
    this.writeForwardProgram(plan);
    return this.scratch;
  }

  loadTile(plan: Plan, batch: Batch, t0: number, len: number): void {
    const { scratch, constant32 } = this;
    const { buf32, layout } = scratch;
    const { tile, planeA } = layout;
    const { rowFlags, rowAct } = plan;
    for (let r = 0; r < plan.rows; r++) {
      if (rowFlags[r] & ROW_CONSTANT)
        buf32.fill(constant32[rowAct[r]], planeA + r * tile, planeA + r * tile + len);
    }
    const x = scratch.tileInputs(batch, t0, len);
    scratch.kernel.insums32(scratch.progByte, scratch.progRows, x, len);
  }

  /** The whole tile in one call, from the program. */
  forward(_plan: Plan, w: number, paired: boolean, len: number): void {
    const { scratch } = this;
    const prog = KERNEL_BUF_BYTE + scratch.layout.fwdBase * 8;
    scratch.kernel.forward32(prog, this.fwdRows, w, paired ? 1 : 0, scratch.layout.preBase, len);
  }

  gatherLogits(sources: LogitSources, outputs: number, len: number): void {
    const { scratch } = this;
    const { logitBase, tile, maxBase, minBase, listBase } = scratch.layout;
    scratch.writeLogitList(sources, outputs);
    scratch.kernel.gather32(logitBase, tile, maxBase, minBase, listBase, outputs, len);
  }

  /** The sums of float32 exps, each exp also stored at expBase (read back, never recomputed). */
  expSums(outputs: number, len: number, recip: boolean): void {
    const { logitBase, tile, maxBase, sumBase, recipBase, expBase } = this.scratch.layout;
    const { kernel } = this.scratch;
    (this.fastExp ? kernel.expsums32fast : kernel.expsums32)(
      logitBase,
      tile,
      maxBase,
      sumBase,
      recip ? recipBase : -1,
      expBase,
      outputs,
      len,
    );
  }

  labelExps(_labels: Uint8Array, _t0: number, _len: number): void {
    // `expSums` stored every exp.
  }

  exps(_outputs: number, _len: number): void {
    // `expSums` stored them.
  }

  writeJob(
    job: number,
    outputs: number,
    atW: LogitSources,
    minusW: LogitSources | null,
    pairAllowed: boolean,
  ): void {
    const { buf } = this.scratch;
    const o = this.jobBase + job * (4 * outputs + 2);
    for (let j = 0; j < outputs; j++) {
      buf[o + 2 * j] = atW.off[j];
      buf[o + 2 * j + 1] = atW.scale[j];
    }
    if (minusW) {
      for (let j = 0; j < outputs; j++) {
        buf[o + 2 * outputs + 2 * j] = minusW.off[j];
        buf[o + 2 * outputs + 2 * j + 1] = minusW.scale[j];
      }
    }
    buf[o + 4 * outputs] = minusW ? 1 : 0;
    buf[o + 4 * outputs + 1] = pairAllowed ? 1 : 0;
  }

  scoreTile(
    first: number,
    count: number,
    outputs: number,
    labels: Uint8Array,
    t0: number,
    len: number,
  ): void {
    const { scratch } = this;
    const { buf, layout } = scratch;
    const labelByte = KERNEL_BUF_BYTE + this.labelBase * 8;
    new Uint8Array(buf.buffer, labelByte, len).set(labels.subarray(t0, t0 + len));
    const { logitBase, tile, maxBase, minBase, sumBase, recipBase, expBase } = layout;
    scratch.kernel.score32(
      this.jobBase + first * (4 * outputs + 2),
      count,
      outputs,
      labelByte,
      KERNEL_BUF_BYTE + this.resBase * 8,
      this.slot * 8,
      logitBase,
      tile,
      maxBase,
      minBase,
      sumBase,
      recipBase,
      expBase,
      len,
      this.fastExp ? 1 : 0,
    );
  }

  /** Σ ln of the record's flushed products and last product, in the JS loop's order. */
  logLik(v: number, side: number): number {
    const { buf } = this.scratch;
    const r = this.resBase + (2 * v + side) * this.slot;
    let logLik = 0;
    const flushes = buf[r + 2];
    for (let q = 0; q < flushes; q++) logLik += Math.log(buf[r + 3 + q]);
    return logLik + Math.log(buf[r + 1]);
  }

  correct(v: number, side: number): number {
    return this.scratch.buf[this.resBase + (2 * v + side) * this.slot];
  }

  /** The layout with the fused scoring's room after it: jobs, tally records, the tile's labels. */
  private withScoring(layout: ScratchLayout, plan: Plan, scoreJobs: number): ScratchLayout {
    this.jobBase = layout.size;
    this.resBase = this.jobBase + scoreJobs * (4 * plan.outputs + 2);
    this.labelBase = this.resBase + 2 * scoreJobs * this.slot;
    return { ...layout, size: this.labelBase + Math.ceil(this.tile / 8) };
  }

  /**
   * The `forward32` program of the plan (see scripts/build-kernel.ts): per evaluated row, its
   * activation and parity, its rows in plane A and B, and its terms at w and (parity NONE) at −w.
   */
  private writeForwardProgram(plan: Plan): void {
    const { scratch, terms } = this;
    const { layout } = scratch;
    const { tile, planeA, planeB } = layout;
    const { rowFlags, rowAct, rowParity } = plan;
    const prog = new Int32Array(scratch.kernel.buffer, KERNEL_BUF_BYTE + layout.fwdBase * 8);
    let o = 0;
    let rows = 0;
    for (let r = 0; r < plan.rows; r++) {
      if (rowFlags[r] !== 0) continue;
      const parity = rowParity[r];
      prog[o++] = rowAct[r] | (parity << 8);
      prog[o++] = planeA + r * tile;
      prog[o++] = planeB + r * tile;
      for (const mirrored of parity === PARITY_NONE ? [false, true] : [false]) {
        terms.load(plan, layout, r, mirrored);
        prog[o++] = terms.count | ((terms.signed ? 1 : 0) << 16);
        for (let t = 0; t < terms.count; t++) {
          prog[o++] = terms.off[t];
          prog[o++] = terms.sign[t];
        }
      }
      rows++;
    }
    this.fwdRows = rows;
  }
}
