/**
 * The paper's way of reporting a champion (WANN.md "Reporting"): test accuracy at each shared
 * weight, their mean ("random shared weight"), the ensemble vote over the weights, and the test
 * accuracy at a single weight tuned on training data.
 */

import { accuracyPerWeight, ensembleAccuracy, tuneWeight } from './accuracy';
import { SHARED_WEIGHTS } from './activation-ids';
import type { Genome } from './genome';
import { compile, Evaluator } from './network';
import type { Batch } from './types';

/**
 * Training shards (0…TUNING_SHARDS−1, 1,000 images each) the tuned weight is chosen on, by every
 * host: the platform's publication and the Node search (WANN.md: tuned on training data).
 */
export const TUNING_SHARDS = 2;

export interface ChampionReport {
  weights: number[];
  /** Test accuracy at each of `weights`. */
  testAccuracy: number[];
  meanTestAccuracy: number;
  ensembleTestAccuracy: number;
  /** Weight tuned on the training batch, and the test accuracy there. */
  tunedWeight: number;
  tunedTestAccuracy: number;
}

export function championReport(
  genome: Genome,
  test: Batch,
  train: Batch,
  weights: readonly number[] = SHARED_WEIGHTS,
  evaluator = new Evaluator(),
): ChampionReport {
  const plan = compile(genome);
  const testAccuracy = accuracyPerWeight(plan, test, weights, evaluator);
  const tuned = tuneWeight(plan, train, undefined, evaluator);
  return {
    weights: [...weights],
    testAccuracy,
    meanTestAccuracy: testAccuracy.reduce((a, b) => a + b, 0) / testAccuracy.length,
    ensembleTestAccuracy: ensembleAccuracy(plan, test, weights, evaluator),
    tunedWeight: tuned.weight,
    tunedTestAccuracy: accuracyPerWeight(plan, test, [tuned.weight], evaluator)[0],
  };
}
