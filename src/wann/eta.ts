/**
 * How long a search takes, before it starts (`estimateRun`) and while it runs (`estimateRemaining`).
 *
 * One model for both, calibrated on this machine's recorded runs (`npm run bench:eta` fits it from
 * bench/results and writes how often the truth fell inside the range to bench/results/eta.json):
 * a generation's seconds are the population's evaluation cost times a growth shape
 * `1 + k·ln(1 + g/τ)`: networks grow fast at first and ever slower (the recorded hour's champion
 * grew 0.33 connections per generation over its first 1,000 generations, 0.08 overall), and what
 * they cost grows with them.
 * - Before the start the cost per genome is the calibrated one, scaled by population, shared
 *   weights, input size and evaluators; the range is the spread of truth/prediction over the
 *   recorded runs.
 * - While running, the run's own rate over the later half of its history replaces the calibrated
 *   cost (the shape still projects the growth to come), and the range shrinks with the share of
 *   generations left: what is left to guess is the drift of the growth over what remains, plus the
 *   noise of the measured rate, both smaller as the run goes.
 *
 * Both are pure functions of their inputs (no clock, no randomness): the same history gives the
 * same estimate on every page load and in the CLI.
 */

export interface EtaSample {
  gen: number;
  /** Wall time of the generation (ms). */
  durationMs: number;
  /**
   * Mean enabled connections over the generation's population. Not read by the model: the recorded
   * runs that calibrate it have no per-generation connections, only timings, so growth is projected
   * from the generation number (the shape above).
   */
  meanConnections?: number;
}

/** Seconds: a likely value with a range around it (lowS ≤ midS ≤ highS). */
export interface EtaRange {
  lowS: number;
  midS: number;
  highS: number;
}

/**
 * The calibration, fitted by bench/eta.ts from bench/results (it prints these values; paste them
 * here when the recorded runs change). Fitted on the runs recorded with the current kernel (shared
 * rows, 2026-11-28 on): the hour on MNIST (search.json: 8,742 generations, 2 threads), the half hour
 * on Fashion-MNIST (search-fashion-mnist.json: 3,763 generations), and the 40-generation searches
 * of generation.json (1 and 2 threads).
 */
export const ETA_CALIBRATION = {
  /**
   * Core-seconds to evaluate one genome of the first generation (256 inputs, 10 outputs, 6 shared
   * weights, a 1,000-image batch, initEnableProb 0.05), breeding and re-checks included.
   */
  genomeCoreSeconds: 6.0e-4,
  /** Growth of a generation's cost: × (1 + k·ln(1 + g/τ)). */
  growth: { k: 0.046, tau: 100 },
  /**
   * n evaluators are n^p times one: generation.json's search, 0.50 s per generation on 1 thread and
   * 0.29 s on 2 (2^0.8 = 1.74).
   */
  parallelExponent: 0.8,
  /**
   * A genome's cost is fixed + per-connection: core.json, 0.41 s per generation (population 960,
   * 1 thread) at 124 connections and 2.51 s at 2,001, so the fixed part weighs as much as ~240
   * connections. It scales the cost with the first networks' size (inputs × outputs ×
   * initEnableProb) when a dataset has another input size than MNIST's 256.
   */
  fixedCostInConnections: 240,
  /**
   * The platform's cost per generation on top of evaluation (queue, Durable Object, D1 writes;
   * seconds): platform.json has 0.03 s at population 960 (0.31 s against 0.28 s for the same
   * search in Node); a run of population 96 × 40 generations reported in issue 19 took 8 s, ~0.2 s
   * per generation with ~0.03 s of evaluation in it: the high end.
   */
  platformOverheadS: { low: 0.03, likely: 0.06, high: 0.2 },
  /** The platform's first generation also loads shards and compiles (platform.json: +0.27 s). */
  platformFirstGenerationS: 0.3,
  /** Truth ÷ prediction before the start on the recorded runs: 10th and 90th percentile. */
  startRatio: { low: 0.859, high: 1.31 },
  /**
   * While running: ln(truth ÷ prediction) ÷ (share of generations left), 10th and 90th percentile
   * over the recorded runs observed at every checkpoint; the range is exp(these × share left).
   */
  driftPerShareLeft: { low: -0.118, high: 0.124 },
  /** The measured rate's noise: ±1.28 standard errors (an 80 % band, like the percentiles above). */
  noiseZ: 1.28,
  /** Relative spread of one generation's time assumed before two have been seen. */
  defaultGenerationSpread: 0.3,
} as const;

export type EtaCalibration = {
  [K in keyof typeof ETA_CALIBRATION]: (typeof ETA_CALIBRATION)[K] extends number
    ? number
    : { [P in keyof (typeof ETA_CALIBRATION)[K]]: number };
};

/** The growth shape at generation g: what a genome costs relative to generation 0. */
export function growthShape(g: number, c: Pick<EtaCalibration, 'growth'> = ETA_CALIBRATION): number {
  return 1 + c.growth.k * Math.log1p(Math.max(0, g) / c.growth.tau);
}

/**
 * Σ growthShape(g) for a ≤ g < b, in closed form (the midpoint rule on the integral of the shape,
 * exact to a fraction of a generation's cost), so calibration grids and 100,000-generation runs
 * cost the same.
 */
export function shapeSum(a: number, b: number, c: Pick<EtaCalibration, 'growth'> = ETA_CALIBRATION): number {
  if (!(b > a)) return 0;
  const { k, tau } = c.growth;
  // ∫ (1 + k·ln(1 + x/τ)) dx = x + k·((τ + x)·ln(1 + x/τ) − x)
  const F = (x: number) => x + k * ((tau + x) * Math.log1p(x / tau) - x);
  return F(b - 0.5) - F(a - 0.5);
}

/** A search as `estimateRun` needs it: the config's fields that change its cost. */
export interface RunShape {
  population: number;
  generations: number;
  weights?: readonly number[];
  initEnableProb?: number;
  /** The dataset's features and classes (MNIST: 256 and 10). */
  inputs?: number;
  outputs?: number;
}

/**
 * The whole run's time before it starts, for `evaluatorsOrCores` evaluating in parallel (locally,
 * `npm start` runs one evaluator per core). `weights` defaults to the 6 shared weights,
 * `initEnableProb` to 0.05, `inputs`/`outputs` to MNIST's 256/10. `platform: false` leaves out the
 * platform's per-generation cost (a Node search, as the recorded runs are).
 */
export function estimateRun(
  config: RunShape,
  evaluatorsOrCores: number,
  {
    platform = true,
    calibration = ETA_CALIBRATION,
  }: { platform?: boolean; calibration?: EtaCalibration } = {},
): EtaRange {
  const c = calibration;
  const gens = Math.max(0, Math.floor(config.generations));
  if (gens === 0) return { lowS: 0, midS: 0, highS: 0 };
  const workers = Math.max(1, Math.floor(evaluatorsOrCores) || 1);
  const weights = config.weights?.length || 6;
  const firstConnections = (config.initEnableProb ?? 0.05) * (config.inputs ?? 256) * (config.outputs ?? 10);
  const sizeScale =
    (c.fixedCostInConnections + firstConnections) / (c.fixedCostInConnections + 0.05 * 256 * 10);
  const evaluation =
    (Math.max(1, config.population) *
      (weights / 6) *
      sizeScale *
      c.genomeCoreSeconds *
      shapeSum(0, gens, c)) /
    workers ** c.parallelExponent;
  const overhead = (perGen: number) => (platform ? gens * perGen + c.platformFirstGenerationS : 0);
  const midS = evaluation + overhead(c.platformOverheadS.likely);
  return {
    lowS: Math.min(midS, (evaluation + overhead(c.platformOverheadS.low)) * c.startRatio.low),
    midS,
    highS: Math.max(midS, (evaluation + overhead(c.platformOverheadS.high)) * c.startRatio.high),
  };
}

/**
 * What a run's history says about its pace: the cost of one unit of growth shape (seconds), from
 * the later half of the generations seen (the first of them dropped once there are 8: it warms
 * caches and compiles), with the relative spread of those generations' times.
 */
export interface ObservedPace {
  /** Seconds a generation of shape 1 takes at this run's pace. */
  secondsPerShape: number;
  /** Generations the pace was measured on. */
  count: number;
  /** Relative spread of one generation's time around the pace (robust; null below 2). */
  spread: number | null;
}

export function observedPace(
  samples: readonly EtaSample[],
  c: Pick<EtaCalibration, 'growth'> = ETA_CALIBRATION,
): ObservedPace | null {
  let seen = samples;
  if (seen.length === 0) return null;
  if (seen.length >= 8) seen = seen.slice(1);
  const window = seen.slice(Math.floor(seen.length / 2));
  let ms = 0;
  let shape = 0;
  for (const s of window) {
    ms += s.durationMs;
    shape += growthShape(s.gen, c);
  }
  const secondsPerShape = ms / 1000 / shape;
  let spread: number | null = null;
  if (window.length >= 2 && secondsPerShape > 0) {
    // Median absolute deviation (× 1.4826: a standard deviation for normal noise): one retried
    // slice must not widen the range, its time is already in the pace.
    const deviations = window
      .map((s) => Math.abs(s.durationMs / 1000 / (secondsPerShape * growthShape(s.gen, c)) - 1))
      .sort((x, y) => x - y);
    const mid = deviations.length / 2;
    const median =
      deviations.length % 2 ? deviations[Math.floor(mid)] : (deviations[mid - 1] + deviations[mid]) / 2;
    spread = 1.4826 * median;
  }
  return { secondsPerShape, count: window.length, spread };
}

/**
 * Time left until generation `totalGenerations − 1` has finished, from the generations finished so
 * far (any order; non-finite rows ignored), or null with nothing to go on. The likely value is the
 * run's own pace carried along the growth shape; the range is exp(drift × share left ± noise): it
 * narrows as the run goes.
 */
export function estimateRemaining(
  records: readonly EtaSample[],
  totalGenerations: number,
  calibration: EtaCalibration = ETA_CALIBRATION,
): EtaRange | null {
  const c = calibration;
  const samples = records
    .filter((r) => Number.isFinite(r.gen) && Number.isFinite(r.durationMs) && r.durationMs >= 0)
    .slice()
    .sort((x, y) => x.gen - y.gen);
  if (samples.length === 0) return null;
  const first = samples[0];
  const last = samples[samples.length - 1];
  const left = Math.max(0, totalGenerations - (last.gen + 1));
  if (left === 0) return { lowS: 0, midS: 0, highS: 0 };
  const pace = observedPace(samples, c);
  if (!pace) return null;
  const midS = pace.secondsPerShape * shapeSum(last.gen + 1, totalGenerations, c);
  // A fork's history starts at its fork point: the share left is of the generations it runs.
  const done = last.gen + 1 - first.gen;
  const shareLeft = left / (left + Math.max(1, done));
  const noise = (c.noiseZ * (pace.spread ?? c.defaultGenerationSpread)) / Math.sqrt(pace.count);
  return {
    lowS: midS * Math.exp(Math.min(0, c.driftPerShareLeft.low) * shareLeft - noise),
    midS,
    highS: midS * Math.exp(Math.max(0, c.driftPerShareLeft.high) * shareLeft + noise),
  };
}

/** "1 h 40 m", "12 m", "45 s": a duration in seconds, to about two significant units. */
export function formatSeconds(s: number): string {
  if (!Number.isFinite(s) || s < 0) return '–';
  s = Math.round(s);
  if (s < 60) return `${s} s`;
  const m = Math.round(s / 60);
  if (m < 60) return `${m} m`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h} h ${String(m % 60).padStart(2, '0')} m`;
  return `${Math.round(h / 24)} d ${h % 24} h`;
}

/** "1 h 40 m – 2 h 10 m" (one value when both ends print the same). */
export function formatRange(r: EtaRange): string {
  const lo = formatSeconds(r.lowS);
  const hi = formatSeconds(r.highS);
  return lo === hi ? lo : `${lo} – ${hi}`;
}
