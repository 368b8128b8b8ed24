/**
 * The softmax-regression baseline (src/wann/baseline.ts): its gradient against central differences,
 * bit-identical reruns and resumes, a separable problem learnt exactly, and a quick real-MNIST run.
 */
import { describe, expect, it } from 'vitest';
import { ensureShards, readShard } from '../../node/shards';
import { shardsToBatch, shardToBatch } from '../../src/data/shard';
import { stream } from '../../src/random';
import {
  BASELINE_EPOCH_RULE,
  type BaselineSource,
  baselineCorrect,
  baselineEpoch,
  baselineEpochChoice,
  baselineGradient,
  baselineLoss,
  carveValidationSplit,
  decodeBaselineProgress,
  encodeBaselineProgress,
  fitBaseline,
  initialBaselineProgress,
  initialBaselineState,
  softmaxRegressionBaseline,
  trainBaselineEpochs,
} from '../../src/wann/baseline';
import type { Batch } from '../../src/wann/types';

/** Example-major rows → an input-major Batch. */
function batchOf(rows: readonly number[][], labels: readonly number[]): Batch {
  const count = rows.length;
  const features = rows[0].length;
  const inputs = new Float32Array(count * features);
  rows.forEach((row, i) => {
    row.forEach((x, p) => {
      inputs[p * count + i] = x;
    });
  });
  return { count, features, inputs, labels: Uint8Array.from(labels) };
}

/**
 * `count` examples of `classes` linearly separable classes: every feature is noise in [0, 0.3),
 * and feature k gets +0.7 for class k, so the class is the argmax of the first `classes` features.
 */
function separable(count: number, features: number, classes: number, seed: number): Batch {
  const rng = stream(seed, 0, 'test');
  const rows: number[][] = [];
  const labels: number[] = [];
  for (let i = 0; i < count; i++) {
    const y = i % classes;
    const row = Array.from({ length: features }, () => Math.fround(0.3 * rng.float()));
    row[y] = Math.fround(row[y] + 0.7);
    rows.push(row);
    labels.push(y);
  }
  return batchOf(rows, labels);
}

const bits = (a: Float64Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('hex');

describe('gradient', () => {
  it('matches central differences of the mean cross-entropy on a tiny problem', () => {
    const rng = stream(7, 0, 'test');
    const features = 5;
    const classes = 3;
    // Some exact zeros, so the skipped-zero path is covered too.
    const rows = Array.from({ length: 9 }, () =>
      Array.from({ length: features }, () => (rng.chance(0.3) ? 0 : Math.fround(rng.float()))),
    );
    const labels = Array.from({ length: 9 }, (_, i) => i % classes);
    const batch = batchOf(rows, labels);
    const state = initialBaselineState(features, classes, { seed: 1 });
    for (let q = 0; q < state.params.length; q++) state.params[q] = 2 * rng.float() - 1;

    const { loss, grad } = baselineGradient(state, batch);
    expect(loss).toBeCloseTo(baselineLoss(state, batch), 12);
    const h = 1e-5;
    for (let q = 0; q < state.params.length; q++) {
      const w = state.params[q];
      state.params[q] = w + h;
      const up = baselineLoss(state, batch);
      state.params[q] = w - h;
      const down = baselineLoss(state, batch);
      state.params[q] = w;
      const numeric = (up - down) / (2 * h);
      expect(Math.abs(grad[q] - numeric), `parameter ${q}`).toBeLessThan(1e-8 + 1e-6 * Math.abs(numeric));
    }
    // Not vacuous: the gradient is far from zero at a random point.
    expect(Math.max(...Array.from(grad, Math.abs))).toBeGreaterThan(1e-2);
  });
});

describe('determinism', () => {
  const train = separable(300, 6, 3, 11);

  it('gives the same bits for the same seed, and different ones for another seed', () => {
    const a = trainBaselineEpochs(initialBaselineState(6, 3, { seed: 5 }), train, 3);
    const b = trainBaselineEpochs(initialBaselineState(6, 3, { seed: 5 }), train, 3);
    const c = trainBaselineEpochs(initialBaselineState(6, 3, { seed: 6 }), train, 3);
    expect(bits(a.params)).toBe(bits(b.params));
    expect(a.epochLoss).toEqual(b.epochLoss);
    expect(bits(a.params)).not.toBe(bits(c.params));
  });

  it('resumed at an epoch boundary equals an uninterrupted training', () => {
    const whole = trainBaselineEpochs(initialBaselineState(6, 3, { seed: 5, batchSize: 32 }), train, 3);
    const split = initialBaselineState(6, 3, { seed: 5, batchSize: 32 });
    trainBaselineEpochs(split, train, 2);
    trainBaselineEpochs(split, train, 1);
    expect(split.step).toBe(whole.step);
    expect(split.step).toBe(3 * Math.ceil(300 / 32)); // the short last minibatch is a step too
    expect(bits(split.params)).toBe(bits(whole.params));
    expect(bits(split.m)).toBe(bits(whole.m));
    expect(bits(split.v)).toBe(bits(whole.v));
  });
});

describe('learning', () => {
  it('classifies a separable problem perfectly, on held-out examples too', () => {
    const train = separable(600, 8, 4, 1);
    const test = separable(400, 8, 4, 2);
    const result = softmaxRegressionBaseline(train, test, { classes: 4, seed: 3, epochs: 40 });
    expect(result.testAccuracy).toBe(1);
    expect(result.testCount).toBe(400);
    expect(result.steps).toBe(40 * Math.ceil(600 / 128));
    // The training loss falls (from about ln 4 = 1.39 at the zero start).
    expect(result.epochLoss[39]).toBeLessThan(0.75 * result.epochLoss[0]);
    const state = initialBaselineState(8, 4, { seed: 3 });
    expect(baselineCorrect(state, test)).toBe(100); // all-zero weights: ties go to class 0
  });

  it('refuses labels beyond the class count and a feature-count mismatch', () => {
    const batch = separable(10, 4, 3, 1);
    expect(() => trainBaselineEpochs(initialBaselineState(4, 2, { seed: 1 }), batch, 1)).toThrow(/label 2/);
    expect(() => baselineCorrect(initialBaselineState(5, 3, { seed: 1 }), batch)).toThrow(/4 features/);
  });
});

describe('MNIST shards', () => {
  it('reaches more than 90 % test accuracy after one epoch', async () => {
    const dir = await ensureShards();
    const train = shardsToBatch(Array.from({ length: 60 }, (_, i) => readShard(dir, 'train', i)));
    const test = Array.from({ length: 10 }, (_, i) => shardToBatch(readShard(dir, 'test', i)));
    const result = softmaxRegressionBaseline(train, test, { classes: 10, seed: 1, epochs: 1 });
    expect(result.testCount).toBe(10_000);
    expect(result.testAccuracy).toBeGreaterThan(0.9);
  });
});

/** A source over in-memory parts that counts what it is asked for. */
function partsSource(train: Batch[], test: Batch[], classes: number) {
  const asked = { train: 0, test: 0 };
  const source: BaselineSource = {
    features: train[0].features,
    classes,
    trainParts: train.length,
    testParts: test.length,
    trainPart: (i) => {
      asked.train++;
      return train[i];
    },
    testPart: (i) => {
      asked.test++;
      return test[i];
    },
  };
  return { source, asked };
}

/** `separable` with every `flip`-th label moved to the next class: validation accuracy plateaus. */
function noisy(count: number, features: number, classes: number, seed: number, flip: number): Batch {
  const b = separable(count, features, classes, seed);
  const labels = b.labels.slice();
  for (let i = 0; i < count; i += flip) labels[i] = (labels[i] + 1) % classes;
  return { ...b, labels };
}

describe('the epoch count chosen on validation (the platform baseline)', () => {
  it('is the first best validation epoch; done at the cap or after `patience` epochs without a better one', () => {
    const rule = { validationFraction: 0.1, maxEpochs: 6, patience: 2 };
    expect(baselineEpochChoice([], rule)).toEqual({ epoch: 0, done: false });
    expect(baselineEpochChoice([0.5, 0.7, 0.7], rule)).toEqual({ epoch: 2, done: false });
    expect(baselineEpochChoice([0.5, 0.7, 0.7, 0.6], rule)).toEqual({ epoch: 2, done: true });
    expect(baselineEpochChoice([0.5, 0.7, 0.6, 0.8], rule)).toEqual({ epoch: 4, done: false });
    expect(baselineEpochChoice([0.1, 0.2, 0.3, 0.4, 0.5, 0.6], rule)).toEqual({ epoch: 6, done: true });
    expect(baselineEpochChoice([0.9, 0.8, 0.8], BASELINE_EPOCH_RULE)).toEqual({ epoch: 1, done: false });
  });

  it('carves a stratified validation split from training data, scores test once, and is deterministic', async () => {
    const train = [0, 1, 2].map((k) => noisy(400, 8, 4, 10 + k, 5));
    const test = [noisy(300, 8, 4, 20, 5), noisy(100, 8, 4, 21, 5)];
    const { source, asked } = partsSource(train, test, 4);
    const result = await fitBaseline(source, { seed: 4 });
    expect(asked.test).toBe(2); // each test part once: after the choice, never during it
    expect(result.validationCount).toBe(120); // 10 % of each class of 1,200 rows
    expect(result.trainCount).toBe(1080);
    expect(result.testCount).toBe(400);
    expect(result.epochsRun).toBe(result.validationCurve.length);
    expect(result.epochs).toBe(baselineEpochChoice(result.validationCurve).epoch);
    expect(baselineEpochChoice(result.validationCurve).done).toBe(true);
    expect(result.validationAccuracy).toBe(result.validationCurve[result.epochs - 1]);
    expect(result.validationAccuracy).toBeGreaterThan(0.7);
    expect(result.testAccuracy).toBeGreaterThan(0.7);
    expect(result.weights).toBe(9 * 4);
    // The same inputs give the same figure, bit for bit.
    expect(await fitBaseline(partsSource(train, test, 4).source, { seed: 4 })).toEqual(result);
    // Test labels scrambled: the choice and the curve do not move (only the test figure does).
    const scrambled = test.map((b) => ({ ...b, labels: b.labels.map((l) => (l + 1) % 4) }));
    const blind = await fitBaseline(partsSource(train, scrambled, 4).source, { seed: 4 });
    expect(blind.validationCurve).toEqual(result.validationCurve);
    expect(blind.epochs).toBe(result.epochs);
    expect(blind.testAccuracy).not.toBe(result.testAccuracy);
  });

  it('resumed from saved progress equals an uninterrupted fit', async () => {
    const train = [0, 1].map((k) => noisy(300, 6, 3, 30 + k, 4));
    const test = [noisy(200, 6, 3, 40, 4)];
    const { source } = partsSource(train, test, 3);
    const split = await carveValidationSplit(source, 2);
    const straight = initialBaselineProgress(6, 3, { seed: 2 });
    for (let e = 0; e < 4; e++) await baselineEpoch(straight, source, split);
    let resumed = initialBaselineProgress(6, 3, { seed: 2 });
    for (let e = 0; e < 4; e++) {
      await baselineEpoch(resumed, source, split);
      resumed = decodeBaselineProgress(encodeBaselineProgress(resumed));
    }
    expect(encodeBaselineProgress(resumed)).toEqual(encodeBaselineProgress(straight));
    expect(resumed.validationAccuracy).toHaveLength(4);
    expect(() => decodeBaselineProgress(new Uint8Array(8))).toThrow(/magic/);
  });
});
