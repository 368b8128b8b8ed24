/**
 * Trained weights (the paper's "trained individual weights" row): keep a champion's topology, give
 * every connection its own weight, start them all at one shared weight, and fit them on the training
 * set by Adam on the softmax cross-entropy over minibatches.
 *
 * Semantics of a trained network (what `trainedForward`, the ONNX export with `connectionWeights`
 * and the served model all compute): node value = act(Σ over enabled incoming connections of
 * w_c · source value), the bias outputs 1, an input its pixel value (float32(pixel / 255), as a
 * `Batch` holds it) or, for a tabular dataset, its stored float32 feature (standardised, exactly the
 * value a `Batch` of WSH2 rows holds), outputs have activations, logits clamped into ±1e300 (NaN → −1e300), softmax,
 * argmax with ties to the lowest class. With every w_c equal to w this is exactly the shared-weight
 * network at w (w · Σ = Σ w ·, up to rounding).
 *
 * Gradients: each activation's derivative where it is differentiable; the subgradient 0 where it is
 * not (step everywhere, relu and abs at 0). A gradient entry that is not finite (overflow through
 * chains of squared/exp-like nodes) is taken as 0, so one bad minibatch cannot poison the weights.
 *
 * Determinism and resuming: minibatch b of epoch e is positions [b·B, (b+1)·B) of a permutation of
 * the training images drawn from `stream(seed, e, 'train-order')`, so step s uses images that depend
 * only on (seed, s); arithmetic is in a fixed order. The whole state (weights, Adam's moments, step,
 * hyperparameters) serialises to bytes (`encodeTrainingState`), so training resumed from saved
 * state gives bit-identical weights to an uninterrupted run (tests/unit/train.test.ts).
 *
 * Cost: per step ~3 multiply-adds per (connection × example) plus one activation and one derivative
 * per (hidden node × example); all loops are over Float64Array rows of the minibatch, allocation
 * free. Measured numbers are in the README ("Trained weights").
 */
import { stream } from '../random';
import { ACTIVATION_COUNT, ACTIVATION_IDS } from './activation-ids';
import { applyActivation, fastCosPi, fastSinPi } from './activations';
import type { Genome } from './genome';
import { compile } from './network';
import type { Batch } from './types';

/** Hyperparameters fixed for the whole of one training (stored in its state). */
export interface TrainingHyperparameters {
  /** Seeds the minibatch order. An integer in [0, 2^32). */
  seed: number;
  /** Examples per minibatch (1–4,096). */
  batchSize: number;
  /** Adam's step size (at step 0, when it decays). */
  learningRate: number;
  /**
   * 0: the step size is `learningRate` at every step. D > 0: it follows a half cosine from
   * `learningRate` at step 0 down to 0 at step D (`learningRateAt`); a training of n steps decays
   * over D = n.
   */
  decaySteps: number;
}

/**
 * Adam's step size for step `step` (0-based, the step about to be taken): constant, or
 * learningRate · ½(1 + cos(π · min(step, D)/D)). The cosine is `fastCosPi` (plain IEEE-754
 * operations), so a resumed or chunked training takes exactly the same steps in Node and workerd.
 */
export function learningRateAt(h: TrainingHyperparameters, step: number): number {
  if (h.decaySteps === 0) return h.learningRate;
  return h.learningRate * 0.5 * (1 + fastCosPi(Math.min(step, h.decaySteps) / h.decaySteps));
}

/**
 * Defaults chosen on a validation split carved from the training images, never on the test set
 * (`npm run bench:train-defaults`, bench/results/train-defaults*.json; README "Trained weights"):
 * of learning rates 0.003–0.1, constant or cosine-decayed, 4,800–32,000 steps, on four champions,
 * the best mean validation accuracy.
 */
export const TRAINING_DEFAULTS = {
  batchSize: 128,
  learningRate: 0.03,
  /** Steps of a default training: ~68 epochs of 60,000 images at batch 128. */
  steps: 32_000,
  /** Whether a default training's step size decays (a half cosine over its steps) or stays constant. */
  decay: true,
} as const;

/** `decaySteps` of a default training of `steps` steps. */
export const defaultDecaySteps = (steps: number): number => (TRAINING_DEFAULTS.decay ? steps : 0);

export const ADAM_BETA1 = 0.9;
export const ADAM_BETA2 = 0.999;
export const ADAM_EPSILON = 1e-8;

/** Logits are clamped into ±LOGIT_LIMIT, NaN → −LOGIT_LIMIT, as `Evaluator` does. */
const LOGIT_LIMIT = 1e300;

/** Training images: example-major pixels (0–255), as a `Shard` holds them. */
export interface LabelledImages {
  readonly count: number;
  /** count × features bytes, image after image. */
  readonly pixels: Uint8Array;
  readonly labels: Uint8Array;
}

/**
 * Training rows of a tabular dataset: example-major float32 values (preprocessed: standardised), as
 * a WSH2 `FeatureShard` holds them; the network reads each value as it is.
 */
export interface LabelledFeatures {
  readonly count: number;
  readonly features: number;
  /** count × features values, row after row. */
  readonly values: Float32Array;
  readonly labels: Uint8Array;
}

/** What a training fits on: image bytes (WSH1) or feature rows (WSH2). */
export type TrainingExamples = LabelledImages | LabelledFeatures;

function isLabelledFeatures(data: TrainingExamples): data is LabelledFeatures {
  return 'values' in data;
}

/**
 * A genome compiled for per-connection weights. Rows are the compiled plan's rows (live hidden nodes
 * and outputs, topological order); each row's incoming connections are "parameters", numbered in
 * row order, then gene order. Disabled genes and genes into dead ends have no parameter.
 */
export interface TrainableNetwork {
  readonly inputs: number;
  readonly outputs: number;
  readonly rows: number;
  readonly rowAct: Uint8Array;
  /** Parameters of row r: paramStart[r] .. paramStart[r+1]. */
  readonly paramStart: Int32Array;
  /** Per parameter: source kind (0 bias, 1 input, 2 row) and index (slot of the input, or row). */
  readonly paramKind: Uint8Array;
  readonly paramSource: Int32Array;
  /** Per parameter: the gene (index into genome.src/dst/enabled) it is the weight of. */
  readonly paramGene: Int32Array;
  /** Input features used, in increasing order: slot s holds feature usedFeatures[s]. */
  readonly usedFeatures: Int32Array;
  readonly outputRow: Int32Array;
  /** Number of genes of the genome (length of a per-gene weight array). */
  readonly genes: number;
}

const KIND_BIAS = 0;
const KIND_INPUT = 1;
const KIND_ROW = 2;

/** Compile `genome` for training (throws GenomeFormatError as `compile` does). */
export function compileTrainable(genome: Genome): TrainableNetwork {
  const plan = compile(genome);
  const { inputs, src, dst, enabled } = genome;
  const rowOf = new Int32Array(genome.acts.length).fill(-1);
  for (let r = 0; r < plan.rows; r++) rowOf[plan.rowNode[r]] = r;
  const perRow: number[][] = Array.from({ length: plan.rows }, () => []);
  for (let k = 0; k < src.length; k++) {
    if (!enabled[k]) continue;
    const r = rowOf[dst[k]];
    if (r >= 0) perRow[r].push(k);
  }
  const paramStart = new Int32Array(plan.rows + 1);
  for (let r = 0; r < plan.rows; r++) paramStart[r + 1] = paramStart[r] + perRow[r].length;
  const params = paramStart[plan.rows];
  const paramKind = new Uint8Array(params);
  const paramSource = new Int32Array(params);
  const paramGene = new Int32Array(params);
  const featureUsed = new Uint8Array(inputs);
  for (const genes of perRow)
    for (const k of genes) if (src[k] > 0 && src[k] <= inputs) featureUsed[src[k] - 1] = 1;
  const usedFeatures = Int32Array.from(
    Array.from({ length: inputs }, (_, f) => f).filter((f) => featureUsed[f]),
  );
  const slotOf = new Int32Array(inputs).fill(-1);
  usedFeatures.forEach((f, s) => {
    slotOf[f] = s;
  });
  for (let r = 0, p = 0; r < plan.rows; r++) {
    for (const k of perRow[r]) {
      const s = src[k];
      paramGene[p] = k;
      if (s === 0) paramKind[p] = KIND_BIAS;
      else if (s <= inputs) {
        paramKind[p] = KIND_INPUT;
        paramSource[p] = slotOf[s - 1];
      } else {
        paramKind[p] = KIND_ROW;
        paramSource[p] = rowOf[s]; // live: it feeds a live row; earlier in topological order
      }
      p++;
    }
  }
  return {
    inputs,
    outputs: genome.outputs,
    rows: plan.rows,
    rowAct: plan.rowAct,
    paramStart,
    paramKind,
    paramSource,
    paramGene,
    usedFeatures,
    outputRow: plan.outputRow,
    genes: src.length,
  };
}

export function parameterCount(net: TrainableNetwork): number {
  return net.paramStart[net.rows];
}

/** Weights, Adam's moments and progress of one training. Mutated in place by `trainSteps`. */
export interface TrainingState extends TrainingHyperparameters {
  /** Steps taken so far. */
  step: number;
  /** Mean cross-entropy of the last step's minibatch (null before the first step). */
  loss: number | null;
  weights: Float64Array;
  m: Float64Array;
  v: Float64Array;
}

function checkHyperparameters(h: TrainingHyperparameters): void {
  if (!Number.isInteger(h.seed) || h.seed < 0 || h.seed > 0xffffffff) {
    throw new RangeError(`training seed must be an integer in [0, 4294967295], got ${h.seed}`);
  }
  if (!Number.isInteger(h.batchSize) || h.batchSize < 1 || h.batchSize > 4096) {
    throw new RangeError(`batchSize must be an integer in [1, 4096], got ${h.batchSize}`);
  }
  if (!(h.learningRate > 0 && h.learningRate <= 1)) {
    throw new RangeError(`learningRate must be in (0, 1], got ${h.learningRate}`);
  }
  if (!Number.isInteger(h.decaySteps) || h.decaySteps < 0 || h.decaySteps > 0xffffffff) {
    throw new RangeError(`decaySteps must be an integer ≥ 0, got ${h.decaySteps}`);
  }
}

/** The starting state: every connection at `sharedWeight`, Adam's moments 0, step 0. */
export function initialTrainingState(
  net: TrainableNetwork,
  sharedWeight: number,
  hyper: Partial<TrainingHyperparameters> = {},
): TrainingState {
  const h: TrainingHyperparameters = {
    seed: hyper.seed ?? 0,
    batchSize: hyper.batchSize ?? TRAINING_DEFAULTS.batchSize,
    learningRate: hyper.learningRate ?? TRAINING_DEFAULTS.learningRate,
    decaySteps: hyper.decaySteps ?? 0,
  };
  checkHyperparameters(h);
  if (!Number.isFinite(sharedWeight))
    throw new RangeError(`shared weight must be finite, got ${sharedWeight}`);
  const n = parameterCount(net);
  return {
    ...h,
    step: 0,
    loss: null,
    weights: new Float64Array(n).fill(sharedWeight),
    m: new Float64Array(n),
    v: new Float64Array(n),
  };
}

// ---------------------------------------------------------------------------------------------
// Serialisation: "WTS2", u32 params, u32 step, u32 seed, u32 batchSize, u32 decaySteps,
// f64 learningRate, f64 loss (NaN = null), then weights, m, v as little-endian f64. "WTS1" (states
// saved before the decay existed) has no decaySteps field (36-byte header) and reads as constant.

const STATE_MAGIC_V1 = 0x31535457; // "WTS1" read as a little-endian u32
const STATE_MAGIC = 0x32535457; // "WTS2"
const STATE_HEADER_BYTES_V1 = 36;
const STATE_HEADER_BYTES = 40;

export class TrainingStateFormatError extends Error {
  override name = 'TrainingStateFormatError';
}

/** The state as bytes (exact: every double is stored as is). */
export function encodeTrainingState(s: TrainingState): Uint8Array {
  const n = s.weights.length;
  const out = new Uint8Array(STATE_HEADER_BYTES + 24 * n);
  const view = new DataView(out.buffer);
  view.setUint32(0, STATE_MAGIC, true);
  view.setUint32(4, n, true);
  view.setUint32(8, s.step, true);
  view.setUint32(12, s.seed, true);
  view.setUint32(16, s.batchSize, true);
  view.setUint32(20, s.decaySteps, true);
  view.setFloat64(24, s.learningRate, true);
  view.setFloat64(32, s.loss ?? Number.NaN, true);
  let at = STATE_HEADER_BYTES;
  for (const a of [s.weights, s.m, s.v]) {
    for (let i = 0; i < n; i++, at += 8) view.setFloat64(at, a[i], true);
  }
  return out;
}

/** Inverse of `encodeTrainingState`; throws TrainingStateFormatError on anything else. */
export function decodeTrainingState(bytes: Uint8Array): TrainingState {
  if (bytes.length < STATE_HEADER_BYTES_V1) throw new TrainingStateFormatError('training state is truncated');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = view.getUint32(0, true);
  if (magic !== STATE_MAGIC && magic !== STATE_MAGIC_V1)
    throw new TrainingStateFormatError('not a training state (magic)');
  const v1 = magic === STATE_MAGIC_V1;
  const header = v1 ? STATE_HEADER_BYTES_V1 : STATE_HEADER_BYTES;
  const n = view.getUint32(4, true);
  if (bytes.length !== header + 24 * n) {
    throw new TrainingStateFormatError(`training state of ${n} weights has ${bytes.length} bytes`);
  }
  const loss = view.getFloat64(v1 ? 28 : 32, true);
  const s: TrainingState = {
    step: view.getUint32(8, true),
    seed: view.getUint32(12, true),
    batchSize: view.getUint32(16, true),
    decaySteps: v1 ? 0 : view.getUint32(20, true),
    learningRate: view.getFloat64(v1 ? 20 : 24, true),
    loss: Number.isNaN(loss) ? null : loss,
    weights: new Float64Array(n),
    m: new Float64Array(n),
    v: new Float64Array(n),
  };
  checkHyperparameters(s);
  let at = header;
  for (const a of [s.weights, s.m, s.v]) {
    for (let i = 0; i < n; i++, at += 8) a[i] = view.getFloat64(at, true);
  }
  return s;
}

// ---------------------------------------------------------------------------------------------
// Forward and backward over a tile of examples.

const BYTE_TO_INPUT = new Float64Array(256);
for (let v = 0; v < 256; v++) BYTE_TO_INPUT[v] = Math.fround(v / 255); // exactly a Batch's value

/** Derivative of activation `id` at pre-activation x with value y = act(x) (subgradient 0 at kinks). */
function derivativeRow(
  id: number,
  pre: Float64Array,
  val: Float64Array,
  d: Float64Array,
  o: number,
  len: number,
): void {
  switch (id) {
    case ACTIVATION_IDS.linear:
      return; // d unchanged
    case ACTIVATION_IDS.step:
      for (let i = 0; i < len; i++) d[o + i] = 0;
      return;
    case ACTIVATION_IDS.sin:
      for (let i = 0; i < len; i++) d[o + i] *= Math.PI * fastCosPi(pre[o + i]);
      return;
    case ACTIVATION_IDS.gaussian:
      for (let i = 0; i < len; i++) d[o + i] *= -pre[o + i] * val[o + i];
      return;
    case ACTIVATION_IDS.tanh:
      for (let i = 0; i < len; i++) d[o + i] *= 1 - val[o + i] * val[o + i];
      return;
    case ACTIVATION_IDS.sigmoid:
      for (let i = 0; i < len; i++) d[o + i] *= val[o + i] * (1 - val[o + i]);
      return;
    case ACTIVATION_IDS.inverse:
      for (let i = 0; i < len; i++) d[o + i] = -d[o + i];
      return;
    case ACTIVATION_IDS.abs:
      for (let i = 0; i < len; i++) {
        const x = pre[o + i];
        d[o + i] *= x > 0 ? 1 : x < 0 ? -1 : 0;
      }
      return;
    case ACTIVATION_IDS.relu:
      for (let i = 0; i < len; i++) d[o + i] *= pre[o + i] > 0 ? 1 : 0;
      return;
    case ACTIVATION_IDS.cos:
      for (let i = 0; i < len; i++) d[o + i] *= -Math.PI * fastSinPi(pre[o + i]);
      return;
    case ACTIVATION_IDS.squared:
      for (let i = 0; i < len; i++) d[o + i] *= 2 * pre[o + i];
      return;
    default:
      throw new RangeError(`unknown activation id ${id} (1–${ACTIVATION_COUNT})`);
  }
}

/** Activation `id`'s derivative at x (the same rule `trainSteps` uses), for tests and tools. */
export function activationDerivative(id: number, x: number): number {
  const pre = new Float64Array([x]);
  const val = new Float64Array(1);
  applyActivation(id, 1, pre, 0, val, 0, 1);
  const d = new Float64Array([1]);
  derivativeRow(id, pre, val, d, 0, 1);
  return d[0];
}

/** Scratch memory and the passes over one tile; reused across steps (not reentrant). */
export class TrainedNetworkRunner {
  private tile = 0;
  private x = new Float64Array(0);
  private pre = new Float64Array(0);
  private val = new Float64Array(0);
  private dval = new Float64Array(0);
  private logits = new Float64Array(0);
  private clamped = new Uint8Array(0);
  readonly labels: Uint8Array;
  readonly grad: Float64Array;

  constructor(
    readonly net: TrainableNetwork,
    readonly maxTile: number,
  ) {
    const rows = net.rows;
    this.x = new Float64Array(net.usedFeatures.length * maxTile);
    this.pre = new Float64Array(rows * maxTile);
    this.val = new Float64Array(rows * maxTile);
    this.dval = new Float64Array(rows * maxTile);
    this.logits = new Float64Array(net.outputs * maxTile);
    this.clamped = new Uint8Array(net.outputs * maxTile);
    this.labels = new Uint8Array(maxTile);
    this.grad = new Float64Array(parameterCount(net));
  }

  /** Load examples `indices` of example-major pixels into the tile. */
  loadPixels(data: LabelledImages, indices: ArrayLike<number>, from: number, count: number): void {
    const { usedFeatures } = this.net;
    const features = this.net.inputs;
    this.tile = count;
    for (let i = 0; i < count; i++) {
      const e = indices[from + i];
      const base = e * features;
      for (let s = 0; s < usedFeatures.length; s++)
        this.x[s * count + i] = BYTE_TO_INPUT[data.pixels[base + usedFeatures[s]]];
      this.labels[i] = data.labels[e];
    }
  }

  /** Load examples `indices` of example-major float32 feature rows into the tile. */
  loadFeatures(data: LabelledFeatures, indices: ArrayLike<number>, from: number, count: number): void {
    const { usedFeatures } = this.net;
    const features = data.features;
    this.tile = count;
    for (let i = 0; i < count; i++) {
      const e = indices[from + i];
      const base = e * features;
      for (let s = 0; s < usedFeatures.length; s++)
        this.x[s * count + i] = data.values[base + usedFeatures[s]];
      this.labels[i] = data.labels[e];
    }
  }

  /** Load examples `indices` of either kind of training data into the tile. */
  loadExamples(data: TrainingExamples, indices: ArrayLike<number>, from: number, count: number): void {
    if (isLabelledFeatures(data)) this.loadFeatures(data, indices, from, count);
    else this.loadPixels(data, indices, from, count);
  }

  /** Load examples [start, start + count) of an input-major Batch into the tile. */
  loadBatch(batch: Batch, start: number, count: number): void {
    const { usedFeatures } = this.net;
    this.tile = count;
    for (let s = 0; s < usedFeatures.length; s++) {
      const from = usedFeatures[s] * batch.count + start;
      for (let i = 0; i < count; i++) this.x[s * count + i] = batch.inputs[from + i];
    }
    for (let i = 0; i < count; i++) this.labels[i] = batch.labels[start + i];
  }

  /** Forward pass over the loaded tile; logits (clamped) in `this.logits`, class-major. */
  forward(weights: Float64Array): void {
    const { net, x, pre, val, logits, clamped } = this;
    const T = this.tile;
    for (let r = 0; r < net.rows; r++) {
      const o = r * T;
      pre.fill(0, o, o + T);
      for (let p = net.paramStart[r]; p < net.paramStart[r + 1]; p++) {
        const w = weights[p];
        const kind = net.paramKind[p];
        if (kind === KIND_BIAS) {
          for (let i = 0; i < T; i++) pre[o + i] += w;
        } else {
          const src = kind === KIND_INPUT ? x : val;
          const a = net.paramSource[p] * T;
          for (let i = 0; i < T; i++) pre[o + i] += w * src[a + i];
        }
      }
      applyActivation(net.rowAct[r], 1, pre, o, val, o, T);
    }
    for (let j = 0; j < net.outputs; j++) {
      const a = net.outputRow[j] * T;
      for (let i = 0; i < T; i++) {
        const raw = val[a + i];
        // biome-ignore lint/complexity/useMathMinMax: NaN must become −LOGIT_LIMIT
        const v = raw > -LOGIT_LIMIT ? (raw < LOGIT_LIMIT ? raw : LOGIT_LIMIT) : -LOGIT_LIMIT;
        logits[j * T + i] = v;
        clamped[j * T + i] = v === raw ? 0 : 1;
      }
    }
  }

  /** Softmax probabilities of example i (after `forward`) into out[o .. o + outputs). */
  probabilities(i: number, out: Float64Array | Float32Array, o: number): void {
    const T = this.tile;
    const K = this.net.outputs;
    let max = -Infinity;
    for (let j = 0; j < K; j++) max = Math.max(max, this.logits[j * T + i]);
    let sum = 0;
    for (let j = 0; j < K; j++) sum += Math.exp(this.logits[j * T + i] - max);
    for (let j = 0; j < K; j++) out[o + j] = Math.exp(this.logits[j * T + i] - max) / sum;
  }

  /** Predicted class of example i (argmax of the clamped logits, ties → lowest class). */
  predicted(i: number): number {
    const T = this.tile;
    let best = 0;
    for (let j = 1; j < this.net.outputs; j++)
      if (this.logits[j * T + i] > this.logits[best * T + i]) best = j;
    return best;
  }

  /**
   * Forward and backward over the loaded tile: `grad` = ∂(mean cross-entropy)/∂weights (non-finite
   * entries zeroed); returns the mean cross-entropy.
   */
  lossAndGradient(weights: Float64Array): number {
    this.forward(weights);
    const { net, x, pre, val, dval, logits, clamped, grad } = this;
    const T = this.tile;
    const K = net.outputs;
    dval.fill(0, 0, net.rows * T);
    let loss = 0;
    const p = new Float64Array(K);
    for (let i = 0; i < T; i++) {
      let max = -Infinity;
      for (let j = 0; j < K; j++) max = Math.max(max, logits[j * T + i]);
      let sum = 0;
      for (let j = 0; j < K; j++) {
        p[j] = Math.exp(logits[j * T + i] - max);
        sum += p[j];
      }
      const y = this.labels[i];
      loss += Math.log(sum) + max - logits[y * T + i];
      for (let j = 0; j < K; j++) {
        const g = (p[j] / sum - (j === y ? 1 : 0)) / T;
        // A clamped logit does not move with its output: no gradient through it.
        if (!clamped[j * T + i]) dval[net.outputRow[j] * T + i] += g;
      }
    }
    grad.fill(0);
    for (let r = net.rows - 1; r >= 0; r--) {
      const o = r * T;
      derivativeRow(net.rowAct[r], pre, val, dval, o, T); // dval row r becomes ∂L/∂pre
      for (let q = net.paramStart[r]; q < net.paramStart[r + 1]; q++) {
        const kind = net.paramKind[q];
        let g = 0;
        if (kind === KIND_BIAS) {
          for (let i = 0; i < T; i++) g += dval[o + i];
        } else if (kind === KIND_INPUT) {
          const a = net.paramSource[q] * T;
          for (let i = 0; i < T; i++) g += dval[o + i] * x[a + i];
        } else {
          const a = net.paramSource[q] * T;
          const w = weights[q];
          for (let i = 0; i < T; i++) {
            g += dval[o + i] * val[a + i];
            dval[a + i] += w * dval[o + i];
          }
        }
        grad[q] = Number.isFinite(g) ? g : 0;
      }
    }
    return loss / T;
  }
}

/** Images of minibatch `step` (positions into the training set), from (seed, step) alone. */
export class MinibatchOrder {
  private epoch = -1;
  private order = new Int32Array(0);

  constructor(
    readonly count: number,
    readonly seed: number,
    readonly batchSize: number,
  ) {
    if (count < batchSize)
      throw new RangeError(`a minibatch of ${batchSize} needs ≥ ${batchSize} images, got ${count}`);
  }

  get perEpoch(): number {
    return Math.floor(this.count / this.batchSize);
  }

  /** The permutation of epoch `e` (cached while consecutive steps stay in it). */
  indices(step: number): { order: Int32Array; from: number } {
    const e = Math.floor(step / this.perEpoch);
    if (e !== this.epoch) {
      const rng = stream(this.seed, e, 'train-order');
      const order = Array.from({ length: this.count }, (_, i) => i);
      rng.shuffle(order);
      this.order = Int32Array.from(order);
      this.epoch = e;
    }
    return { order: this.order, from: (step % this.perEpoch) * this.batchSize };
  }
}

/**
 * A training: the network, its scratch and the minibatch order for one data set. `steps(state, n)`
 * advances `state` by n Adam steps in place.
 */
export class Trainer {
  readonly net: TrainableNetwork;
  private runner: TrainedNetworkRunner | null = null;
  private order: MinibatchOrder | null = null;

  constructor(
    net: TrainableNetwork | Genome,
    readonly data: TrainingExamples,
  ) {
    this.net = 'paramStart' in net ? net : compileTrainable(net);
    if (isLabelledFeatures(data) && data.features !== this.net.inputs) {
      throw new RangeError(
        `training rows have ${data.features} features, the network ${this.net.inputs} inputs`,
      );
    }
  }

  steps(state: TrainingState, n: number): TrainingState {
    if (state.weights.length !== parameterCount(this.net)) {
      throw new RangeError(
        `state has ${state.weights.length} weights, the network ${parameterCount(this.net)}`,
      );
    }
    if (!this.runner || this.runner.maxTile < state.batchSize)
      this.runner = new TrainedNetworkRunner(this.net, state.batchSize);
    if (!this.order || this.order.seed !== state.seed || this.order.batchSize !== state.batchSize) {
      this.order = new MinibatchOrder(this.data.count, state.seed, state.batchSize);
    }
    const { runner, order } = this;
    const { weights, m, v } = state;
    const grad = runner.grad;
    for (let k = 0; k < n; k++) {
      const { order: idx, from } = order.indices(state.step);
      runner.loadExamples(this.data, idx, from, state.batchSize);
      state.loss = runner.lossAndGradient(weights);
      const learningRate = learningRateAt(state, state.step);
      state.step++;
      const c1 = 1 - ADAM_BETA1 ** state.step;
      const c2 = 1 - ADAM_BETA2 ** state.step;
      for (let q = 0; q < weights.length; q++) {
        const g = grad[q];
        m[q] = ADAM_BETA1 * m[q] + (1 - ADAM_BETA1) * g;
        v[q] = ADAM_BETA2 * v[q] + (1 - ADAM_BETA2) * g * g;
        weights[q] -= (learningRate * (m[q] / c1)) / (Math.sqrt(v[q] / c2) + ADAM_EPSILON);
      }
    }
    return state;
  }
}

/** n Adam steps of `state` on `data` (compiles the network; use a `Trainer` to reuse it). */
export function trainSteps(
  net: TrainableNetwork | Genome,
  state: TrainingState,
  data: TrainingExamples,
  n: number,
): TrainingState {
  return new Trainer(net, data).steps(state, n);
}

// ---------------------------------------------------------------------------------------------
// Using trained weights.

const EVAL_TILE = 256;

/** Predicted class of every example of `batch` with per-parameter `weights`. */
export function trainedPredict(net: TrainableNetwork, weights: Float64Array, batch: Batch): Int32Array {
  const runner = new TrainedNetworkRunner(net, Math.min(EVAL_TILE, Math.max(1, batch.count)));
  const out = new Int32Array(batch.count);
  for (let start = 0; start < batch.count; start += EVAL_TILE) {
    const n = Math.min(EVAL_TILE, batch.count - start);
    runner.loadBatch(batch, start, n);
    runner.forward(weights);
    for (let i = 0; i < n; i++) out[start + i] = runner.predicted(i);
  }
  return out;
}

/** Softmax probabilities, example-major (count × outputs), in float64. */
export function trainedProbabilities(
  net: TrainableNetwork,
  weights: Float64Array,
  batch: Batch,
): Float64Array {
  const runner = new TrainedNetworkRunner(net, Math.min(EVAL_TILE, Math.max(1, batch.count)));
  const out = new Float64Array(batch.count * net.outputs);
  for (let start = 0; start < batch.count; start += EVAL_TILE) {
    const n = Math.min(EVAL_TILE, batch.count - start);
    runner.loadBatch(batch, start, n);
    runner.forward(weights);
    for (let i = 0; i < n; i++) runner.probabilities(i, out, (start + i) * net.outputs);
  }
  return out;
}

/** Accuracy (argmax == label) of per-parameter `weights` on `batch`. */
export function trainedAccuracy(net: TrainableNetwork, weights: Float64Array, batch: Batch): number {
  const predicted = trainedPredict(net, weights, batch);
  let correct = 0;
  for (let i = 0; i < batch.count; i++) if (predicted[i] === batch.labels[i]) correct++;
  return batch.count === 0 ? 0 : correct / batch.count;
}

/** Mean cross-entropy of `weights` on `batch` (for gradient checks and reports). */
export function trainedLoss(net: TrainableNetwork, weights: Float64Array, batch: Batch): number {
  const runner = new TrainedNetworkRunner(net, batch.count);
  runner.loadBatch(batch, 0, batch.count);
  return runner.lossAndGradient(weights);
}

/** ∂(mean cross-entropy)/∂weights on `batch`, with the same arithmetic as a training step. */
export function trainedGradient(net: TrainableNetwork, weights: Float64Array, batch: Batch): Float64Array {
  const runner = new TrainedNetworkRunner(net, batch.count);
  runner.loadBatch(batch, 0, batch.count);
  runner.lossAndGradient(weights);
  return runner.grad.slice();
}

/**
 * Per-gene weights (length = the genome's gene count) from per-parameter weights: what the ONNX
 * export takes. Genes without a parameter (disabled, or into dead ends) get 0; they are not used.
 */
export function geneWeights(net: TrainableNetwork, weights: Float64Array): Float64Array {
  const out = new Float64Array(net.genes);
  for (let q = 0; q < net.paramGene.length; q++) out[net.paramGene[q]] = weights[q];
  return out;
}
