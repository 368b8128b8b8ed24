/**
 * The linear baseline shown beside every WANN result (issue 18, item 6): a softmax-regression
 * classifier, one layer of features × classes weights plus classes biases, fitted by Adam on the
 * mean softmax cross-entropy over minibatches of the training split only. The test split is only
 * ever scored (`baselineCorrect`), never used to choose anything.
 *
 * It lives in src/wann/ beside train.ts (the other model fitted by Adam here) rather than in
 * src/data/: it is a model scored against the WANN's figures, it consumes the evaluator's `Batch`,
 * and src/data/ turns bytes into batches.
 *
 * Numerics: float64 (JS numbers) for weights, Adam's moments, logits and gradients; the inputs are
 * the Batch's float32 values, read exactly. Scalar JS computes in float64 anyway, so float32 storage
 * would only add rounding (Math.fround) without saving time, and the parameters are tiny (MNIST:
 * 2,570 of them, 20 KB per array).
 *
 * The platform's figure (`fitBaseline`, below) streams the training split shard by shard, carves
 * a seeded, stratified validation split from it, chooses the epoch count on validation accuracy
 * (`BASELINE_EPOCH_RULE`: at most 30 epochs, stop after 3 without a better one, keep the first
 * best) and scores the test split once, with the chosen epoch's weights.
 *
 * Determinism: the weights start at 0 (the loss is convex: no random start is needed). Epoch e
 * visits the training examples in a permutation drawn from `stream(seed, e, 'baseline-order')`,
 * minibatch b being positions [b·B, (b+1)·B) (the last one may be shorter); every sum runs in a
 * fixed order. So the same (data, seed, hyperparameters) give the same bits on one JS engine, and a
 * training resumed from a state saved at an epoch boundary equals an uninterrupted one (the platform
 * can split epochs across invocations).
 *
 * Memory (MNIST at 16×16: 60,000 × 256): the training Batch itself is 61.4 MB of float32 (+60 KB
 * labels); training adds the epoch's order (4 B × rows = 240 KB), one minibatch of inputs
 * (8 B × B × features = 262 KB at B = 128), logits and gradient (< 30 KB), and the state (3 ×
 * 8 B × (features + 1) × classes = 62 KB): about 62 MB in all (measured in Node: 61.6 MB of
 * ArrayBuffers holding the Batch, 62.2 MB after an epoch; the JS heap stays under 10 MB). Scoring takes one test Batch at a
 * time (a 1,000-row shard is 1 MB) with a fixed 20 KB of logits, so a Worker (128 MB) can drop the
 * training Batch before scoring and never hold the whole test split.
 *
 * Cost per minibatch: about 2 × B × features × classes multiply-adds (forward and gradient; zero
 * inputs, most of an MNIST image, are skipped, which is exact while the weights are finite), plus
 * B × classes `exp`. Measured times are in bench/results/baseline.json.
 */
import { z } from 'zod';
import { stratifiedSplit } from '../data/split';
import { stream } from '../random';
import { ADAM_BETA1, ADAM_BETA2, ADAM_EPSILON } from './train';
import type { Batch } from './types';

/** Hyperparameters of one baseline training (stored in its state). */
export interface BaselineHyperparameters {
  /** Seeds the minibatch order. An integer in [0, 2^32). */
  seed: number;
  /** Adam's step size. */
  learningRate: number;
  /** Examples per minibatch (1–4,096). */
  batchSize: number;
}

/**
 * The figures were measured with Adam lr 0.003 at batch 128 (numpy). The epoch count is not
 * a constant: the platform chooses it per dataset on a validation split carved from the training
 * split (`BASELINE_EPOCH_RULE`, `fitBaseline` below), never on the test split.
 */
export const BASELINE_DEFAULTS = {
  learningRate: 0.003,
  batchSize: 128,
} as const;

/** Purpose of the per-epoch example order streams (src/random.ts). */
export const BASELINE_ORDER_PURPOSE = 'baseline-order';

/**
 * Everything a baseline training needs to go on: mutated in place by `trainBaselineEpochs`.
 * Plain numbers and Float64Arrays, so a host can persist it between invocations.
 */
export interface BaselineState extends BaselineHyperparameters {
  readonly features: number;
  readonly classes: number;
  /** Weight of input p for class c at `params[p * classes + c]`; the biases at `features * classes + c`. */
  readonly params: Float64Array;
  /** Adam's first and second moments, one per parameter. */
  readonly m: Float64Array;
  readonly v: Float64Array;
  /** Adam steps taken. */
  step: number;
  /** Completed epochs; the next epoch's order is drawn from stream(seed, epoch, …). */
  epoch: number;
  /** Mean training cross-entropy of each completed epoch, as seen by its minibatches. */
  epochLoss: number[];
}

const MAX_BATCH_SIZE = 4096;
/** Examples scored at once by `baselineCorrect` (fixed scratch whatever the batch's size). */
const SCORE_TILE = 256;

/** A fresh state: every weight and bias 0, Adam's moments 0. */
export function initialBaselineState(
  features: number,
  classes: number,
  hyperparameters: Partial<BaselineHyperparameters> & Pick<BaselineHyperparameters, 'seed'>,
): BaselineState {
  const { seed } = hyperparameters;
  const learningRate = hyperparameters.learningRate ?? BASELINE_DEFAULTS.learningRate;
  const batchSize = hyperparameters.batchSize ?? BASELINE_DEFAULTS.batchSize;
  if (!Number.isInteger(features) || features < 1) {
    throw new RangeError(`baseline: features must be a positive integer, got ${features}`);
  }
  if (!Number.isInteger(classes) || classes < 2) {
    throw new RangeError(`baseline: classes must be an integer ≥ 2, got ${classes}`);
  }
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) {
    throw new RangeError(`baseline: seed must be an integer in [0, 2^32), got ${seed}`);
  }
  if (!(learningRate > 0) || !Number.isFinite(learningRate)) {
    throw new RangeError(`baseline: learningRate must be a positive number, got ${learningRate}`);
  }
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > MAX_BATCH_SIZE) {
    throw new RangeError(
      `baseline: batchSize must be an integer in [1, ${MAX_BATCH_SIZE}], got ${batchSize}`,
    );
  }
  const n = (features + 1) * classes;
  return {
    seed,
    learningRate,
    batchSize,
    features,
    classes,
    params: new Float64Array(n),
    m: new Float64Array(n),
    v: new Float64Array(n),
    step: 0,
    epoch: 0,
    epochLoss: [],
  };
}

function checkBatch(state: BaselineState, batch: Batch, where: string): void {
  const { count, features, inputs, labels } = batch;
  if (features !== state.features) {
    throw new RangeError(`${where}: the batch has ${features} features, the baseline ${state.features}`);
  }
  if (!Number.isInteger(count) || count < 1) throw new RangeError(`${where}: the batch is empty`);
  if (inputs.length !== count * features || labels.length !== count) {
    throw new RangeError(
      `${where}: the batch holds ${inputs.length} inputs and ${labels.length} labels for ${count} × ${features}`,
    );
  }
  for (let i = 0; i < count; i++) {
    if (labels[i] >= state.classes) {
      throw new RangeError(
        `${where}: label ${labels[i]} of example ${i} is not below ${state.classes} classes`,
      );
    }
  }
}

/**
 * The summed cross-entropy of examples order[from .. from + n) of `batch`, and into `grad` the
 * gradient of their mean loss. `xb` (features × n or more, input-major) and `z` (n × classes or
 * more) are scratch. Sums run over inputs in increasing order, then examples in minibatch order.
 */
function minibatchGradient(
  state: BaselineState,
  batch: Batch,
  order: Int32Array,
  from: number,
  n: number,
  xb: Float64Array,
  z: Float64Array,
  grad: Float64Array,
): number {
  const { features: F, classes: C, params } = state;
  const { count, inputs, labels } = batch;
  const biases = F * C;
  // Gather first, in a loop of independent loads: the examples lie at random across input-major
  // rows, so nearly every load misses the cache, and a loop with nothing else in it keeps many of
  // those misses in flight (measured: about 2× faster than gathering inside the forward pass).
  for (let p = 0; p < F; p++) {
    const row = p * count;
    const o = p * n;
    for (let b = 0; b < n; b++) xb[o + b] = inputs[row + order[from + b]];
  }
  // Forward: logits = biases + Σ_p x_p · W_p.
  for (let b = 0; b < n; b++) for (let c = 0; c < C; c++) z[b * C + c] = params[biases + c];
  for (let p = 0; p < F; p++) {
    const w = p * C;
    for (let b = 0; b < n; b++) {
      const x = xb[p * n + b];
      if (x !== 0) for (let c = 0; c < C; c++) z[b * C + c] += params[w + c] * x;
    }
  }
  // Softmax cross-entropy; z becomes (softmax − one-hot) / n, the gradient of the mean loss.
  let lossSum = 0;
  for (let b = 0; b < n; b++) {
    const o = b * C;
    let max = z[o];
    for (let c = 1; c < C; c++) if (z[o + c] > max) max = z[o + c];
    let sum = 0;
    for (let c = 0; c < C; c++) {
      const ez = Math.exp(z[o + c] - max);
      z[o + c] = ez;
      sum += ez;
    }
    const y = labels[order[from + b]];
    lossSum += Math.log(sum) - Math.log(z[o + y]);
    for (let c = 0; c < C; c++) z[o + c] = z[o + c] / sum / n;
    z[o + y] -= 1 / n;
  }
  grad.fill(0);
  for (let p = 0; p < F; p++) {
    const w = p * C;
    for (let b = 0; b < n; b++) {
      const x = xb[p * n + b];
      if (x !== 0) for (let c = 0; c < C; c++) grad[w + c] += x * z[b * C + c];
    }
  }
  for (let b = 0; b < n; b++) for (let c = 0; c < C; c++) grad[biases + c] += z[b * C + c];
  return lossSum;
}

/**
 * The mean cross-entropy of the baseline on all of `batch` and its gradient (laid out as
 * `params`), by the code a training step uses: what the gradient check compares.
 */
export function baselineGradient(state: BaselineState, batch: Batch): { loss: number; grad: Float64Array } {
  checkBatch(state, batch, 'baseline gradient');
  const order = new Int32Array(batch.count);
  for (let i = 0; i < order.length; i++) order[i] = i;
  const grad = new Float64Array(state.params.length);
  const loss = minibatchGradient(
    state,
    batch,
    order,
    0,
    batch.count,
    new Float64Array(state.features * batch.count),
    new Float64Array(batch.count * state.classes),
    grad,
  );
  return { loss: loss / batch.count, grad };
}

/** One Adam step of `state` along `grad`, exactly as src/wann/train.ts steps (bias-corrected moments). */
function adamStep(state: BaselineState, grad: Float64Array): void {
  const { learningRate, params, m, v } = state;
  state.step++;
  const c1 = 1 - ADAM_BETA1 ** state.step;
  const c2 = 1 - ADAM_BETA2 ** state.step;
  for (let q = 0; q < params.length; q++) {
    const g = grad[q];
    m[q] = ADAM_BETA1 * m[q] + (1 - ADAM_BETA1) * g;
    v[q] = ADAM_BETA2 * v[q] + (1 - ADAM_BETA2) * g * g;
    params[q] -= (learningRate * (m[q] / c1)) / (Math.sqrt(v[q] / c2) + ADAM_EPSILON);
  }
}

/**
 * Runs `epochs` more epochs of Adam on `train` (all of it, each epoch in its own seeded order) and
 * returns `state`, with one `epochLoss` entry per epoch. Scratch is allocated once per call.
 */
export function trainBaselineEpochs(state: BaselineState, train: Batch, epochs: number): BaselineState {
  if (!Number.isInteger(epochs) || epochs < 0) {
    throw new RangeError(`baseline: epochs must be a non-negative integer, got ${epochs}`);
  }
  checkBatch(state, train, 'baseline training');
  const { features: F, classes: C, batchSize: B, params } = state;
  const count = train.count;
  const order = new Int32Array(count);
  const xb = new Float64Array(F * B); // the minibatch, input-major: xb[p * n + b] for n examples
  const z = new Float64Array(B * C); // logits, then d loss / d logits
  const grad = new Float64Array(params.length);

  for (let e = 0; e < epochs; e++) {
    const rng = stream(state.seed, state.epoch, BASELINE_ORDER_PURPOSE);
    for (let i = 0; i < count; i++) order[i] = i;
    for (let i = count - 1; i > 0; i--) {
      const j = rng.int(i + 1);
      const t = order[i];
      order[i] = order[j];
      order[j] = t;
    }
    let lossSum = 0;
    for (let from = 0; from < count; from += B) {
      lossSum += minibatchGradient(state, train, order, from, Math.min(B, count - from), xb, z, grad);
      adamStep(state, grad);
    }
    state.epochLoss.push(lossSum / count);
    state.epoch++;
  }
  return state;
}

/**
 * How many examples of `batch` the baseline classifies correctly (argmax of the logits, ties to
 * the lowest class, as the WANN's accuracy counts). Sum it over test shards for the test accuracy.
 */
export function baselineCorrect(state: BaselineState, batch: Batch): number {
  checkBatch(state, batch, 'baseline scoring');
  const { features: F, classes: C, params } = state;
  const { count, inputs, labels } = batch;
  const biases = F * C;
  const z = new Float64Array(SCORE_TILE * C);
  let correct = 0;
  for (let start = 0; start < count; start += SCORE_TILE) {
    const n = Math.min(SCORE_TILE, count - start);
    for (let i = 0; i < n; i++) for (let c = 0; c < C; c++) z[i * C + c] = params[biases + c];
    for (let p = 0; p < F; p++) {
      const row = p * count + start;
      const w = p * C;
      for (let i = 0; i < n; i++) {
        const x = inputs[row + i];
        if (x !== 0) for (let c = 0; c < C; c++) z[i * C + c] += params[w + c] * x;
      }
    }
    for (let i = 0; i < n; i++) {
      let best = 0;
      for (let c = 1; c < C; c++) if (z[i * C + c] > z[i * C + best]) best = c;
      if (best === labels[start + i]) correct++;
    }
  }
  return correct;
}

/** Mean softmax cross-entropy of the baseline on `batch` (the gradient check's objective). */
export function baselineLoss(state: BaselineState, batch: Batch): number {
  checkBatch(state, batch, 'baseline loss');
  const { features: F, classes: C, params } = state;
  const { count, inputs, labels } = batch;
  const z = new Float64Array(C);
  let total = 0;
  for (let i = 0; i < count; i++) {
    for (let c = 0; c < C; c++) z[c] = params[F * C + c];
    for (let p = 0; p < F; p++) {
      const x = inputs[p * count + i];
      for (let c = 0; c < C; c++) z[c] += params[p * C + c] * x;
    }
    let max = z[0];
    for (let c = 1; c < C; c++) if (z[c] > max) max = z[c];
    let sum = 0;
    for (let c = 0; c < C; c++) sum += Math.exp(z[c] - max);
    total += Math.log(sum) + max - z[labels[i]];
  }
  return total / count;
}

/** What the platform records per dataset: the baseline's figure and how it was obtained. */
export interface BaselineResult {
  /** Correct / scored over the test batches, in [0, 1]. */
  testAccuracy: number;
  testCount: number;
  /** Mean training cross-entropy of each epoch. */
  epochLoss: number[];
  epochs: number;
  steps: number;
  seed: number;
  learningRate: number;
  batchSize: number;
}

export interface BaselineOptions extends Partial<BaselineHyperparameters> {
  /** The dataset's class count (labels must be below it). */
  classes: number;
  seed: number;
  /** Epochs over all of `train` (the platform's count is chosen on validation: `fitBaseline`). */
  epochs: number;
}

/**
 * Trains the baseline on `train` and scores it on the test batches (one Batch, or e.g. one per
 * test shard, consumed one at a time). The test batches are only scored.
 */
export function softmaxRegressionBaseline(
  train: Batch,
  test: Batch | Iterable<Batch>,
  options: BaselineOptions,
): BaselineResult {
  const state = initialBaselineState(train.features, options.classes, options);
  trainBaselineEpochs(state, train, options.epochs);
  let correct = 0;
  let testCount = 0;
  for (const batch of 'inputs' in test ? [test] : test) {
    correct += baselineCorrect(state, batch);
    testCount += batch.count;
  }
  if (testCount === 0) throw new RangeError('baseline: no test examples to score');
  return {
    testAccuracy: correct / testCount,
    testCount,
    epochLoss: state.epochLoss,
    epochs: state.epoch,
    steps: state.step,
    seed: state.seed,
    learningRate: state.learningRate,
    batchSize: state.batchSize,
  };
}

// ---------------------------------------------------------------------------------------------
// The platform's baseline: streamed over shards, its epoch count chosen on a validation split.

/** Bump when the procedure below changes: cached figures are keyed by it. */
export const BASELINE_VERSION = 1;

/**
 * How the epoch count is chosen, on validation accuracy only: a seeded, stratified validation split
 * of `validationFraction` of each class is carved from the training split (the rest trains); after
 * each epoch the baseline is scored on it; training stops after `maxEpochs`, or once `patience`
 * epochs in a row have not beaten the best validation accuracy. The chosen epoch is the first one
 * with the best validation accuracy, and the test split is scored once, with its weights.
 * `maxEpochs` is a budget (the longest figure is 30 epochs), not a figure chosen on data.
 */
export interface BaselineEpochRule {
  validationFraction: number;
  maxEpochs: number;
  patience: number;
}
export const BASELINE_EPOCH_RULE: Readonly<BaselineEpochRule> = {
  validationFraction: 0.1,
  maxEpochs: 30,
  patience: 3,
};

/** Purpose of the per-epoch shard order streams (src/random.ts). */
export const BASELINE_PART_ORDER_PURPOSE = 'baseline-part-order';

/**
 * The epoch chosen from the validation accuracies of epochs 1, 2, … (the first best; 0 before any)
 * and whether training is done by `rule`. It is given validation figures and nothing else.
 */
export function baselineEpochChoice(
  validationAccuracy: readonly number[],
  rule: Readonly<BaselineEpochRule> = BASELINE_EPOCH_RULE,
): { epoch: number; done: boolean } {
  let epoch = 0;
  for (let e = 0; e < validationAccuracy.length; e++) {
    if (epoch === 0 || validationAccuracy[e] > validationAccuracy[epoch - 1]) epoch = e + 1;
  }
  const run = validationAccuracy.length;
  return { epoch, done: run >= rule.maxEpochs || (run > 0 && run - epoch >= rule.patience) };
}

/**
 * A dataset's splits, one part (shard) at a time, so a host never holds a whole split: a Worker
 * reads each part from R2 when asked. Parts may be asked for many times (once or twice an epoch).
 */
export interface BaselineSource {
  readonly features: number;
  readonly classes: number;
  readonly trainParts: number;
  readonly testParts: number;
  trainPart(index: number): Promise<Batch> | Batch;
  testPart(index: number): Promise<Batch> | Batch;
}

/** Which training rows are validation rows: per training part, 1 for a validation row. */
export interface BaselineSplit {
  readonly validation: readonly Uint8Array[];
  readonly trainCount: number;
  readonly validationCount: number;
}

/**
 * The validation split carved from the training parts (their labels only are kept): seeded and
 * stratified as the dataset's own test split is (src/data/split.ts), over the training rows in part
 * order. Throws a RangeError when no class has enough rows to give a validation row.
 */
export async function carveValidationSplit(
  source: BaselineSource,
  seed: number,
  fraction: number = BASELINE_EPOCH_RULE.validationFraction,
): Promise<BaselineSplit> {
  const labels: Uint8Array[] = [];
  for (let part = 0; part < source.trainParts; part++)
    labels.push((await source.trainPart(part)).labels.slice());
  const all = new Uint8Array(labels.reduce((n, l) => n + l.length, 0));
  labels.reduce((at, l) => {
    all.set(l, at);
    return at + l.length;
  }, 0);
  let split: ReturnType<typeof stratifiedSplit>;
  try {
    split = stratifiedSplit(all, { seed, testFraction: fraction });
  } catch (e) {
    throw new RangeError(
      `baseline: too few training rows to carve a validation split (${(e as Error).message})`,
    );
  }
  const isValidation = new Uint8Array(all.length);
  for (const r of split.test) isValidation[r] = 1;
  let at = 0;
  const validation = labels.map((l) => {
    const mask = isValidation.slice(at, at + l.length);
    at += l.length;
    return mask;
  });
  return { validation, trainCount: split.train.length, validationCount: split.test.length };
}

/** A baseline training under way: its state, the validation curve, and the best weights so far. */
export interface BaselineProgress {
  readonly state: BaselineState;
  /** Validation accuracy after each completed epoch. */
  readonly validationAccuracy: number[];
  /** Weights and biases at the chosen (best validation) epoch so far. */
  readonly best: Float64Array;
}

export function initialBaselineProgress(
  features: number,
  classes: number,
  hyperparameters: Partial<BaselineHyperparameters> & Pick<BaselineHyperparameters, 'seed'>,
): BaselineProgress {
  const state = initialBaselineState(features, classes, hyperparameters);
  return { state, validationAccuracy: [], best: state.params.slice() };
}

/** Rows of `batch` that the baseline classifies correctly among `rows` (argmax, ties to the lowest). */
function correctRows(params: Float64Array, state: BaselineState, batch: Batch, rows: Int32Array): number {
  const { features: F, classes: C } = state;
  const { count, inputs, labels } = batch;
  const z = new Float64Array(C);
  let correct = 0;
  for (const r of rows) {
    for (let c = 0; c < C; c++) z[c] = params[F * C + c];
    for (let p = 0; p < F; p++) {
      const x = inputs[p * count + r];
      if (x !== 0) for (let c = 0; c < C; c++) z[c] += params[p * C + c] * x;
    }
    let best = 0;
    for (let c = 1; c < C; c++) if (z[c] > z[best]) best = c;
    if (best === labels[r]) correct++;
  }
  return correct;
}

function rowsWhere(mask: Uint8Array, value: number): Int32Array {
  let n = 0;
  for (let i = 0; i < mask.length; i++) if (mask[i] === value) n++;
  const rows = new Int32Array(n);
  for (let i = 0, k = 0; i < mask.length; i++) if (mask[i] === value) rows[k++] = i;
  return rows;
}

/**
 * One more epoch: the training parts in an order drawn from stream(seed, epoch, part-order), each
 * part's training rows (not validation) in an order drawn from stream(seed, epoch, order, part),
 * minibatches within a part (its last one may be shorter); then the validation split scored. The
 * same (data, seed, hyperparameters) give the same bits, resumed or not.
 */
export async function baselineEpoch(
  progress: BaselineProgress,
  source: BaselineSource,
  split: BaselineSplit,
): Promise<void> {
  const { state } = progress;
  const { features: F, classes: C, batchSize: B, seed } = state;
  const epoch = state.epoch;
  const parts = Array.from({ length: source.trainParts }, (_, i) => i);
  stream(seed, epoch, BASELINE_PART_ORDER_PURPOSE).shuffle(parts);
  const xb = new Float64Array(F * B);
  const z = new Float64Array(B * C);
  const grad = new Float64Array(state.params.length);
  let lossSum = 0;
  let count = 0;
  for (const part of parts) {
    const batch = await source.trainPart(part);
    checkBatch(state, batch, 'baseline training');
    const rows = rowsWhere(split.validation[part], 0);
    const rng = stream(seed, epoch, BASELINE_ORDER_PURPOSE, part);
    for (let i = rows.length - 1; i > 0; i--) {
      const j = rng.int(i + 1);
      const t = rows[i];
      rows[i] = rows[j];
      rows[j] = t;
    }
    for (let from = 0; from < rows.length; from += B) {
      lossSum += minibatchGradient(state, batch, rows, from, Math.min(B, rows.length - from), xb, z, grad);
      adamStep(state, grad);
    }
    count += rows.length;
  }
  state.epochLoss.push(count === 0 ? 0 : lossSum / count);
  state.epoch++;
  let correct = 0;
  for (let part = 0; part < source.trainParts; part++) {
    const rows = rowsWhere(split.validation[part], 1);
    if (rows.length > 0) correct += correctRows(state.params, state, await source.trainPart(part), rows);
  }
  progress.validationAccuracy.push(correct / split.validationCount);
  if (baselineEpochChoice(progress.validationAccuracy).epoch === state.epoch) progress.best.set(state.params);
}

/** The test split scored once, with the chosen epoch's weights. */
export async function baselineTestScore(
  progress: BaselineProgress,
  source: BaselineSource,
): Promise<{ correct: number; count: number }> {
  const chosen: BaselineState = { ...progress.state, params: progress.best };
  let correct = 0;
  let count = 0;
  for (let part = 0; part < source.testParts; part++) {
    const batch = await source.testPart(part);
    correct += baselineCorrect(chosen, batch);
    count += batch.count;
  }
  if (count === 0) throw new RangeError('baseline: no test examples to score');
  return { correct, count };
}

/** What the platform records per dataset: the figure, and how its epoch count was chosen. */
export interface ValidatedBaseline {
  version: number;
  /** Test accuracy of the chosen epoch's weights (scored once). */
  testAccuracy: number;
  testCount: number;
  /** Validation accuracy at the chosen epoch. */
  validationAccuracy: number;
  /** Validation accuracy after each epoch run. */
  validationCurve: number[];
  /** The epoch count chosen on validation accuracy. */
  epochs: number;
  epochsRun: number;
  trainCount: number;
  validationCount: number;
  /** Weights and biases: (features + 1) × classes. */
  weights: number;
  epochLoss: number[];
  steps: number;
  seed: number;
  learningRate: number;
  batchSize: number;
  rule: BaselineEpochRule;
}

export function validatedBaseline(
  progress: BaselineProgress,
  split: BaselineSplit,
  test: { correct: number; count: number },
  rule: Readonly<BaselineEpochRule> = BASELINE_EPOCH_RULE,
): ValidatedBaseline {
  const { state, validationAccuracy } = progress;
  const { epoch } = baselineEpochChoice(validationAccuracy, rule);
  return {
    version: BASELINE_VERSION,
    testAccuracy: test.correct / test.count,
    testCount: test.count,
    validationAccuracy: validationAccuracy[epoch - 1],
    validationCurve: [...validationAccuracy],
    epochs: epoch,
    epochsRun: state.epoch,
    trainCount: split.trainCount,
    validationCount: split.validationCount,
    weights: state.params.length,
    epochLoss: [...state.epochLoss],
    steps: state.step,
    seed: state.seed,
    learningRate: state.learningRate,
    batchSize: state.batchSize,
    rule: { ...rule },
  };
}

export interface FitBaselineOptions extends Partial<BaselineHyperparameters> {
  seed: number;
  rule?: Readonly<BaselineEpochRule>;
  /** Called after each epoch (a report may score more; nothing it does feeds back). */
  onEpoch?: (progress: BaselineProgress) => void | Promise<void>;
}

/** The whole procedure in one go: carve validation, epochs until the rule says done, test once. */
export async function fitBaseline(
  source: BaselineSource,
  options: FitBaselineOptions,
): Promise<ValidatedBaseline> {
  const rule = options.rule ?? BASELINE_EPOCH_RULE;
  const split = await carveValidationSplit(source, options.seed, rule.validationFraction);
  const progress = initialBaselineProgress(source.features, source.classes, options);
  while (!baselineEpochChoice(progress.validationAccuracy, rule).done) {
    await baselineEpoch(progress, source, split);
    await options.onEpoch?.(progress);
  }
  return validatedBaseline(progress, split, await baselineTestScore(progress, source), rule);
}

// Serialised progress (a host resumes between invocations): "WBP1", u32 JSON length, the JSON
// (hyperparameters, shape, step, epoch, curves), zero padding to 8 bytes, then params, m, v and
// best as little-endian f64.
const PROGRESS_MAGIC = 0x31504257; // "WBP1" read as a little-endian u32

const progressHeaderSchema = z.strictObject({
  seed: z.number(),
  learningRate: z.number(),
  batchSize: z.number(),
  features: z.number(),
  classes: z.number(),
  step: z.number().int().min(0),
  epoch: z.number().int().min(0),
  epochLoss: z.array(z.number()),
  validationAccuracy: z.array(z.number()),
});

export function encodeBaselineProgress(progress: BaselineProgress): Uint8Array {
  const { state } = progress;
  const header = new TextEncoder().encode(
    JSON.stringify({
      seed: state.seed,
      learningRate: state.learningRate,
      batchSize: state.batchSize,
      features: state.features,
      classes: state.classes,
      step: state.step,
      epoch: state.epoch,
      epochLoss: state.epochLoss,
      validationAccuracy: progress.validationAccuracy,
    }),
  );
  const start = Math.ceil((8 + header.length) / 8) * 8;
  const n = state.params.length;
  const out = new Uint8Array(start + 32 * n);
  const view = new DataView(out.buffer);
  view.setUint32(0, PROGRESS_MAGIC, true);
  view.setUint32(4, header.length, true);
  out.set(header, 8);
  let at = start;
  for (const a of [state.params, state.m, state.v, progress.best]) {
    for (let i = 0; i < n; i++, at += 8) view.setFloat64(at, a[i], true);
  }
  return out;
}

/** Inverse of `encodeBaselineProgress`; throws a RangeError on anything else. */
export function decodeBaselineProgress(bytes: Uint8Array): BaselineProgress {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length < 8 || view.getUint32(0, true) !== PROGRESS_MAGIC) {
    throw new RangeError('not a baseline progress (magic)');
  }
  const length = view.getUint32(4, true);
  if (8 + length > bytes.length) throw new RangeError('baseline progress is truncated');
  const header = progressHeaderSchema.parse(
    JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + length))),
  );
  const start = Math.ceil((8 + length) / 8) * 8;
  const progress = initialBaselineProgress(header.features, header.classes, header);
  const { state } = progress;
  const n = state.params.length;
  if (bytes.length !== start + 32 * n) {
    throw new RangeError(`baseline progress of ${n} weights has ${bytes.length} bytes`);
  }
  let at = start;
  for (const a of [state.params, state.m, state.v, progress.best]) {
    for (let i = 0; i < n; i++, at += 8) a[i] = view.getFloat64(at, true);
  }
  state.step = header.step;
  state.epoch = header.epoch;
  state.epochLoss.push(...header.epochLoss);
  progress.validationAccuracy.push(...header.validationAccuracy);
  return progress;
}
