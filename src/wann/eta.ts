/**
 * How long a search still takes. Generations slow down as the networks grow (evaluation costs one
 * update per connection, image and shared weight), so the time left is not the recent seconds per
 * generation times the generations left: `estimateRemaining` fits a model of that growth to the
 * generations seen so far and sums it over the generations to come; `estimateRun` gives an estimate
 * before the start, from the config and constants measured by the benchmarks (below).
 *
 * Both are pure functions of their inputs (no clock, no randomness): the same history gives the
 * same estimate, on every page load and in the CLI.
 */

export interface EtaSample {
  gen: number;
  /** Wall time of the generation (ms). */
  durationMs: number;
  /** Mean enabled connections over the generation's population. */
  meanConnections: number;
}

/** Seconds: a likely value with a range around it (lowS ≤ midS ≤ highS). */
export interface EtaRange {
  lowS: number;
  midS: number;
  highS: number;
}

/** Generations are averaged in at most this many consecutive groups before fitting. */
const MAX_GROUPS = 48;
/** An estimate is never exact: the range is at least ±10 % around the likely value. */
const MIN_SPREAD = 0.1;

interface Group {
  gen: number;
  ms: number;
  conns: number;
}

/** Means of consecutive groups of generations: noise averages out, a slow outlier still counts. */
function groups(samples: readonly EtaSample[]): Group[] {
  const size = Math.ceil(samples.length / MAX_GROUPS);
  const out: Group[] = [];
  for (let i = 0; i < samples.length; i += size) {
    const part = samples.slice(i, i + size);
    const m = (f: (s: EtaSample) => number) => part.reduce((s, r) => s + f(r), 0) / part.length;
    out.push({ gen: m((s) => s.gen), ms: m((s) => s.durationMs), conns: m((s) => s.meanConnections) });
  }
  return out;
}

/**
 * y = a + b·x: the slope is the median of the pairwise slopes (Theil–Sen: one slow outlier cannot
 * tilt it), the line goes through the means (so the sum over the points stays what was observed);
 * b = 0 when x barely varies. At most `MAX_GROUPS` points: ~1,100 pairs.
 */
function line(points: readonly { x: number; y: number }[]): { a: number; b: number } {
  const n = points.length;
  const mx = points.reduce((s, p) => s + p.x, 0) / n;
  const my = points.reduce((s, p) => s + p.y, 0) / n;
  const slopes: number[] = [];
  const tiny = 1e-9 * Math.max(1, Math.abs(mx));
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      const dx = points[j].x - points[i].x;
      if (Math.abs(dx) > tiny) slopes.push((points[j].y - points[i].y) / dx);
    }
  }
  if (slopes.length === 0) return { a: my, b: 0 };
  slopes.sort((u, v) => u - v);
  const b = quantile(slopes, 0.5);
  return { a: my - b * mx, b };
}

function quantile(sorted: readonly number[], q: number): number {
  const at = (sorted.length - 1) * q;
  const lo = Math.floor(at);
  const hi = Math.ceil(at);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (at - lo);
}

/**
 * Time left until generation `totalGenerations − 1` has finished, from the generations finished so
 * far (any order; non-finite rows ignored), or null with nothing to go on.
 *
 * Model: a generation's time is linear in its population's mean connections (ms = a + b·conns,
 * b ≥ 0, a robust line over group means), and connections grow linearly with the generation
 * (fitted over the later half of the history, where growth has settled; the first generations often
 * shrink networks; never extrapolated downwards). The likely value sums that model over the generations left. The range takes the
 * slowest and fastest growth fitted over the whole history, its later half and its last quarter, and
 * the spread of the observed times around the model (10th and 90th percentile of their ratio); when
 * growth is slowing down, the low end lets it keep slowing at the observed rate.
 */
export function estimateRemaining(records: readonly EtaSample[], totalGenerations: number): EtaRange | null {
  let samples = records
    .filter(
      (r) => Number.isFinite(r.gen) && Number.isFinite(r.durationMs) && Number.isFinite(r.meanConnections),
    )
    .filter((r) => r.durationMs >= 0)
    .slice()
    .sort((x, y) => x.gen - y.gen);
  if (samples.length === 0) return null;
  const last = samples[samples.length - 1];
  const left = Math.max(0, totalGenerations - (last.gen + 1));
  if (left === 0) return { lowS: 0, midS: 0, highS: 0 };
  // The first generation of a run (or of a fork) warms caches and compiles: not typical.
  if (samples.length >= 8) samples = samples.slice(1);

  const g = groups(samples);
  // Cost per generation against connections.
  let { a, b } = line(g.map((p) => ({ x: p.conns, y: p.ms })));
  if (b < 0) ({ a, b } = { a: g.reduce((s, p) => s + p.ms, 0) / g.length, b: 0 });
  if (a < 0) {
    // Proportional fit instead: a generation cannot take negative time at small sizes.
    const sxy = g.reduce((s, p) => s + p.conns * p.ms, 0);
    const sxx = g.reduce((s, p) => s + p.conns * p.conns, 0);
    a = 0;
    b = sxx > 0 ? sxy / sxx : 0;
  }
  const cost = (conns: number) => Math.max(0, a + b * Math.max(0, conns));

  // Growth of connections per generation, over three windows of the history.
  const tail = (fraction: number) => g.slice(Math.min(g.length - 1, Math.floor(g.length * (1 - fraction))));
  const growthLine = (part: readonly Group[]) =>
    part.length >= 3 ? line(part.map((p) => ({ x: p.gen, y: p.conns }))) : null;
  const half = tail(0.5);
  const quarter = tail(0.25);
  const recent = growthLine(half) ?? growthLine(g) ?? { a: last.meanConnections, b: 0 };
  const latest = growthLine(quarter);
  // Networks are not extrapolated to shrink: early pruning settles, it does not go on for thousands
  // of generations.
  const slopes = [growthLine(g)?.b, recent.b, latest?.b]
    .filter((s): s is number => s !== undefined)
    .map((s) => Math.max(0, s));
  // Connections of the next generations continue from the recent fit's value at the last group.
  const lastGroup = g[g.length - 1];
  const anchor = recent.a + recent.b * lastGroup.gen;
  /** Seconds for the generations left when connections grow by `grown(generations from now)`. */
  const sum = (grown: (t: number) => number) => {
    let total = 0;
    for (let gen = last.gen + 1; gen < totalGenerations; gen++) {
      total += cost(anchor + grown(gen - lastGroup.gen));
    }
    return total / 1000;
  };
  const linear = (slope: number) => sum((t) => slope * t);
  // Growth that is slowing down (the last quarter's slope below the last half's) may keep slowing:
  // the low end lets the slope decay exponentially at the observed rate instead of staying linear.
  let lowGrowth = linear(Math.min(...slopes));
  if (latest && latest.b > 0 && recent.b > latest.b) {
    const centre = (part: readonly Group[]) => (part[0].gen + part[part.length - 1].gen) / 2;
    const tau = (centre(quarter) - centre(half)) / Math.log(recent.b / latest.b);
    if (tau > 0)
      lowGrowth = Math.min(
        lowGrowth,
        sum((t) => latest.b * tau * (1 - Math.exp(-t / tau))),
      );
  }

  const ratios = g
    .map((p) => p.ms / cost(p.conns))
    .filter((r) => Number.isFinite(r))
    .sort((x, y) => x - y);
  const lowFactor = ratios.length ? Math.min(1, quantile(ratios, 0.1)) : 1;
  const highFactor = ratios.length ? Math.max(1, quantile(ratios, 0.9)) : 1;

  const midS = linear(Math.max(0, recent.b));
  const lowS = Math.min(lowGrowth * lowFactor, midS * (1 - MIN_SPREAD));
  const highS = Math.max(linear(Math.max(...slopes)) * highFactor, midS * (1 + MIN_SPREAD));
  return { lowS, midS, highS };
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
): EtaRange | null {
  const full = estimateRemaining(records, totalGenerations);
  if (!full || earliest === null || earliest >= totalGenerations) return full;
  const early = estimateRemaining(records, earliest);
  return early ? { ...full, lowS: Math.min(full.lowS, early.lowS) } : full;
}

/**
 * Constants of `estimateRun`, each measured (2026-11-27/28, on this project's 2-core machine):
 * - `updatesPerCoreSecond`: one update = one connection × one image × one shared weight. Likely:
 *   3.0 G per core, what a whole search achieves with everything included over its first 10 minutes
 *   (bench/results/search.json: 1,630 generations of population 960 in 600 s on 2 threads, float32
 *   kernel with shared rows, quiet machine, mean connections growing from 128 to ~520; over the
 *   whole hour 4.4 G, as sharing grows with the genomes). Fastest: 4.6 G per core, evaluation alone
 *   at ~2,000 connections with shared rows (bench/results/core.json, 2026-11-28). Slowest: 0.5 G per
 *   core: a busy machine. (The platform under `wrangler dev` with one evaluator process did 2.0 G
 *   per second at ~124 connections, its fixed cost per generation included: bench/results/
 *   platform.json, 2026-11-28; 0.6 G before the float32 kernel and shared rows.)
 * - `connectionGrowthPerGeneration`: the champion of bench/results/search.json's run had 482
 *   connections at generation 1,079, from 128 at the start (initEnableProb 0.05 × 256 inputs × 10
 *   outputs): 0.33 per generation; range 0.25–0.5 (growth depends on the seed and the mutation
 *   probabilities). Growth slows in long runs (791 connections at generation 8,742: 0.08 per
 *   generation overall), so the estimate of a run of thousands of generations is pessimistic.
 * - `overheadSecondsPerGeneration`: the serial part and queue latency (bench/results/generation.json,
 *   platform.json's generation 0 against later ones): ~0.05 s.
 */
export const ETA_CONSTANTS = {
  imagesPerGeneration: 1000,
  inputs: 256,
  outputs: 10,
  updatesPerCoreSecond: { slow: 0.5e9, likely: 3.0e9, fast: 4.6e9 },
  connectionGrowthPerGeneration: { low: 0.25, likely: 0.33, high: 0.5 },
  overheadSecondsPerGeneration: 0.05,
} as const;

/**
 * The whole run's time before it starts, for `evaluatorsOrCores` evaluating in parallel (locally,
 * `npm start` runs one evaluator per core). `weights` defaults to the 6 shared weights,
 * `initEnableProb` to 0.05.
 */
export function estimateRun(
  config: { population: number; generations: number; weights?: readonly number[]; initEnableProb?: number },
  evaluatorsOrCores: number,
): EtaRange {
  const c = ETA_CONSTANTS;
  const weights = config.weights?.length || 6;
  const start = (config.initEnableProb ?? 0.05) * c.inputs * c.outputs;
  const gens = Math.max(0, Math.floor(config.generations));
  const workers = Math.max(1, Math.floor(evaluatorsOrCores) || 1);
  /** Σ over generations of the mean connections, for a growth rate. */
  const connectionSum = (growth: number) => gens * start + (growth * gens * (gens - 1)) / 2;
  const seconds = (growth: number, rate: number) =>
    gens * c.overheadSecondsPerGeneration +
    (config.population * c.imagesPerGeneration * weights * connectionSum(growth)) / (rate * workers);
  return {
    lowS: seconds(c.connectionGrowthPerGeneration.low, c.updatesPerCoreSecond.fast),
    midS: seconds(c.connectionGrowthPerGeneration.likely, c.updatesPerCoreSecond.likely),
    highS: seconds(c.connectionGrowthPerGeneration.high, c.updatesPerCoreSecond.slow),
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
