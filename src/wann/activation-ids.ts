/** Activation ids exactly as WANN.md (and the reference implementation) number them. */
export const ACTIVATION_IDS = {
  linear: 1,
  step: 2,
  sin: 3,
  gaussian: 4,
  tanh: 5,
  sigmoid: 6,
  inverse: 7,
  abs: 8,
  relu: 9,
  cos: 10,
  squared: 11,
} as const;

/** Number of activation functions; ids run 1..ACTIVATION_COUNT. */
export const ACTIVATION_COUNT = 11;

export type ActivationId = (typeof ACTIVATION_IDS)[keyof typeof ACTIVATION_IDS];

/** Activations evolution may give a hidden node for MNIST: no step, never squared. */
export const MNIST_ACTIVATIONS: readonly number[] = [1, 3, 4, 5, 6, 7, 8, 9, 10];
export const ALLOWED_HIDDEN_ACTIVATIONS: ReadonlySet<number> = new Set(MNIST_ACTIVATIONS);

/** The shared weight values every genome is evaluated at. */
export const SHARED_WEIGHTS: readonly number[] = [-2, -1, -0.5, 0.5, 1, 2];
