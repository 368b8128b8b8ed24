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
export type ActivationName = keyof typeof ACTIVATION_IDS;

/**
 * A table indexed by activation id (0..ACTIVATION_COUNT) from one entry per name, so no table
 * depends on the ids' order; index 0 (no activation) gets linear's entry.
 */
export function tableById<T>(byName: Readonly<Record<ActivationName, T>>): T[] {
  const nameOf = new Map<number, ActivationName>();
  for (const name of Object.keys(ACTIVATION_IDS) as ActivationName[]) nameOf.set(ACTIVATION_IDS[name], name);
  return Array.from({ length: ACTIVATION_COUNT + 1 }, (_, id) => byName[nameOf.get(id) ?? 'linear']);
}

/** Activations evolution may give a hidden node for MNIST: no step, never squared. */
export const MNIST_ACTIVATIONS: readonly number[] = [
  ACTIVATION_IDS.linear,
  ACTIVATION_IDS.sin,
  ACTIVATION_IDS.gaussian,
  ACTIVATION_IDS.tanh,
  ACTIVATION_IDS.sigmoid,
  ACTIVATION_IDS.inverse,
  ACTIVATION_IDS.abs,
  ACTIVATION_IDS.relu,
  ACTIVATION_IDS.cos,
];
export const ALLOWED_HIDDEN_ACTIVATIONS: ReadonlySet<number> = new Set(MNIST_ACTIVATIONS);

/** The shared weight values every genome is evaluated at. */
export const SHARED_WEIGHTS: readonly number[] = [-2, -1, -0.5, 0.5, 1, 2];
