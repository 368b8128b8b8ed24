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
 *   cost (the shape still projects the growth to come, its k pulled towards the run's own growth as
 *   the history lengthens), and the range shrinks with the share of generations left: what is left
 *   to guess is the drift of the growth over what remains, plus the noise of the measured rate,
 *   both smaller as the run goes.
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
   * seconds): platform.json has 0.03 s with 2 evaluator processes and 0.09 s with one (0.31 and
   * 0.36 s per generation at population 960, against 0.28 s for the same search in Node): likely
   * their mean; a run of population 96 × 40 generations reported in issue 19 took 8 s, ~0.2 s
   * per generation with ~0.03 s of evaluation in it: the high end.
   */
  platformOverheadS: { low: 0.03, likely: 0.06, high: 0.2 },
  /** The platform's first generation also loads shards and compiles (platform.json: +0.27 s). */
  platformFirstGenerationS: 0.3,
  /**
   * While running, the run's own growth weighs generations seen ÷ (those + this) against the
   * calibrated k: a run's first generations say little about its growth, a long history a lot.
   */
  ownGrowthAfter: 2000,
  /** Truth ÷ prediction before the start on the recorded runs: 10th and 90th percentile. */
  startRatio: { low: 0.859, high: 1.31 },
  /**
   * While running: ln(truth ÷ prediction) ÷ (share of generations left), 10th and 90th percentile
   * over the recorded long runs observed at 5–90 % of every end (each minute checkpoint counts as
   * the end of a run); the range is exp(these × share left).
   */
  driftPerShareLeft: { low: -0.116, high: 0.12 },
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

/** Generations `from` ≤ g < `to` of a run took `seconds` (a group of its history). */
export interface PaceSegment {
  from: number;
  to: number;
  seconds: number;
}

/** A run's history is fitted in at most this many consecutive groups (noise averages out). */
const MAX_SEGMENTS = 48;

/**
 * The run's own growth k in [0, 2]: least squares of ln(seconds ÷ shape sum) over its segments,
 * by golden-section search (40 steps). Null below 3 segments (nothing to tell growth from noise).
 */
function ownGrowth(segments: readonly PaceSegment[], c: EtaCalibration): number | null {
  if (segments.length < 3) return null;
  const error = (k: number) => {
    const at = { growth: { ...c.growth, k } };
    const logs = segments.map((s) => Math.log(s.seconds / shapeSum(s.from, s.to, at)));
    const m = logs.reduce((x, y) => x + y, 0) / logs.length;
    return logs.reduce((x, y) => x + (y - m) ** 2, 0);
  };
  const ratio = (Math.sqrt(5) - 1) / 2;
  let [lo, hi] = [0, 2];
  for (let i = 0; i < 40; i++) {
    const a = hi - ratio * (hi - lo);
    const b = lo + ratio * (hi - lo);
    if (error(a) <= error(b)) hi = b;
    else lo = a;
  }
  return (lo + hi) / 2;
}

/**
 * Seconds left until generation `total − 1` has finished, from the run's history as segments (in
 * order, contiguous; the first generation already left out) ending at generation `done`, with
 * `noise` the measured pace's relative standard error. The growth k is the calibrated one, pulled
 * towards the run's own (weight: generations seen ÷ (those + `ownGrowthAfter`)); the pace is the
 * later half of the history's seconds over its shape sum, carried along the shape to the end; the
 * range is exp(drift × share left ± noise).
 */
export function projectRemaining(
  segments: readonly PaceSegment[],
  total: number,
  { firstGen = segments[0]?.from ?? 0, noise = 0 }: { firstGen?: number; noise?: number } = {},
  c: EtaCalibration = ETA_CALIBRATION,
): EtaRange | null {
  if (segments.length === 0) return null;
  const done = segments[segments.length - 1].to;
  const left = Math.max(0, total - done);
  if (left === 0) return { lowS: 0, midS: 0, highS: 0 };
  const span = done - segments[0].from;
  const own = ownGrowth(segments, c);
  const k =
    own === null ? c.growth.k : (span * own + c.ownGrowthAfter * c.growth.k) / (span + c.ownGrowthAfter);
  const at = { growth: { ...c.growth, k } };
  // The later half of the generations seen: the pace now, not the average since the start.
  const half = segments[0].from + span / 2;
  let seconds = 0;
  let shape = 0;
  for (const s of segments) {
    if (s.to <= half) continue;
    const from = Math.max(s.from, half);
    seconds += (s.seconds * (s.to - from)) / (s.to - s.from);
    shape += shapeSum(from, s.to, at);
  }
  const midS = shape > 0 ? (seconds / shape) * shapeSum(done, total, at) : 0;
  // A fork's history starts at its fork point: the share left is of the generations it runs.
  const shareLeft = left / (left + Math.max(1, done - firstGen));
  return {
    lowS: midS * Math.exp(Math.min(0, c.driftPerShareLeft.low) * shareLeft - noise),
    midS,
    highS: midS * Math.exp(Math.max(0, c.driftPerShareLeft.high) * shareLeft + noise),
  };
}

/**
 * Time left until generation `totalGenerations − 1` has finished, from the generations finished so
 * far (any order; non-finite rows ignored), or null with nothing to go on: `projectRemaining` over
 * the history in at most 48 groups, its first generation left out once there are 8 (it warms
 * caches and compiles), the noise from the later half's spread around the pace.
 */
export function estimateRemaining(
  records: readonly EtaSample[],
  totalGenerations: number,
  calibration: EtaCalibration = ETA_CALIBRATION,
): EtaRange | null {
  const c = calibration;
  const sorted = records
    .filter((r) => Number.isFinite(r.gen) && Number.isFinite(r.durationMs) && r.durationMs >= 0)
    .slice()
    .sort((x, y) => x.gen - y.gen);
  if (sorted.length === 0) return null;
  const firstGen = sorted[0].gen;
  const last = sorted[sorted.length - 1];
  if (totalGenerations <= last.gen + 1) return { lowS: 0, midS: 0, highS: 0 };
  const samples = sorted.length >= 8 ? sorted.slice(1) : sorted;
  const size = Math.ceil(samples.length / MAX_SEGMENTS);
  const segments: PaceSegment[] = [];
  for (let i = 0; i < samples.length; i += size) {
    const part = samples.slice(i, i + size);
    const next = samples[i + size];
    segments.push({
      from: part[0].gen,
      // Contiguous: a group reaches the next one's first generation (gaps are generations not sent).
      to: next ? next.gen : last.gen + 1,
      seconds:
        ((part.reduce((t, r) => t + r.durationMs, 0) / 1000) *
          ((next ? next.gen : last.gen + 1) - part[0].gen)) /
        part.length,
    });
  }
  return projectRemaining(segments, totalGenerations, { firstGen, noise: paceNoise(samples, c) }, c);
}

/**
 * `estimateRemaining` for a run that may end before its budget (config `patience`,
 * src/wann/patience.ts `earliestEnd`: the generations completed at the soonest stop it can still
 * make). The high end and the likely value stay the budget's; the low end is the soonest stop's.
 * `earliest` null (patience off) or not before the budget: the budget's estimate unchanged.
 */
export function estimateWithEarlyEnd(
  records: readonly EtaSample[],
  totalGenerations: number,
  earliest: number | null,
  calibration: EtaCalibration = ETA_CALIBRATION,
): EtaRange | null {
  const full = estimateRemaining(records, totalGenerations, calibration);
  if (!full || earliest === null || earliest >= totalGenerations) return full;
  const early = estimateRemaining(records, earliest, calibration);
  return early ? { ...full, lowS: Math.min(full.lowS, early.lowS) } : full;
}

/**
 * The pace's relative standard error over the later half of the samples: their median deviation
 * around the calibrated shape (× 1.4826, a standard deviation for normal noise: one retried slice
 * must not widen the range, its time is already in the pace) ÷ √count, × `noiseZ`.
 */
function paceNoise(samples: readonly EtaSample[], c: EtaCalibration): number {
  const window = samples.slice(Math.floor(samples.length / 2));
  let spread = c.defaultGenerationSpread;
  if (window.length >= 2) {
    const perShape = window.map((s) => s.durationMs / growthShape(s.gen, c));
    const pace = perShape.reduce((x, y) => x + y, 0) / perShape.length;
    if (pace > 0) {
      const deviations = perShape.map((x) => Math.abs(x / pace - 1)).sort((x, y) => x - y);
      const mid = deviations.length / 2;
      spread =
        1.4826 *
        (deviations.length % 2 ? deviations[Math.floor(mid)] : (deviations[mid - 1] + deviations[mid]) / 2);
    }
  }
  return (c.noiseZ * spread) / Math.sqrt(window.length);
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
