import { describe, expect, it } from 'vitest';
import { addClassCounts, rawFeatureValues, sampleRows } from '../../src/data/dataset-samples';
import { featureStatistics, standardization, standardize } from '../../src/data/standardize';

describe('sampleRows', () => {
  it('takes the first row of every class before the second of any', () => {
    const labels = [2, 2, 0, 2, 1, 0, 1, 2];
    expect(sampleRows(labels, 3, 8)).toEqual([2, 4, 0, 5, 6, 1, 3, 7]);
    expect(sampleRows(labels, 3, 4)).toEqual([2, 4, 0, 5]);
  });

  it('stops when the shard has no more rows, and skips classes it lacks', () => {
    expect(sampleRows([1, 1, 3], 4, 10)).toEqual([0, 2, 1]);
    expect(sampleRows([], 2, 5)).toEqual([]);
  });
});

describe('addClassCounts', () => {
  it('adds a shard’s labels per class and refuses a label beyond the classes', () => {
    const counts = [0, 0, 0];
    addClassCounts(new Uint8Array([0, 2, 2, 1, 2]), counts);
    addClassCounts(new Uint8Array([1]), counts);
    expect(counts).toEqual([1, 2, 3]);
    expect(() => addClassCounts([3], counts)).toThrow(/label 3 of row 0/);
  });
});

describe('rawFeatureValues', () => {
  it('recovers the raw values a table was written with from its float32 standardised row', () => {
    const rows = [
      [0.001, 512.25, -3, 12.5, 1e6, 7],
      [0.037, 498.5, 4, 0.1, 2.5e6, 7],
      [0.004, 1023.75, 0, 99.99, 1.25e6, 7],
    ];
    const features = rows[0].length;
    const stats = featureStatistics(rows.flat(), features, [0, 1, 2]);
    const s = standardization(stats);
    const preprocessing = { kind: 'tabular' as const, mean: stats.mean, std: stats.std };
    for (const row of rows) {
      const z = standardize(row, s);
      // The last feature is constant (std 0): it comes back as its mean, 7.
      expect(rawFeatureValues(z, preprocessing)).toEqual(row);
    }
  });

  it('shows no digit float32 did not keep', () => {
    // 0.123456789 near a mean of 1000 keeps about four decimals through float32.
    const preprocessing = { kind: 'tabular' as const, mean: [1000], std: [400] };
    const z = standardize([0.123456789], standardization(preprocessing));
    const [x] = rawFeatureValues(z, preprocessing);
    expect(Math.abs(x - 0.123456789)).toBeLessThan(1e-3);
    expect(String(x).length).toBeLessThan('0.123456789'.length);
  });

  it('refuses a row of the wrong width', () => {
    expect(() => rawFeatureValues([1, 2], { kind: 'tabular', mean: [0], std: [1] })).toThrow(/2 values/);
  });
});
