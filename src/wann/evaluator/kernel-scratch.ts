/**
 * The scratch of the two kernel backends (wasm-float64.ts, wasm-float32.ts): a view of the
 * kernel's memory, the batch's inputs copied into it as float32, and the per-plan input-sum
 * program. What differs between them (the precision) is theirs; this is what they share.
 */
import { KERNEL_BUF_BYTE, type Kernel } from '../kernel/kernel';
import { type Plan, ROW_CONSTANT } from '../plan';
import type { Batch } from '../types';
import type { LogitSources, Scratch, ScratchLayout } from './backend';

/**
 * Largest batch `inputs` (bytes of float32) copied whole into the kernel's memory and kept while
 * the same batch comes back (a 1,000-image shard of 256 features: 1 MB; the 10,000-image test set:
 * 10 MB); larger ones are copied per tile. Wasm memory never shrinks, so this bounds what the
 * inputs copy adds to one evaluator's memory.
 */
export const INPUT_CACHE_BYTES = 16 << 20;

export class KernelScratch implements Scratch {
  readonly kernel: Kernel;
  /** Float64 view of the kernel's memory from KERNEL_BUF_BYTE (all of it). */
  buf: Float64Array = new Float64Array(0);
  /** Float32 view of the same memory at the same base. */
  buf32: Float32Array = new Float32Array(0);
  layout: ScratchLayout;
  /** Rows in the input-sum program. */
  progRows = 0;
  /** Doubles of `buf` the layout may use. */
  private bufCap = 0;
  /** Byte address of the float32 inputs copy (after the scratch: it moves when the scratch grows). */
  private inputsByte = 0;
  /** The batch `inputs` held whole in the copy (null: none, or per-tile copies), and its length. */
  private cachedInputs: Float32Array | null = null;
  private cachedLength = 0;
  private readonly inputCacheBytes: number;

  constructor(kernel: Kernel, layout: ScratchLayout, inputCacheBytes: number) {
    this.kernel = kernel;
    this.layout = layout;
    this.inputCacheBytes = inputCacheBytes;
  }

  /** Byte address of the input-sum program. */
  get progByte(): number {
    return KERNEL_BUF_BYTE + this.layout.progBase * 8;
  }

  /**
   * Grow the scratch for the layout, make the batch's inputs visible to the kernel, and write the
   * plan's input-sum program. A batch whose inputs fit in `inputCacheBytes` is copied whole once
   * and reused while the same `inputs` array (same object, same length) comes back: a Batch's
   * arrays must not be mutated after its first evaluation (no caller does; they are built once,
   * then only read). Larger batches (the 10,000-image test set) are copied a tile at a time
   * instead (`tileInputs`): no reuse, so no constraint on them.
   */
  prepare(layout: ScratchLayout, plan: Plan, batch: Batch): void {
    const { kernel } = this;
    this.layout = layout;
    const { tile } = layout;
    if (this.bufCap < layout.size) {
      const size = Math.max(layout.size, Math.ceil(this.bufCap * 1.5));
      this.buf = kernel.view(size);
      this.buf32 = kernel.view32();
      this.bufCap = size;
      this.cachedInputs = null;
      this.inputsByte = KERNEL_BUF_BYTE + Math.ceil(size / 2) * 16;
    }
    const { count, features } = batch;
    const n = count * features;
    const whole = n * 4 <= this.inputCacheBytes;
    const floats = whole ? n : features * tile;
    // +4 floats: odd tiles read one float past a row's last example.
    kernel.ensure(this.inputsByte + (floats + 4) * 4);
    if (this.buf.buffer !== kernel.buffer) {
      this.buf = kernel.view(this.bufCap);
      this.buf32 = kernel.view32();
    }
    const stride = whole ? count : tile;
    if (whole && !(this.cachedInputs === batch.inputs && this.cachedLength === n)) {
      new Float32Array(kernel.buffer, this.inputsByte, n).set(batch.inputs.subarray(0, n));
      this.cachedInputs = batch.inputs;
      this.cachedLength = n;
    } else if (!whole) this.cachedInputs = null;
    // Program: per summed row, its destination, bias count, n and its n input rows' byte offsets.
    const prog = new Int32Array(kernel.buffer, this.progByte);
    const { inputStart, inputSource, sumIndex, rowBias, rowFlags } = plan;
    let o = 0;
    let rows = 0;
    for (let r = 0; r < plan.rows; r++) {
      const si = sumIndex[r];
      if (rowFlags[r] & ROW_CONSTANT || si < 0) continue;
      prog[o++] = si * tile;
      prog[o++] = rowBias[r];
      prog[o++] = inputStart[r + 1] - inputStart[r];
      for (let e = inputStart[r]; e < inputStart[r + 1]; e++) prog[o++] = inputSource[e] * stride * 4;
      rows++;
    }
    this.progRows = rows;
  }

  /** Byte address of the tile's float32 inputs (a per-tile copy unless the batch is held whole). */
  tileInputs(batch: Batch, t0: number, len: number): number {
    if (this.cachedInputs !== null) return this.inputsByte + t0 * 4;
    // Per-tile copy: feature p's examples t0..t0+len at p · tile.
    const { tile } = this.layout;
    const { count, features, inputs } = batch;
    const copy = new Float32Array(this.kernel.buffer, this.inputsByte, features * tile);
    for (let p = 0; p < features; p++)
      copy.set(inputs.subarray(p * count + t0, p * count + t0 + len), p * tile);
    return this.inputsByte;
  }

  /** The logit sources as the kernel's (offset, scale) list at listBase. */
  writeLogitList(sources: LogitSources, outputs: number): void {
    const { buf } = this;
    const { listBase } = this.layout;
    for (let j = 0; j < outputs; j++) {
      buf[listBase + 2 * j] = sources.off[j];
      buf[listBase + 2 * j + 1] = sources.scale[j];
    }
  }
}

/** The input-sum program's words: 3 + sources per summed row, and 4 of slack (it reads 4 offsets). */
export function inputProgramWords(plan: Plan): number {
  return 3 * plan.sumCount + plan.inputSource.length + 4;
}
