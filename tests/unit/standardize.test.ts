import { describe, expect, it } from 'vitest';
import { stratifiedSplit } from '../../src/data/split';
import {
  FeatureStatisticsAccumulator,
  featureStatistics,
  standardization,
  standardize,
} from '../../src/data/standardize';

describe('standardisation', () => {
  it('computes mean and population std per feature (Welford, float64)', () => {
    // Feature 0: 2, 4, 4, 4, 5, 5, 7, 9 → mean 5, std 2 (the textbook example); feature 1 constant.
    const acc = new FeatureStatisticsAccumulator(2);
    for (const x of [2, 4, 4, 4, 5, 5, 7, 9]) acc.add([x, 3.5]);
    expect(acc.result()).toEqual({ rows: 8, mean: [5, 3.5], std: [2, 0] });
  });

  it('is accurate for values with a large offset (where the naive sum of squares fails)', () => {
    const acc = new FeatureStatisticsAccumulator(1);
    for (const x of [1e9 + 4, 1e9 + 7, 1e9 + 13, 1e9 + 16]) acc.add([x]);
    const { mean, std } = acc.result();
    expect(mean[0]).toBe(1e9 + 10);
    expect(std[0]).toBeCloseTo(Math.sqrt(22.5), 9);
  });

  it('uses the training split only', () => {
    // Test rows carry an extreme value; the statistics must not see them.
    const labels = Uint8Array.from({ length: 40 }, (_, i) => i % 2);
    const { train, test } = stratifiedSplit(labels, { seed: 5, testFraction: 0.25 });
    const values = new Float64Array(40 * 2);
    for (let i = 0; i < 40; i++) {
      values[2 * i] = i;
      values[2 * i + 1] = 1;
    }
    for (const r of test) values[2 * r + 1] = 1e6;
    const stats = featureStatistics(values, 2, train);
    expect(stats.rows).toBe(train.length);
    expect(stats.std[1]).toBe(0);
    expect(stats.mean[1]).toBe(1);
    const trainMean = Array.from(train).reduce((a, r) => a + r, 0) / train.length;
    expect(stats.mean[0]).toBeCloseTo(trainMean, 12);
    // Standardised training values have mean 0 and std 1.
    const z = standardize(
      Float64Array.from(train, (r) => values[2 * r]),
      standardization({ mean: [stats.mean[0]], std: [stats.std[0]] }),
    );
    const m = z.reduce((a, v) => a + v, 0) / z.length;
    const s = Math.sqrt(z.reduce((a, v) => a + (v - m) ** 2, 0) / z.length);
    expect(m).toBeCloseTo(0, 6);
    expect(s).toBeCloseTo(1, 6);
  });

  it('maps a constant feature to 0 and applies float32 Sub then Mul (as the ONNX graph does)', () => {
    const st = standardization({ mean: [0.1, 5], std: [3, 0] });
    expect(Array.from(st.scale)).toEqual([Math.fround(1 / 3), 0]);
    expect(Array.from(st.mean)).toEqual([Math.fround(0.1), 5]);
    const raw = [1.7, 5, -2.3, 123.25];
    const z = standardize(raw, st);
    for (let i = 0; i < raw.length; i++) {
      const f = i % 2;
      expect(z[i]).toBe(Math.fround(Math.fround(Math.fround(raw[i]) - st.mean[f]) * st.scale[f]));
    }
    expect(z[1]).toBe(0);
    expect(z[3]).toBe(0);
  });

  it('refuses mismatched shapes and bad statistics', () => {
    expect(() => standardize([1, 2, 3], standardization({ mean: [0, 0], std: [1, 1] }))).toThrow(
      /not whole rows of 2/,
    );
    expect(() => standardization({ mean: [0], std: [1, 1] })).toThrow(/mean has 1 values, std 2/);
    expect(() => standardization({ mean: [0], std: [-1] })).toThrow(/std must be finite and ≥ 0/);
    expect(() => new FeatureStatisticsAccumulator(2).result()).toThrow(/at least one training row/);
    expect(() => new FeatureStatisticsAccumulator(2).add([1])).toThrow(/row has 1 values, expected 2/);
  });
});
