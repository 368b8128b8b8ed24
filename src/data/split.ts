/**
 * Held-out splits and shard order for uploaded datasets, both seeded and reproducible from
 * (seed, labels) alone.
 *
 * `stratifiedSplit`: for each class c with n_c rows, t_c = min(n_c − 1, round(n_c · testFraction))
 * of its rows go to the test split (round: half up); a class with a single row keeps it in
 * training. So every class with ≥ 2 rows keeps at least one training row, and each class is held
 * out in proportion. Which rows: with a = the class's row numbers in ascending order and
 * rng = `stream(seed, 0, 'split', c)`, for k = 0 … t_c − 1: j = k + rng.int(n_c − k), swap a[k] and
 * a[j]; a[0 … t_c − 1] are the test rows (a forward partial Fisher–Yates). One stream per class, so
 * a class's choice does not depend on the others. Both splits are returned in ascending row order.
 *
 * `shardOrder`: the training rows permuted once by `stream(seed, 0, 'shard-permutation')` (the
 * stream MNIST's one-time permutation uses, scripts/build-shards.ts), so every shard is a uniform
 * sample of the classes; `shardRanges` cuts that order into shards and `shardOfRows` tells each
 * row of the file its shard.
 */

import { stream } from '../random';

/** Fraction of each class held out when no separate test file is given. */
export const DEFAULT_TEST_FRACTION = 0.1;

export interface Split {
  /** Row numbers (0-based, into the labels given) of the training split, ascending. */
  readonly train: Uint32Array;
  /** Row numbers of the test split, ascending. */
  readonly test: Uint32Array;
}

export interface SplitOptions {
  readonly seed: number;
  /** In (0, 1); default DEFAULT_TEST_FRACTION. */
  readonly testFraction?: number;
}

/** Test rows per class for `n` rows of a class: min(n − 1, round(n · fraction)), 0 for n < 2. */
export function testRowsOfClass(n: number, fraction: number): number {
  if (n < 2) return 0;
  return Math.min(n - 1, Math.floor(n * fraction + 0.5));
}

/**
 * The seeded, stratified held-out split of rows labelled `labels` (class indices). Throws when
 * the test split would be empty (too few rows per class for the fraction): a dataset needs test
 * rows for its reported accuracy, so the caller asks for a larger fraction or a test file.
 */
export function stratifiedSplit(labels: ArrayLike<number>, options: SplitOptions): Split {
  const fraction = options.testFraction ?? DEFAULT_TEST_FRACTION;
  if (!(fraction > 0 && fraction < 1)) {
    throw new RangeError(`test fraction must be in (0, 1), got ${fraction}`);
  }
  const n = labels.length;
  let classes = 0;
  for (let i = 0; i < n; i++) {
    const c = labels[i];
    if (!Number.isInteger(c) || c < 0) throw new RangeError(`label of row ${i} is ${c}, not a class index`);
    if (c + 1 > classes) classes = c + 1;
  }
  // Rows of each class, ascending (a counting sort).
  const start = new Uint32Array(classes + 1);
  for (let i = 0; i < n; i++) start[labels[i] + 1]++;
  for (let c = 0; c < classes; c++) start[c + 1] += start[c];
  const rows = new Uint32Array(n);
  const fill = start.slice(0, classes);
  for (let i = 0; i < n; i++) rows[fill[labels[i]]++] = i;

  const isTest = new Uint8Array(n);
  let tests = 0;
  for (let c = 0; c < classes; c++) {
    const size = start[c + 1] - start[c];
    const t = testRowsOfClass(size, fraction);
    if (t === 0) continue;
    const own = rows.subarray(start[c], start[c + 1]);
    const rng = stream(options.seed, 0, 'split', c);
    // Partial Fisher–Yates: the first t positions are a uniform t-subset.
    for (let k = 0; k < t; k++) {
      const j = k + rng.int(size - k);
      const r = own[j];
      own[j] = own[k];
      own[k] = r;
      isTest[r] = 1;
    }
    tests += t;
  }
  if (tests === 0) {
    throw new RangeError(
      `the test split is empty: no class has enough rows for a ${fraction} test fraction; ` +
        'give a larger fraction or a separate test file',
    );
  }
  const train = new Uint32Array(n - tests);
  const test = new Uint32Array(tests);
  for (let i = 0, a = 0, b = 0; i < n; i++) {
    if (isTest[i]) test[b++] = i;
    else train[a++] = i;
  }
  return { train, test };
}

/**
 * The one-time shard order of `rows` (e.g. a split's training rows): a Fisher–Yates shuffle by
 * `stream(seed, 0, 'shard-permutation')`, exactly as MNIST's shards are ordered (`Rng.shuffle`).
 */
export function shardOrder(rows: ArrayLike<number>, seed: number): Uint32Array {
  const order = Array.from(rows);
  stream(seed, 0, 'shard-permutation').shuffle(order);
  return Uint32Array.from(order);
}

/** [start, end) positions of each shard when `count` rows are cut into shards of `rowsPerShard`. */
export function shardRanges(count: number, rowsPerShard: number): Array<readonly [number, number]> {
  if (!Number.isInteger(rowsPerShard) || rowsPerShard < 1) {
    throw new RangeError(`rows per shard must be a positive integer, got ${rowsPerShard}`);
  }
  const ranges: Array<readonly [number, number]> = [];
  for (let s = 0; s < count; s += rowsPerShard) ranges.push([s, Math.min(count, s + rowsPerShard)]);
  return ranges;
}

/**
 * For each of `rows` rows of a file, the shard it lands in when `order` (e.g. `shardOrder` of the
 * training rows) is cut into shards of `rowsPerShard`: position p of `order` goes to shard
 * floor(p / rowsPerShard); rows not in `order` (the test split) get −1. A builder that cannot hold
 * the table streams it once per group of shards and appends each row to its shard.
 */
export function shardOfRows(order: ArrayLike<number>, rows: number, rowsPerShard: number): Int32Array {
  if (!Number.isInteger(rowsPerShard) || rowsPerShard < 1) {
    throw new RangeError(`rows per shard must be a positive integer, got ${rowsPerShard}`);
  }
  const shard = new Int32Array(rows).fill(-1);
  for (let p = 0; p < order.length; p++) {
    const r = order[p];
    if (!(r >= 0 && r < rows) || shard[r] !== -1) {
      throw new RangeError(`order position ${p} holds row ${r}: not a distinct row of ${rows}`);
    }
    shard[r] = Math.floor(p / rowsPerShard);
  }
  return shard;
}
