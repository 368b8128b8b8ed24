/**
 * A tabular dataset's model takes raw feature values: the exported graph standardises them in
 * float32 exactly as the shards were (src/data/standardize.ts), so ONNX on raw rows gives the same
 * labels as the genome evaluated here on standardised rows, and bit-identical probabilities to a
 * graph without standardisation fed the standardised rows.
 */
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { featureStatistics, standardization, standardize } from '../../src/data/standardize';
import { genomeToOnnx } from '../../src/onnx/export';
import { stream } from '../../src/random';
import { initialGenome } from '../../src/wann/genome';
import { compile, predictLabels } from '../../src/wann/network';

const FEATURES = 12;
const CLASSES = 3;
const N = 200;

describe('ONNX export with a standardisation', () => {
  it('takes raw features and answers as the genome does on standardised ones', async () => {
    const rng = stream(3, 0, 'onnx-standardize');
    const genome = initialGenome(FEATURES, CLASSES, 0.6, rng);
    // Raw features on scales far from standard (offsets, spreads), one constant column.
    const raw = new Float64Array(N * FEATURES);
    for (let i = 0; i < N; i++) {
      for (let f = 0; f < FEATURES; f++)
        raw[i * FEATURES + f] = f === 5 ? 7 : 100 * f + (f + 1) * 30 * rng.float();
    }
    const rows = Array.from({ length: N }, (_, i) => i);
    const z = standardization(featureStatistics(raw, FEATURES, rows));
    const standardised = standardize(raw, z);

    const withZ = await ort.InferenceSession.create(genomeToOnnx(genome, { standardization: z }));
    const without = await ort.InferenceSession.create(genomeToOnnx(genome));
    const plan = compile(genome);
    // The network reads features feature-major.
    const inputs = new Float32Array(N * FEATURES);
    for (let i = 0; i < N; i++)
      for (let f = 0; f < FEATURES; f++) inputs[f * N + i] = standardised[i * FEATURES + f];
    const batch = { count: N, features: FEATURES, inputs, labels: new Uint8Array(N) };
    for (const w of [-1.5, 0.5, 2]) {
      const weight = new ort.Tensor('float32', new Float32Array([w]), [1]);
      const a = await withZ.run({
        image: new ort.Tensor('float32', Float32Array.from(raw), [N, FEATURES]),
        shared_weight: weight,
      });
      const b = await without.run({
        image: new ort.Tensor('float32', standardised, [N, FEATURES]),
        shared_weight: weight,
      });
      expect(a.probabilities.data).toEqual(b.probabilities.data);
      expect(Array.from(a.label.data as BigInt64Array, Number)).toEqual(
        Array.from(predictLabels(plan, batch, w)),
      );
    }
  });

  it('refuses a standardisation of another width', () => {
    const genome = initialGenome(FEATURES, CLASSES, 0.5, stream(1, 0, 'x'));
    const z = standardization({ mean: [0, 0], std: [1, 1] });
    expect(() => genomeToOnnx(genome, { standardization: z })).toThrow(/2 features/);
  });
});
