/** Shapes shared by evaluation, the strategy and the platform. */

/**
 * A batch of examples laid out input-major ("node × batch"): the value of input p for example i is
 * `inputs[p * count + i]`: any finite value (image shards give pixel / 255 in [0, 1], feature
 * shards standardised values; nothing in evaluation assumes a range). Labels are class indices.
 * Treat a batch as immutable once it has been evaluated: the wasm kernel caches a copy of `inputs`
 * by identity.
 */
export interface Batch {
  readonly count: number;
  readonly features: number;
  readonly inputs: Float32Array;
  readonly labels: Uint8Array;
}

/** One genome's evaluation on one batch, one entry per shared weight (plain arrays: wire-friendly). */
export interface GenomeResult {
  /** −mean cross-entropy per shared weight (probabilities clamped away from 0). */
  fitness: number[];
  /** Batch accuracy per shared weight, in [0, 1]. */
  accuracy: number[];
  /** Enabled connections. */
  connections: number;
}
