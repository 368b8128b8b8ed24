/**
 * Combining the model's answers at several shared weights (WANN.md "Reporting": ensemble of
 * weights): each weight votes for its argmax class, the most-voted class wins, ties go to the lowest
 * class index (as `ensemblePredict` in src/wann/accuracy.ts). The reported probabilities are the
 * mean of the per-weight softmaxes (so `label` need not be their argmax when the vote is split).
 */
export interface EnsembleResult {
  /** count × classes, example-major. */
  probabilities: Float32Array;
  labels: Int32Array;
}

/**
 * `probabilities[k]` (count × classes, example-major) and `labels[k]` (count) are the answers at
 * weight k.
 */
export function combineEnsemble(
  probabilities: readonly ArrayLike<number>[],
  labels: readonly ArrayLike<number | bigint>[],
  count: number,
  classes: number,
): EnsembleResult {
  const k = probabilities.length;
  if (k === 0 || labels.length !== k) throw new RangeError('ensemble needs one answer per weight');
  const mean = new Float32Array(count * classes);
  const sum = new Float64Array(classes);
  const votes = new Int32Array(classes);
  const out = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    sum.fill(0);
    votes.fill(0);
    for (let m = 0; m < k; m++) {
      const p = probabilities[m];
      for (let j = 0; j < classes; j++) sum[j] += p[i * classes + j];
      votes[Number(labels[m][i])]++;
    }
    let best = 0;
    for (let j = 0; j < classes; j++) {
      mean[i * classes + j] = sum[j] / k;
      if (votes[j] > votes[best]) best = j;
    }
    out[i] = best;
  }
  return { probabilities: mean, labels: out };
}
