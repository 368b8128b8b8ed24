import { describe, expect, it } from 'vitest';
import { shardOfRows, shardOrder, shardRanges, stratifiedSplit, testRowsOfClass } from '../../src/data/split';
import { stream } from '../../src/random';

/** Labels with `sizes[c]` rows of class c, interleaved as an upload might hold them. */
function labelsOf(sizes: number[]): Uint8Array {
  const out: number[] = [];
  const left = [...sizes];
  while (left.some((n) => n > 0)) {
    for (let c = 0; c < left.length; c++) {
      if (left[c] > 0) {
        out.push(c);
        left[c]--;
      }
    }
  }
  return Uint8Array.from(out);
}

describe('stratifiedSplit', () => {
  const sizes = [100, 37, 2, 1, 15, 5];
  const labels = labelsOf(sizes);

  it('holds out round(n · fraction) of each class, keeping a training row for every class of ≥ 2 rows', () => {
    const { train, test } = stratifiedSplit(labels, { seed: 7, testFraction: 0.25 });
    const perClass = (rows: Uint32Array) =>
      sizes.map((_, c) => Array.from(rows).filter((r) => labels[r] === c).length);
    // 100·.25 = 25; 37·.25 = 9.25 → 9; 2·.25 = .5 → 1 (half up); 1 → 0 (kept for training);
    // 15·.25 = 3.75 → 4; 5·.25 = 1.25 → 1.
    expect(perClass(test)).toEqual([25, 9, 1, 0, 4, 1]);
    expect(perClass(train)).toEqual([75, 28, 1, 1, 11, 4]);
    // A partition of all rows, each ascending.
    expect([...train, ...test].sort((a, b) => a - b)).toEqual(Array.from(labels, (_, i) => i));
    for (const rows of [train, test])
      expect(Array.from(rows)).toEqual(Array.from(rows).sort((a, b) => a - b));
  });

  it('never takes the last training row of a class, even at a large fraction', () => {
    expect(testRowsOfClass(2, 0.9)).toBe(1);
    expect(testRowsOfClass(10, 0.99)).toBe(9);
    expect(testRowsOfClass(1, 0.99)).toBe(0);
    expect(testRowsOfClass(0, 0.5)).toBe(0);
    expect(testRowsOfClass(20, 0.1)).toBe(2);
  });

  it('is deterministic in (labels, seed, fraction) and differs between seeds', () => {
    const a = stratifiedSplit(labels, { seed: 1 });
    expect(stratifiedSplit(labels, { seed: 1 })).toEqual(a);
    const b = stratifiedSplit(labels, { seed: 2 });
    expect(b.test.length).toBe(a.test.length);
    expect(Array.from(b.test)).not.toEqual(Array.from(a.test));
  });

  it('chooses rows of each class from its own stream (one class does not move another)', () => {
    // The choice within class 0 is the first t rows of a Fisher–Yates shuffle by stream(seed, 0, 'split', 0).
    const seed = 11;
    const rows0 = Array.from(labels.keys()).filter((i) => labels[i] === 0);
    const rng = stream(seed, 0, 'split', 0);
    const own = [...rows0];
    for (let k = 0; k < 10; k++) {
      const j = k + rng.int(own.length - k);
      [own[k], own[j]] = [own[j], own[k]];
    }
    const expected = own.slice(0, 10).sort((x, y) => x - y);
    const { test } = stratifiedSplit(labels, { seed });
    expect(Array.from(test).filter((r) => labels[r] === 0)).toEqual(expected);
    // Growing another class leaves class 0's test rows alone (same row numbers as long as they come first).
    const more = Uint8Array.from([...labels, 1, 1, 1, 1]);
    expect(Array.from(stratifiedSplit(more, { seed }).test).filter((r) => more[r] === 0)).toEqual(expected);
  });

  it('is close to the fraction per class on a large set', () => {
    const big = labelsOf([5000, 3000, 2000]);
    const { test } = stratifiedSplit(big, { seed: 3 });
    expect(test.length).toBe(1000);
  });

  it('refuses a bad fraction, bad labels, and an empty test split', () => {
    expect(() => stratifiedSplit(labels, { seed: 1, testFraction: 0 })).toThrow(
      /test fraction must be in \(0, 1\), got 0/,
    );
    expect(() => stratifiedSplit(labels, { seed: 1, testFraction: 1 })).toThrow(/in \(0, 1\)/);
    expect(() => stratifiedSplit([0, 1.5], { seed: 1 })).toThrow(/label of row 1 is 1.5/);
    expect(() => stratifiedSplit(labelsOf([3, 4]), { seed: 1, testFraction: 0.1 })).toThrow(
      /the test split is empty.*larger fraction or a separate test file/,
    );
    expect(() => stratifiedSplit(labels, { seed: -1 })).toThrow(/seed must be an integer/);
  });
});

describe('shard order', () => {
  it('permutes rows as MNIST does: Rng.shuffle on stream(seed, 0, shard-permutation)', () => {
    const rows = Array.from({ length: 50 }, (_, i) => i * 3);
    const expected = [...rows];
    stream(9, 0, 'shard-permutation').shuffle(expected);
    const order = shardOrder(rows, 9);
    expect(Array.from(order)).toEqual(expected);
    expect(Array.from(order).sort((a, b) => a - b)).toEqual(rows);
    expect(Array.from(shardOrder(rows, 10))).not.toEqual(expected);
  });

  it('tells each row of the file its shard (−1: not a training row)', () => {
    const { train } = stratifiedSplit(
      Uint8Array.from({ length: 30 }, (_, i) => i % 3),
      { seed: 4 },
    );
    const order = shardOrder(train, 4);
    const shard = shardOfRows(order, 30, 10);
    for (const [p, r] of order.entries()) expect(shard[r]).toBe(Math.floor(p / 10));
    expect(Array.from(shard).filter((s) => s === -1)).toHaveLength(30 - train.length);
    expect(() => shardOfRows([1, 1], 3, 2)).toThrow(/order position 1 holds row 1: not a distinct row of 3/);
    expect(() => shardOfRows([5], 3, 2)).toThrow(/not a distinct row/);
  });

  it('cuts rows into shards with a short last one', () => {
    expect(shardRanges(2500, 1000)).toEqual([
      [0, 1000],
      [1000, 2000],
      [2000, 2500],
    ]);
    expect(shardRanges(0, 1000)).toEqual([]);
    expect(() => shardRanges(10, 0)).toThrow(/rows per shard must be a positive integer/);
  });
});
