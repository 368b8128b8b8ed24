/**
 * Trained weights (src/wann/train.ts): derivatives and whole-network gradients against finite
 * differences, resuming from saved state equals an uninterrupted training bit for bit, training
 * improves a real genome on real MNIST images, and the trained ONNX export (onnxruntime-node)
 * equals the src/ forward pass.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildShards, DEFAULT_OUT_DIR } from '../../scripts/build-shards';
import { concatShards, decodeShard, type Shard, shardFileName, shardToBatch } from '../../src/data/shard';
import { genomeToOnnx } from '../../src/onnx/export';
import { SHARED_WEIGHTS } from '../../src/wann/activation-ids';
import { applyActivationFast } from '../../src/wann/activations';
import { firstHidden, type Genome } from '../../src/wann/genome';
import { compile, forwardProbabilities } from '../../src/wann/network';
import {
  activationDerivative,
  compileTrainable,
  decodeTrainingState,
  encodeTrainingState,
  geneWeights,
  initialTrainingState,
  type LabelledFeatures,
  learningRateAt,
  MinibatchOrder,
  parameterCount,
  Trainer,
  TrainingStateFormatError,
  trainedAccuracy,
  trainedGradient,
  trainedLoss,
  trainedPredict,
  trainedProbabilities,
  trainSteps,
} from '../../src/wann/train';
import type { Batch } from '../../src/wann/types';
import { hasSharedWeightInput } from '../../workers/inference/serving-model';
import { grownGenome } from './onnx-fixture';

const ALL_ACTIVATIONS = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11];

function readShard(split: 'train' | 'test', index: number): Shard {
  return decodeShard(new Uint8Array(readFileSync(join(DEFAULT_OUT_DIR, shardFileName(split, index)))));
}

let train: Shard;
let test: Batch;
beforeAll(async () => {
  await buildShards(DEFAULT_OUT_DIR, { log: () => {} });
  train = concatShards([readShard('train', 0), readShard('train', 1)]);
  test = shardToBatch(readShard('test', 0));
}, 120_000);

describe('activation derivatives', () => {
  const points = [-2.7, -1.3, -0.6, -0.25, 0.1, 0.37, 0.8, 1.45, 2.2];
  it.each(ALL_ACTIVATIONS)('activation %i matches central differences', (id) => {
    for (const x of points) {
      const h = 1e-6;
      const numeric = (applyActivationFast(id, x + h) - applyActivationFast(id, x - h)) / (2 * h);
      expect(activationDerivative(id, x)).toBeCloseTo(numeric, 6);
    }
  });

  it('uses the subgradient 0 at the kinks and for step', () => {
    expect(activationDerivative(2, 0.3)).toBe(0);
    expect(activationDerivative(2, 0)).toBe(0);
    expect(activationDerivative(8, 0)).toBe(0);
    expect(activationDerivative(9, 0)).toBe(0);
    expect(activationDerivative(8, -0.5)).toBe(-1);
    expect(activationDerivative(9, 0.5)).toBe(1);
  });
});

describe('network gradient', () => {
  it('equals central differences for a grown genome using all 11 activations', () => {
    const genome = grownGenome(11, 30, ALL_ACTIVATIONS);
    const acts = new Set(Array.from(genome.acts.subarray(firstHidden(genome))));
    for (const a of ALL_ACTIVATIONS) expect(acts.has(a)).toBe(true);
    const net = compileTrainable(genome);
    const n = parameterCount(net);
    // Weights that differ per connection (not the symmetric shared-weight point).
    const weights = new Float64Array(n);
    for (let q = 0; q < n; q++) weights[q] = 0.6 * Math.sin(1.7 * q + 0.3);
    const batch = shardToBatch(readShard('train', 0), 0, 40);
    const grad = trainedGradient(net, weights, batch);
    // Every parameter; and per activation, some parameter into a row of it with a clear gradient.
    const covered = new Set<number>();
    for (let r = 0; r < net.rows; r++) {
      for (let q = net.paramStart[r]; q < net.paramStart[r + 1]; q++) {
        const h = 1e-6;
        const plus = weights.slice();
        const minus = weights.slice();
        plus[q] += h;
        minus[q] -= h;
        const numeric = (trainedLoss(net, plus, batch) - trainedLoss(net, minus, batch)) / (2 * h);
        expect(Math.abs(grad[q] - numeric)).toBeLessThan(1e-6 + 1e-4 * Math.abs(numeric));
        if (Math.abs(numeric) > 1e-3) covered.add(net.rowAct[r]);
      }
    }
    // step's derivative is 0, so no parameter into a step row moves the loss.
    expect([...covered].sort((a, b) => a - b)).toEqual(ALL_ACTIVATIONS.filter((a) => a !== 2));
  });

  it('with every weight equal to w, the forward pass is the shared-weight network at w', () => {
    const genome = grownGenome();
    const net = compileTrainable(genome);
    const plan = compile(genome);
    for (const w of [-1.5, 0.5, 2]) {
      const p = trainedProbabilities(net, new Float64Array(parameterCount(net)).fill(w), test);
      const shared = forwardProbabilities(plan, test, w);
      let max = 0;
      for (let i = 0; i < p.length; i++) max = Math.max(max, Math.abs(p[i] - shared[i]));
      expect(max).toBeLessThan(1e-6); // the shared path's probabilities are float32
    }
  });
});

describe('training', () => {
  it('resumed from saved bytes gives bit-identical state to an uninterrupted training', () => {
    const genome = grownGenome();
    const straight = initialTrainingState(compileTrainable(genome), 1, { seed: 5, batchSize: 64 });
    trainSteps(genome, straight, train, 45); // crosses an epoch boundary (2,000 / 64 = 31 per epoch)

    const first = initialTrainingState(compileTrainable(genome), 1, { seed: 5, batchSize: 64 });
    trainSteps(genome, first, train, 17);
    const saved = encodeTrainingState(first);
    const resumed = decodeTrainingState(saved);
    expect(resumed.step).toBe(17);
    new Trainer(genome, train).steps(resumed, 28); // a fresh trainer, as a new invocation would have
    expect(resumed.step).toBe(45);
    expect(encodeTrainingState(resumed)).toEqual(encodeTrainingState(straight));

    // The order depends on the seed: another seed ends elsewhere.
    const other = initialTrainingState(compileTrainable(genome), 1, { seed: 6, batchSize: 64 });
    trainSteps(genome, other, train, 45);
    expect(encodeTrainingState(other)).not.toEqual(encodeTrainingState(straight));
  });

  it('a decaying step size follows the half cosine, resumes bit for bit and ends elsewhere than a constant one', () => {
    const h = { seed: 0, batchSize: 64, learningRate: 0.02, decaySteps: 40 };
    expect(learningRateAt(h, 0)).toBe(0.02);
    expect(learningRateAt(h, 20)).toBe(0.01); // cos(π/2) is exactly 0 in fastCosPi
    expect(learningRateAt(h, 40)).toBe(0);
    expect(learningRateAt(h, 400)).toBe(0);
    expect(learningRateAt(h, 10)).toBeCloseTo(0.01 * (1 + Math.cos(Math.PI / 4)), 15);
    expect(learningRateAt({ ...h, decaySteps: 0 }, 30)).toBe(0.02);

    const genome = grownGenome();
    const hyper = { seed: 5, batchSize: 64, decaySteps: 45 };
    const straight = initialTrainingState(compileTrainable(genome), 1, hyper);
    trainSteps(genome, straight, train, 45);
    const first = initialTrainingState(compileTrainable(genome), 1, hyper);
    trainSteps(genome, first, train, 17);
    const resumed = decodeTrainingState(encodeTrainingState(first));
    expect(resumed.decaySteps).toBe(45);
    new Trainer(genome, train).steps(resumed, 28);
    expect(encodeTrainingState(resumed)).toEqual(encodeTrainingState(straight));

    const constant = initialTrainingState(compileTrainable(genome), 1, { ...hyper, decaySteps: 0 });
    trainSteps(genome, constant, train, 45);
    expect(Array.from(constant.weights)).not.toEqual(Array.from(straight.weights));
  });

  it('reads a state saved before the decay existed ("WTS1") as a constant step size', () => {
    const net = compileTrainable(grownGenome());
    const state = initialTrainingState(net, 1, { seed: 3, batchSize: 32, learningRate: 0.005 });
    trainSteps(net, state, train, 3);
    const n = state.weights.length;
    const v1 = new Uint8Array(36 + 24 * n);
    const view = new DataView(v1.buffer);
    view.setUint32(0, 0x31535457, true);
    view.setUint32(4, n, true);
    view.setUint32(8, state.step, true);
    view.setUint32(12, state.seed, true);
    view.setUint32(16, state.batchSize, true);
    view.setFloat64(20, state.learningRate, true);
    view.setFloat64(28, state.loss ?? Number.NaN, true);
    [state.weights, state.m, state.v].forEach((a, k) => {
      for (let i = 0; i < n; i++) view.setFloat64(36 + 8 * (k * n + i), a[i], true);
    });
    const read = decodeTrainingState(v1);
    expect(read.decaySteps).toBe(0);
    expect(encodeTrainingState(read)).toEqual(encodeTrainingState(state));
  });

  it('minibatches of an epoch are distinct images, and the next epoch is another permutation', () => {
    const order = new MinibatchOrder(1000, 3, 100);
    const seen = new Set<number>();
    for (let s = 0; s < 10; s++) {
      const { order: idx, from } = order.indices(s);
      for (let i = 0; i < 100; i++) seen.add(idx[from + i]);
    }
    expect(seen.size).toBe(1000);
    const e0 = Array.from(order.indices(0).order.subarray(0, 100));
    const e1 = Array.from(order.indices(10).order.subarray(0, 100));
    expect(e1).not.toEqual(e0);
    expect(Array.from(new MinibatchOrder(1000, 3, 100).indices(0).order.subarray(0, 100))).toEqual(e0);
  });

  it('improves test accuracy and training loss on real images', () => {
    const genome = grownGenome();
    const net = compileTrainable(genome);
    const state = initialTrainingState(net, 1, { seed: 1 });
    const before = trainedAccuracy(net, state.weights, test);
    const lossBefore = trainedLoss(net, state.weights, shardToBatch(train, 0, 1000));
    trainSteps(net, state, train, 300); // ~19 epochs of the 2,000 images
    const after = trainedAccuracy(net, state.weights, test);
    const lossAfter = trainedLoss(net, state.weights, shardToBatch(train, 0, 1000));
    expect(lossAfter).toBeLessThan(lossBefore * 0.8);
    expect(after).toBeGreaterThan(before + 0.03);
  });

  it("on float feature rows (a table's WSH2 shard) equals training on the images those rows hold", () => {
    // The feature path reads each stored float32 as it is; rows holding float32(pixel / 255) are
    // exactly what the image path reads, so both trainings must end on the same bits.
    const genome = grownGenome();
    const rows: LabelledFeatures = {
      count: train.count,
      features: 256,
      values: Float32Array.from(train.pixels, (p) => Math.fround(p / 255)),
      labels: train.labels,
    };
    const fromImages = initialTrainingState(compileTrainable(genome), 1, { seed: 2, batchSize: 64 });
    trainSteps(genome, fromImages, train, 40);
    const fromRows = initialTrainingState(compileTrainable(genome), 1, { seed: 2, batchSize: 64 });
    trainSteps(genome, fromRows, rows, 40);
    expect(encodeTrainingState(fromRows)).toEqual(encodeTrainingState(fromImages));
    // Rows of another width than the network's inputs are refused.
    expect(() => new Trainer(genome, { ...rows, features: 255 })).toThrow(/255 features/);
  });

  it('refuses bad hyperparameters and malformed state bytes', () => {
    const net = compileTrainable(grownGenome());
    expect(() => initialTrainingState(net, 1, { batchSize: 0 })).toThrow(/batchSize/);
    expect(() => initialTrainingState(net, 1, { learningRate: -1 })).toThrow(/learningRate/);
    expect(() => initialTrainingState(net, 1, { decaySteps: 1.5 })).toThrow(/decaySteps/);
    expect(() => initialTrainingState(net, Number.NaN)).toThrow(/finite/);
    const bytes = encodeTrainingState(initialTrainingState(net, 1));
    expect(() => decodeTrainingState(bytes.subarray(0, bytes.length - 8))).toThrow(TrainingStateFormatError);
    const bad = bytes.slice();
    bad[0] ^= 1;
    expect(() => decodeTrainingState(bad)).toThrow(/magic/);
  });
});

describe('trained ONNX export', () => {
  let genome: Genome;
  let weights: Float64Array;
  let net: ReturnType<typeof compileTrainable>;
  let session: ort.InferenceSession;
  beforeAll(async () => {
    genome = grownGenome(11, 30, ALL_ACTIVATIONS);
    net = compileTrainable(genome);
    const state = initialTrainingState(net, SHARED_WEIGHTS[4], { seed: 2 });
    trainSteps(net, state, train, 60);
    weights = state.weights;
    session = await ort.InferenceSession.create(
      genomeToOnnx(genome, { connectionWeights: geneWeights(net, weights), name: 'trained' }),
    );
  });

  it('has only the image input, and the inference Worker tells it from a shared-weight model', () => {
    expect(session.inputNames).toEqual(['image']);
    expect(hasSharedWeightInput(genomeToOnnx(genome, { connectionWeights: geneWeights(net, weights) }))).toBe(
      false,
    );
    expect(hasSharedWeightInput(genomeToOnnx(genome))).toBe(true);
  });

  it('equals the src/ forward pass within 1e-5 on 1,000 real test images', async () => {
    const imageMajor = new Float32Array(test.count * 256);
    for (let i = 0; i < test.count; i++) {
      for (let p = 0; p < 256; p++) imageMajor[i * 256 + p] = test.inputs[p * test.count + i];
    }
    const out = await session.run({ image: new ort.Tensor('float32', imageMajor, [test.count, 256]) });
    const onnxP = out.probabilities.data as Float32Array;
    const ours = trainedProbabilities(net, weights, test);
    let max = 0;
    for (let i = 0; i < ours.length; i++) max = Math.max(max, Math.abs(onnxP[i] - ours[i]));
    expect(max).toBeLessThan(1e-5);
    const labels = Array.from(out.label.data as BigInt64Array, Number);
    expect(labels).toEqual(Array.from(trainedPredict(net, weights, test)));
  });
});
