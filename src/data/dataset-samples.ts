/**
 * What the datasets page shows of a dataset's rows: which rows of a shard to show (a few of every
 * class, so the sample grid is not the first class twice over), a table row's raw feature values
 * recovered from its standardised float32 shard values, and class counts per split.
 */
import type { DatasetPreprocessing } from './dataset';

/** Rows shown at most (`?limit=` of the samples route). */
export const MAX_SAMPLE_ROWS = 64;
/** Rows shown when the request does not say. */
export const DEFAULT_SAMPLE_ROWS = 24;

/**
 * Up to `limit` row numbers of a shard whose labels are `labels`: the first row of each class in
 * class order, then the second of each, and so on, so every class present appears before any
 * appears twice. Deterministic: the same shard always shows the same rows.
 */
export function sampleRows(labels: ArrayLike<number>, classes: number, limit: number): number[] {
  const byClass: number[][] = Array.from({ length: classes }, () => []);
  for (let i = 0; i < labels.length; i++) {
    const label = labels[i];
    // A label beyond the class list is the shard's fault, not a row to show.
    if (label < classes && byClass[label].length < limit) byClass[label].push(i);
  }
  const rows: number[] = [];
  for (let round = 0; rows.length < limit; round++) {
    let any = false;
    for (const members of byClass) {
      if (round >= members.length) continue;
      any = true;
      rows.push(members[round]);
      if (rows.length === limit) break;
    }
    if (!any) break;
  }
  return rows;
}

/** Rows per class in `labels` (a shard's), added into `counts`; a label beyond it is an error. */
export function addClassCounts(labels: ArrayLike<number>, counts: number[]): void {
  for (let i = 0; i < labels.length; i++) {
    const label = labels[i];
    if (label >= counts.length) {
      throw new RangeError(`label ${label} of row ${i} is beyond the ${counts.length} classes`);
    }
    counts[label]++;
  }
}

const FLOAT32_EPSILON = 2 ** -24;

/**
 * A standardised row (float32 as a WSH2 shard holds it) back to raw feature values:
 * x = z · std + mean32 (a feature constant in training is its mean). The shard kept
 * z = fround(fround(x32 − mean32) · fround(1/std)), three float32 roundings of |x − mean| and one of
 * x, so each value is rounded to the decimal step that error allows: 12.5 comes back as 12.5, not
 * 12.500000476837158, and no digit is shown that float32 did not keep.
 */
export function rawFeatureValues(
  standardised: ArrayLike<number>,
  preprocessing: Extract<DatasetPreprocessing, { kind: 'tabular' }>,
): number[] {
  const { mean, std } = preprocessing;
  if (standardised.length !== mean.length) {
    throw new RangeError(`a row has ${standardised.length} values, the dataset ${mean.length} features`);
  }
  return Array.from({ length: mean.length }, (_, f) => {
    // Constant in training: every training row held exactly its mean.
    if (std[f] === 0) return mean[f];
    const mean32 = Math.fround(mean[f]);
    const offset = standardised[f] * std[f];
    const x = offset + mean32;
    // Twice the error bound: rounding to a step at least that wide keeps only kept digits.
    const error = 2 * FLOAT32_EPSILON * (3 * Math.abs(offset) + Math.abs(x));
    if (!(error > 0)) return x;
    const exponent = Math.ceil(Math.log10(error));
    const step = 10 ** exponent;
    const rounded = Math.round(x / step) * step;
    // toFixed drops the binary noise of the multiplication (0.1 · 3 = 0.30000000000000004).
    return exponent < 0 ? Number(rounded.toFixed(Math.min(-exponent, 100))) : rounded;
  });
}
