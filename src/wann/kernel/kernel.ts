/**
 * The optional WebAssembly SIMD kernel of `Evaluator` (src/wann/kernel/kernel.wasm, generated with
 * its WAT by scripts/build-kernel.ts): the hot loops (summing a row's sources, the per-tile input
 * sums from a Float32 copy of the batch's inputs, and activation / softmax exp rows, logit
 * gathering) two examples per f64x2 vector. Bit-identical to the JS float64 backend
 * except exp-based values (gaussian, tanh, sigmoid, softmax): ≤ 5e-16 relative, ~1 ulp apart.
 * And the float32 search numerics (`*32` exports, src/wann/evaluator/wasm-float32.ts): rows of
 * float32 values four examples per f32x4, one `forward32` call per tile, bit for bit the Math.fround
 * model of activations.ts (`applyActivation32`, `exp32`).
 *
 * Platform-agnostic: this file only instantiates an already compiled `WebAssembly.Module`.
 * - Node: `new WebAssembly.Module(readFileSync(new URL('./kernel.wasm', import.meta.url)))`
 *   (see node/kernel.ts).
 * - Workers: `import kernel from '…/src/wann/kernel/kernel.wasm'` (wrangler's default
 *   CompiledWasm rule gives a Module); instantiating a precompiled Module synchronously is allowed.
 */

import { ACTIVATION_COUNT, ACTIVATION_IDS } from '../activation-ids';

/**
 * Compile the kernel's bytes synchronously (Node: bytes read with fs). Workers get the Module from
 * their `.wasm` import instead (they may not compile from bytes).
 */
export function compileKernel(bytes: BufferSource): WebAssembly.Module {
  // Some type declarations (workers-types) make the constructor abstract; it is not.
  const Module = WebAssembly.Module as unknown as new (b: BufferSource) => WebAssembly.Module;
  return new Module(bytes);
}

/** Byte offset of the evaluator's scratch view in the kernel's memory (below it: the exp table). */
export const KERNEL_BUF_BYTE = 1024;

type ActFn = (w: number, src: number, dst: number, len: number) => void;
type MirFn = (w: number, src: number, dst: number, mirror: number, len: number) => void;

interface KernelExports {
  memory: WebAssembly.Memory;
  sum: (dst: number, list: number, n: number, signed: number, len: number) => void;
  insums: (prog: number, rows: number, x: number, len: number) => void;
  expsums: (
    logit: number,
    tile: number,
    max: number,
    sum: number,
    recip: number,
    outputs: number,
    len: number,
  ) => void;
  gather: (
    logit: number,
    tile: number,
    max: number,
    min: number,
    list: number,
    outputs: number,
    len: number,
  ) => void;
  [name: string]: unknown;
}

const PAGE = 65536;

const { linear, step, sigmoid, relu, squared } = ACTIVATION_IDS;

/**
 * Exports the kernel must have. Activation `id` is `act${id}` (float32: `act32_${id}`); the
 * activations with a mirror identity (step, sigmoid, relu) also have `mir${id}` (`mir32_${id}`).
 */
const REQUIRED_EXPORTS = [
  'memory',
  'sum',
  'insums',
  'expsums',
  'gather',
  `act${linear}`,
  `act${squared}`,
  `mir${step}`,
  `mir${sigmoid}`,
  `mir${relu}`,
  'sum32',
  'insums32',
  'gather32',
  'forward32',
  'expsums32',
  'score32',
  'expsums32fast',
  `act32_${linear}`,
  `act32_${squared}`,
  `mir32_${relu}`,
];

/** The configured wasm kernel cannot start: evaluating with other numerics would change results. */
export class KernelStartError extends Error {
  override name = 'KernelStartError';
}

/** An instance of the kernel and its memory, which holds the evaluator's scratch buffer. */
export class Kernel {
  private readonly memory: WebAssembly.Memory;
  /** act[id](w, src, dst, len): dst[i] = act_id(w · src[i]) (element indices into the view). */
  readonly act: ActFn[];
  /** mirror[id] for step, sigmoid, relu: dst = act(w · src), mirror = act(−w · src). */
  readonly mirror: MirFn[];
  /** sum(dst, list, n, signed, len): dst = Σ_k sign_k · row_k, (offset, sign) pairs at list. */
  readonly sum: KernelExports['sum'];
  /**
   * insums(prog, rows, x, len): input sums of `rows` rows as the program at byte `prog` says (per
   * row, i32s: destination element index, bias count, n, n byte offsets of input rows from byte `x`
   * in a Float32 copy of the inputs); see scripts/build-kernel.ts.
   */
  readonly insums: KernelExports['insums'];
  /** expsums(logit, tile, max, sum, recip, outputs, len); recip < 0: no Σ 1/exp. */
  readonly expsums: KernelExports['expsums'];
  /** gather(logit, tile, max, min, list, outputs, len): clamped logits and their max/min per example. */
  readonly gather: KernelExports['gather'];
  /**
   * Float32 search numerics (src/wann/evaluator/wasm-float32.ts): the same functions on rows of
   * float32 values, four examples per f32x4. Row indices are element indices of a Float32Array
   * view at KERNEL_BUF_BYTE (`view32`); term and logit lists, logits and sums stay float64.
   */
  readonly act32: ActFn[];
  readonly mirror32: MirFn[];
  readonly sum32: KernelExports['sum'];
  readonly insums32: KernelExports['insums'];
  /** gather32: as gather, the logit rows read from float32 rows (widened exactly). */
  readonly gather32: KernelExports['gather'];
  /**
   * expsums32(logit, tile, max, sum, recip, exps, outputs, len): as expsums, with float32 exps of
   * (logit − max) rounded to float32 (exp32 in activations.ts), each also stored at exps.
   */
  readonly expsums32: (
    logit: number,
    tile: number,
    max: number,
    sum: number,
    recip: number,
    exps: number,
    outputs: number,
    len: number,
  ) => void;
  /** forward32(prog, rows, w, paired, pre, len): every row of a tile from a program (build-kernel.ts). */
  readonly forward32: (
    prog: number,
    rows: number,
    w: number,
    paired: number,
    pre: number,
    len: number,
  ) => void;
  /**
   * score32(jobs, views, outputs, labels, res, slot, logit, tile, max, min, sum, recip, exps, len,
   * fast): every view's gather, exps and scoring of a tile at w and −w in one call (build-kernel.ts);
   * `fast` (1): expsums32fast's exps.
   */
  readonly score32: (
    jobs: number,
    views: number,
    outputs: number,
    labels: number,
    res: number,
    slot: number,
    logit: number,
    tile: number,
    max: number,
    min: number,
    sum: number,
    recip: number,
    exps: number,
    len: number,
    fast: number,
  ) => void;
  /** expsums32fast: expsums32 with expFast32's exps (the `fastExp` option, activations.ts). */
  readonly expsums32fast: Kernel['expsums32'];

  /**
   * Instantiate the kernel. Throws KernelStartError when it cannot start (not the WANN kernel
   * module, no WebAssembly SIMD, no memory): the caller configured these numerics, so it must not
   * carry on with others.
   */
  constructor(module: WebAssembly.Module) {
    let exports: KernelExports;
    try {
      exports = new WebAssembly.Instance(module, {}).exports as unknown as KernelExports;
    } catch (e) {
      throw new KernelStartError(`the wasm kernel cannot be instantiated: ${String(e)}`, { cause: e });
    }
    for (const name of REQUIRED_EXPORTS) {
      if (!(name in exports)) throw new KernelStartError(`not the WANN kernel module: no export ${name}`);
    }
    this.memory = exports.memory;
    // Indexed by activation id; index 0 (no activation) and ids without a mirror identity get
    // linear's / step's function so that every slot is callable.
    this.act = [];
    for (let id = 0; id <= ACTIVATION_COUNT; id++)
      this.act.push(exports[`act${id === 0 ? linear : id}`] as ActFn);
    this.mirror = [];
    for (let id = 0; id <= ACTIVATION_COUNT; id++)
      this.mirror.push((exports[`mir${id}`] ?? exports[`mir${step}`]) as MirFn);
    this.sum = exports.sum;
    this.insums = exports.insums;
    this.expsums = exports.expsums;
    this.gather = exports.gather;
    this.act32 = [];
    for (let id = 0; id <= ACTIVATION_COUNT; id++)
      this.act32.push(exports[`act32_${id === 0 ? linear : id}`] as ActFn);
    this.mirror32 = [];
    for (let id = 0; id <= ACTIVATION_COUNT; id++)
      this.mirror32.push((exports[`mir32_${id}`] ?? exports[`mir32_${step}`]) as MirFn);
    this.sum32 = exports.sum32 as KernelExports['sum'];
    this.insums32 = exports.insums32 as KernelExports['insums'];
    this.gather32 = exports.gather32 as KernelExports['gather'];
    this.forward32 = exports.forward32 as Kernel['forward32'];
    this.expsums32 = exports.expsums32 as Kernel['expsums32'];
    this.score32 = exports.score32 as Kernel['score32'];
    this.expsums32fast = exports.expsums32fast as Kernel['expsums32'];
  }

  /** Grow the memory to at least `bytes` (growing detaches views of the old buffer). */
  ensure(bytes: number): void {
    const have = this.memory.buffer.byteLength;
    if (have < bytes) this.memory.grow(Math.ceil((bytes - have) / PAGE));
  }

  /** The memory's current buffer (views of it are valid until the memory next grows). */
  get buffer(): ArrayBuffer {
    return this.memory.buffer;
  }

  /** A Float32Array view of the same memory from KERNEL_BUF_BYTE (valid until the memory grows). */
  view32(): Float32Array {
    return new Float32Array(
      this.memory.buffer,
      KERNEL_BUF_BYTE,
      (this.memory.buffer.byteLength - KERNEL_BUF_BYTE) / 4,
    );
  }

  /** A Float64Array view of at least `elements` doubles at KERNEL_BUF_BYTE (grows the memory). */
  view(elements: number): Float64Array {
    this.ensure(KERNEL_BUF_BYTE + elements * 8);
    return new Float64Array(
      this.memory.buffer,
      KERNEL_BUF_BYTE,
      (this.memory.buffer.byteLength - KERNEL_BUF_BYTE) / 8,
    );
  }
}
