import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { genomeToOnnx } from '../../src/onnx/export';
import { onnx } from '../../src/onnx/onnx-pb.js';
import { SHARED_WEIGHTS } from '../../src/wann/activation-ids';
import { initialGenome } from '../../src/wann/genome';
import { batchedWeightModel } from '../../workers/inference/serving-model';
import { grownGenome } from './onnx-fixture';

const COUNT = 7;
const images = Float32Array.from({ length: COUNT * 256 }, (_, i) => ((i * 7919) % 256) / 255);

describe('batchedWeightModel: one run for several shared weights', () => {
  it('rewrites only the shared_weight declaration, to exactly what onnx-pb encodes for [W, 1]', () => {
    const published = genomeToOnnx(grownGenome(), { name: 'g' });
    const served = batchedWeightModel(published);
    const before = onnx.ValueInfoProto.encode({
      name: 'shared_weight',
      type: { tensorType: { elemType: onnx.TensorProto.DataType.FLOAT, shape: { dim: [{ dimValue: 1 }] } } },
    }).finish();
    const after = onnx.ValueInfoProto.encode({
      name: 'shared_weight',
      type: {
        tensorType: {
          elemType: onnx.TensorProto.DataType.FLOAT,
          shape: { dim: [{ dimParam: 'W' }, { dimValue: 1 }] },
        },
      },
    }).finish();
    const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
    expect(hex(published)).toContain(hex(before));
    expect(hex(served)).toContain(hex(after));
    expect(hex(served)).not.toContain(hex(before));
    expect(served.length - published.length).toBe(after.length - before.length);
  });

  it.each([
    ['a grown genome (every activation, 40+ hidden nodes)', grownGenome()],
    ['an initial genome (every connection enabled)', initialGenome(256, 10, 0.05, { float: () => 0.01 })],
  ])('%s: the rows of one batched run equal one run per weight', async (_name, genome) => {
    const published = genomeToOnnx(genome);
    const single = await ort.InferenceSession.create(published);
    const batched = await ort.InferenceSession.create(batchedWeightModel(published));
    const weights = [...SHARED_WEIGHTS];
    const tiled = new Float32Array(weights.length * images.length);
    for (let g = 0; g < weights.length; g++) tiled.set(images, g * images.length);
    const rowWeights = Float32Array.from(
      { length: weights.length * COUNT },
      (_, r) => weights[Math.floor(r / COUNT)],
    );
    const out = await batched.run({
      image: new ort.Tensor('float32', tiled, [weights.length * COUNT, 256]),
      shared_weight: new ort.Tensor('float32', rowWeights, [weights.length * COUNT, 1]),
    });
    for (const [g, w] of weights.entries()) {
      const one = await single.run({
        image: new ort.Tensor('float32', images, [COUNT, 256]),
        shared_weight: new ort.Tensor('float32', new Float32Array([w]), [1]),
      });
      const p = (out.probabilities.data as Float32Array).subarray(g * COUNT * 10, (g + 1) * COUNT * 10);
      const expected = one.probabilities.data as Float32Array;
      for (let i = 0; i < p.length; i++)
        expect(Math.abs(p[i] - expected[i]), `weight ${w}`).toBeLessThan(1e-6);
      expect(Array.from((out.label.data as BigInt64Array).subarray(g * COUNT, (g + 1) * COUNT))).toEqual(
        Array.from(one.label.data as BigInt64Array),
      );
    }
  });

  it('refuses a model without a shared_weight input', () => {
    const other = onnx.ModelProto.encode({
      irVersion: 8,
      graph: { name: 'x', input: [{ name: 'image' }] },
    }).finish();
    expect(() => batchedWeightModel(other)).toThrow(/no shared_weight input/);
  });
});
