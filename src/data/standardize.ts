/**
 * Per-feature standardisation of tabular datasets, with statistics from the training split only
 * (the test split never informs preprocessing).
 *
 * Statistics: mean and population standard deviation (divide by n, as scikit-learn's
 * StandardScaler) per feature, accumulated row by row with Welford's update in float64, so a
 * table streams through once.
 *
 * Applying them is defined in float32, as the served ONNX graph computes it, so shards and the
 * served model agree bit for bit: with x32 = fround(x), mean32 = fround(mean) and
 * scale32 = std > 0 ? fround(1 / std) : 0,
 *   z = fround(fround(x32 − mean32) · scale32)
 * i.e. an ONNX `Sub(mean32)` then `Mul(scale32)` on float32 input (float32 subtraction and
 * multiplication are correctly rounded, and rounding the exact double result of two float32
 * operands gives the same value). A feature with std 0 (constant in training) becomes 0.
 */

export interface FeatureStatistics {
  /** Training rows the statistics were computed from. */
  readonly rows: number;
  /** Per-feature mean (float64). */
  readonly mean: number[];
  /** Per-feature population standard deviation (float64); 0 for a constant feature. */
  readonly std: number[];
}

/** Welford's running mean and variance per feature, float64. */
export class FeatureStatisticsAccumulator {
  private n = 0;
  private readonly mean: Float64Array;
  private readonly m2: Float64Array;

  constructor(readonly features: number) {
    if (!Number.isInteger(features) || features < 1) {
      throw new RangeError(`features must be a positive integer, got ${features}`);
    }
    this.mean = new Float64Array(features);
    this.m2 = new Float64Array(features);
  }

  /** Adds one training row (`features` values, or a row at `offset` of a larger array). */
  add(row: ArrayLike<number>, offset = 0): void {
    if (row.length - offset < this.features) {
      throw new RangeError(`row has ${row.length - offset} values, expected ${this.features}`);
    }
    const n = ++this.n;
    const { mean, m2 } = this;
    for (let f = 0; f < this.features; f++) {
      const x = row[offset + f];
      const delta = x - mean[f];
      mean[f] += delta / n;
      m2[f] += delta * (x - mean[f]);
    }
  }

  /** The statistics so far; at least one row is needed. */
  result(): FeatureStatistics {
    if (this.n === 0) throw new RangeError('standardisation needs at least one training row');
    // A constant column has m2 exactly 0 (every delta is 0), so its std is exactly 0.
    const std = Array.from(this.m2, (m) => Math.sqrt(m / this.n));
    return { rows: this.n, mean: Array.from(this.mean), std };
  }
}

/** Statistics of the rows `rows` (row numbers) of a row-major table of `features` columns. */
export function featureStatistics(
  values: ArrayLike<number>,
  features: number,
  rows: ArrayLike<number>,
): FeatureStatistics {
  const acc = new FeatureStatisticsAccumulator(features);
  for (let i = 0; i < rows.length; i++) acc.add(values, rows[i] * features);
  return acc.result();
}

/** The float32 constants an ONNX graph bakes in: `Sub(mean)` then `Mul(scale)`. */
export interface Standardization {
  readonly mean: Float32Array;
  /** fround(1 / std), or 0 where std is 0 (the feature becomes 0). */
  readonly scale: Float32Array;
}

/** The float32 form of statistics (also what an ONNX exporter bakes in, from a manifest's mean/std). */
export function standardization(stats: {
  readonly mean: readonly number[];
  readonly std: readonly number[];
}): Standardization {
  if (stats.mean.length !== stats.std.length) {
    throw new RangeError(`mean has ${stats.mean.length} values, std ${stats.std.length}`);
  }
  const mean = Float32Array.from(stats.mean);
  const scale = Float32Array.from(stats.std, (s) => {
    if (!(s >= 0) || !Number.isFinite(s)) throw new RangeError(`std must be finite and ≥ 0, got ${s}`);
    return s > 0 ? 1 / s : 0;
  });
  return { mean, scale };
}

/**
 * Raw features → standardised float32, row-major, `mean.length` features per row. `out` may be
 * `raw` itself when that is a Float32Array.
 */
export function standardize(
  raw: ArrayLike<number>,
  { mean, scale }: Standardization,
  out: Float32Array = new Float32Array(raw.length),
): Float32Array {
  const features = mean.length;
  if (raw.length % features !== 0) {
    throw new RangeError(`${raw.length} values are not whole rows of ${features} features`);
  }
  if (out.length < raw.length) throw new RangeError('standardize: output too small');
  for (let i = 0, f = 0; i < raw.length; i++) {
    // The difference is rounded to float32 as ONNX's Sub would; the product of two float32 is
    // exact in float64, and the store into `out` rounds it as ONNX's Mul would.
    out[i] = Math.fround(Math.fround(raw[i]) - mean[f]) * scale[f];
    if (++f === features) f = 0;
  }
  return out;
}
