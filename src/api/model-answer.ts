/**
 * Which model answered a prediction, said the same way by the API, the pages and the CLI: the
 * version, its variant (the searched network at shared weights, or per-connection trained
 * weights), and for a shared-weight version which weights voted.
 */
import type { ModelVariant } from './vocabulary';

/** How a prediction's weights were chosen: trained per connection, the ensemble, or one shared weight. */
export type AnswerWeights = 'trained' | 'ensemble' | number;

export interface ModelAnswer {
  version: number;
  variant: ModelVariant;
  /** A trained version's shared-weight source version; null otherwise. */
  trainedFrom: number | null;
  weights: AnswerWeights;
}

/**
 * "v2 (trained weights, from v1)", "v1 (shared weights, ensemble)", "v1 (shared weight 1.5)":
 * the words beside every prediction.
 */
export function describeAnswer(a: ModelAnswer): string {
  if (a.variant === 'trained' || a.weights === 'trained') {
    return `v${a.version} (trained weights${a.trainedFrom != null ? `, from v${a.trainedFrom}` : ''})`;
  }
  if (a.weights === 'ensemble') return `v${a.version} (shared weights, ensemble)`;
  return `v${a.version} (shared weight ${a.weights})`;
}
