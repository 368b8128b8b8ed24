/**
 * Accuracy reporting in the paper's three ways (WANN.md "Reporting"): per shared weight, as an
 * ensemble vote over weights, and at a single tuned weight.
 */
import { SHARED_WEIGHTS } from './activation-ids';
import { Evaluator, type Plan } from './network';
import type { Batch } from './types';

let sharedEvaluator: Evaluator | undefined;
function evaluatorOr(evaluator: Evaluator | undefined): Evaluator {
  if (evaluator) return evaluator;
  sharedEvaluator ??= new Evaluator();
  return sharedEvaluator;
}

/** The default sweep for `tuneWeight`: −2 to 2 in steps of 0.05, without 0 (80 values). */
export const TUNE_WEIGHTS: readonly number[] = Array.from({ length: 81 }, (_, k) => (k - 40) / 20).filter(
  (w) => w !== 0,
);

/** Accuracy (argmax == label, ties → lowest index) at each weight. */
export function accuracyPerWeight(
  plan: Plan,
  batch: Batch,
  weights: readonly number[] = SHARED_WEIGHTS,
  evaluator?: Evaluator,
): number[] {
  return evaluatorOr(evaluator).evaluate(plan, batch, weights).accuracy;
}

/**
 * Ensemble prediction: each weight votes for its argmax class; the most-voted class wins, and a tie
 * between classes goes to the lowest class index (deterministic, no randomness).
 */
export function ensemblePredict(
  plan: Plan,
  batch: Batch,
  weights: readonly number[] = SHARED_WEIGHTS,
  evaluator?: Evaluator,
): Int32Array {
  if (weights.length === 0) throw new RangeError('ensemble needs at least one weight');
  const count = batch.count;
  const perWeight = evaluatorOr(evaluator).predictLabelsPerWeight(plan, batch, weights);
  const votes = new Int32Array(plan.outputs);
  const out = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    votes.fill(0);
    for (let k = 0; k < weights.length; k++) votes[perWeight[k * count + i]]++;
    let best = 0;
    for (let j = 1; j < votes.length; j++) if (votes[j] > votes[best]) best = j;
    out[i] = best;
  }
  return out;
}

/** Accuracy of `ensemblePredict` on the batch. */
export function ensembleAccuracy(
  plan: Plan,
  batch: Batch,
  weights: readonly number[] = SHARED_WEIGHTS,
  evaluator?: Evaluator,
): number {
  const predicted = ensemblePredict(plan, batch, weights, evaluator);
  let correct = 0;
  for (let i = 0; i < batch.count; i++) if (predicted[i] === batch.labels[i]) correct++;
  return correct / batch.count;
}

export interface TunedWeight {
  weight: number;
  accuracy: number;
  /** Fitness (−mean cross-entropy) at that weight. */
  fitness: number;
}

/**
 * Sweep shared weights and keep the most accurate one (ties → higher fitness, then the earlier
 * candidate). Use the training set for this and report test accuracy at the returned weight.
 */
export function tuneWeight(
  plan: Plan,
  batch: Batch,
  candidates: readonly number[] = TUNE_WEIGHTS,
  evaluator?: Evaluator,
): TunedWeight {
  if (candidates.length === 0) throw new RangeError('tuneWeight needs at least one candidate weight');
  const { accuracy, fitness } = evaluatorOr(evaluator).evaluate(plan, batch, candidates);
  let best = 0;
  for (let k = 1; k < candidates.length; k++) {
    if (accuracy[k] > accuracy[best] || (accuracy[k] === accuracy[best] && fitness[k] > fitness[best]))
      best = k;
  }
  return { weight: candidates[best], accuracy: accuracy[best], fitness: fitness[best] };
}
