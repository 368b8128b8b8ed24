/**
 * Evaluating a genome, the door callers use: compile it once into a `Plan` (plan.ts: topological
 * rows, weight-mirroring parities, shared rows across plans with `mergePlans`), then run the plan
 * on a batch at every shared weight with an `Evaluator` (evaluator/: one class over one numeric
 * backend each, JS float64, wasm float64 or wasm float32). The functions below use one shared JS
 * float64 evaluator: the publishing numerics, what the ONNX export computes.
 */
export {
  Evaluator,
  type EvaluatorOptions,
  evaluate,
  forwardProbabilities,
  MIN_FITNESS,
  MIN_PROBABILITY,
  predictLabels,
  predictLabelsPerWeight,
} from './evaluator/evaluator';
export { KernelStartError } from './kernel/kernel';
export {
  compile,
  MAX_MERGED_ROWS,
  type MergedMember,
  type MergedPlans,
  mergePlans,
  PARITY_NONE,
  type Plan,
} from './plan';
