/**
 * Calibrates and checks the ETA model (src/wann/eta.ts) on the runs recorded in bench/results: no
 * search is run, only recorded timings are read, so it takes a second.
 *
 * - Fits the model (the growth shape's k, a genome's cost, the start range, the drift while running)
 *   on the runs recorded with the current kernel and prints it beside ETA_CALIBRATION.
 * - Leave-one-run-out: each of those runs is predicted by a model fitted on the others, at the start
 *   and after 10 %, 25 % and 50 % of its generations; every minute checkpoint of a long run counts as
 *   the end of a run of that many generations. It counts how often the truth fell inside the range.
 * - The platform's short runs (platform.json, per-generation durations) and the ablation's runs
 *   (recorded before shared rows: an older kernel whose cost grew faster with the networks) are predicted
 *   with the shipped calibration and reported apart.
 *
 * Writes bench/results/eta.json.   npm run bench:eta
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  ETA_CALIBRATION,
  type EtaCalibration,
  type EtaRange,
  type EtaSample,
  estimateRemaining,
  estimateRun,
  type PaceSegment,
  projectRemaining,
  shapeSum,
} from '../src/wann/eta';

const RESULTS = join(fileURLToPath(new URL('.', import.meta.url)), 'results');
const read = <T>(file: string): T => JSON.parse(readFileSync(join(RESULTS, file), 'utf8')) as T;

interface Checkpoint {
  seconds: number;
  generation: number;
}
interface SearchRecord {
  measured: string;
  population: number;
  threads: number;
  seed: number;
  dataset?: string;
  weights: number[];
  checkpoints: Checkpoint[];
}

/** A recorded run: cumulative seconds after `generation` generations, from (0, 0). */
interface RecordedRun {
  name: string;
  population: number;
  evaluators: number;
  weights: number;
  /** (generations, seconds) from (0, 0), increasing. */
  curve: { g: number; t: number }[];
  /** Per-generation durations where recorded (the live estimate is then run on them). */
  samples?: EtaSample[];
  platform: boolean;
}

function fromSearch(name: string, r: SearchRecord): RecordedRun {
  return {
    name,
    population: r.population,
    evaluators: r.threads,
    weights: r.weights.length,
    curve: [{ g: 0, t: 0 }, ...r.checkpoints.map((c) => ({ g: c.generation, t: c.seconds }))],
    platform: false,
  };
}

/** Seconds after g generations, linear between recorded points. */
function timeAt(run: RecordedRun, g: number): number {
  const c = run.curve;
  for (let i = 1; i < c.length; i++) {
    if (g <= c[i].g) {
      const a = c[i - 1];
      const b = c[i];
      return a.t + ((b.t - a.t) * (g - a.g)) / (b.g - a.g);
    }
  }
  return c[c.length - 1].t;
}

/** The runs' ends: every checkpoint of a long run is the end of a run of that many generations. */
const ends = (run: RecordedRun) => run.curve.slice(1);

// ------------------------------------------------------------------------------------------------
// The recorded runs

const search = read<SearchRecord>('search.json');
const fashion = read<SearchRecord>('search-fashion-mnist.json');
const generation =
  read<{ measurement: string; population: number; threads: number; secondsPerGeneration: number | null }[]>(
    'generation.json',
  );
const GENERATION_BENCH_GENERATIONS = 41; // bench/generation.ts: generations 0–40

const current: RecordedRun[] = [
  fromSearch('search.json (MNIST, 1 h, 2 threads)', search),
  fromSearch('search-fashion-mnist.json (60 min, 2 threads)', fashion),
  ...generation
    .filter((r) => r.measurement === 'search' && r.secondsPerGeneration != null)
    .map((r) => ({
      name: `generation.json (search, ${r.threads} thread${r.threads === 1 ? '' : 's'}, 41 generations)`,
      population: r.population,
      evaluators: r.threads,
      weights: 6,
      curve: [
        { g: 0, t: 0 },
        { g: GENERATION_BENCH_GENERATIONS, t: (r.secondsPerGeneration ?? 0) * GENERATION_BENCH_GENERATIONS },
      ],
      platform: false,
    })),
];

const platformRecord = read<{
  population: number;
  platform: { evaluatorProcesses: number; rounds: { durationMsPerGeneration: number[] }[] }[];
}>('platform.json');
const platformRuns: RecordedRun[] = platformRecord.platform.flatMap((p) =>
  p.rounds.map((r, i) => {
    let t = 0;
    const curve = [{ g: 0, t: 0 }];
    r.durationMsPerGeneration.forEach((ms, g) => {
      t += ms / 1000;
      curve.push({ g: g + 1, t });
    });
    return {
      name: `platform.json (${p.evaluatorProcesses} evaluator${p.evaluatorProcesses === 1 ? '' : 's'}, round ${i + 1}, 6 generations)`,
      population: platformRecord.population,
      evaluators: p.evaluatorProcesses,
      weights: 6,
      curve,
      samples: r.durationMsPerGeneration.map((ms, gen) => ({ gen, durationMs: ms })),
      platform: true,
    };
  }),
);

const ablation = read<{ rows: { variant: string; runs: SearchRecord[] }[] }>('ablation.json');
const older: RecordedRun[] = ablation.rows.flatMap((row) =>
  row.runs.map((r) => fromSearch(`ablation.json ${row.variant} seed ${r.seed} (1 thread)`, r)),
);

// ------------------------------------------------------------------------------------------------
// Fitting

function quantile(values: readonly { v: number; w: number }[], q: number): number {
  const sorted = [...values].sort((a, b) => a.v - b.v);
  const total = sorted.reduce((s, x) => s + x.w, 0);
  let acc = 0;
  for (const x of sorted) {
    acc += x.w;
    if (acc >= q * total) return x.v;
  }
  return sorted[sorted.length - 1].v;
}

const withK = (c: EtaCalibration, k: number): EtaCalibration => ({ ...c, growth: { ...c.growth, k } });

/** Per-genome core-seconds of one run under growth k: a least-squares fit in log space. */
function genomeCost(run: RecordedRun, c: EtaCalibration): number {
  const logs = ends(run).map(
    (e) =>
      Math.log(e.t) -
      Math.log(
        (run.population * (run.weights / 6) * shapeSum(0, e.g, c)) / run.evaluators ** c.parallelExponent,
      ),
  );
  return Math.exp(logs.reduce((s, x) => s + x, 0) / logs.length);
}

/** Squared log error of a run's curve under growth k with its own best cost. */
function curveError(run: RecordedRun, c: EtaCalibration): number {
  const s0 = genomeCost(run, c);
  return ends(run).reduce((s, e) => {
    const pred =
      (run.population * (run.weights / 6) * s0 * shapeSum(0, e.g, c)) / run.evaluators ** c.parallelExponent;
    return s + Math.log(e.t / pred) ** 2;
  }, 0);
}

/** The live estimate at g generations done: from per-generation samples, or the checkpoint curve. */
function liveAt(run: RecordedRun, g: number, total: number, c: EtaCalibration): EtaRange | null {
  if (run.samples) return estimateRemaining(run.samples.slice(0, g), total, c);
  // The curve's intervals up to g as segments, generation 0 left out (as estimateRemaining does);
  // no noise term: the per-generation spread is not recorded, only minute totals.
  const cuts = [1, ...run.curve.map((p) => p.g).filter((x) => x > 1 && x < g), g];
  const segments: PaceSegment[] = [];
  for (let i = 1; i < cuts.length; i++)
    segments.push({
      from: cuts[i - 1],
      to: cuts[i],
      seconds: timeAt(run, cuts[i]) - timeAt(run, cuts[i - 1]),
    });
  return projectRemaining(segments, total, { firstGen: 0 }, c);
}

const PROGRESS = [0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9];

/** The calibration fitted on `runs` (long runs give k and the drift; all give the cost). */
function calibrate(runs: readonly RecordedRun[]): EtaCalibration {
  const base: EtaCalibration = ETA_CALIBRATION;
  const long = runs.filter((r) => r.curve.length > 3);
  let bestK = 0;
  let bestErr = Number.POSITIVE_INFINITY;
  for (let k = 0; k <= 2; k += 0.002) {
    const c = withK(base, k);
    const err = long.reduce((s, r) => s + curveError(r, c) / ends(r).length, 0);
    if (err < bestErr) [bestK, bestErr] = [k, err];
  }
  let c = withK(base, Math.round(bestK * 1000) / 1000);
  const costs = runs.map((r) => Math.log(genomeCost(r, c)));
  c = { ...c, genomeCoreSeconds: Math.exp(costs.reduce((s, x) => s + x, 0) / costs.length) };
  // Start range: truth ÷ prediction over every end of every run, each run weighing the same.
  const ratios = runs.flatMap((r) =>
    ends(r).map((e) => ({
      v:
        e.t /
        estimateRun({ population: r.population, generations: e.g }, r.evaluators, {
          platform: false,
          calibration: c,
        }).midS,
      w: 1 / ends(r).length,
    })),
  );
  c = {
    ...c,
    startRatio: { low: Math.min(1, quantile(ratios, 0.1)), high: Math.max(1, quantile(ratios, 0.9)) },
  };
  // While running: the weight of the run's own growth (the one whose predictions err least), then
  // the drift, ln(truth ÷ prediction) ÷ share left, at every progress of every end.
  const liveErrors = (cal: EtaCalibration) =>
    long.flatMap((r) =>
      ends(r).flatMap((e) =>
        PROGRESS.map((p) => Math.round(p * e.g))
          .filter((g) => g >= 10 && g < e.g)
          .map((g) => {
            const est = liveAt(r, g, e.g, cal);
            const truth = e.t - timeAt(r, g);
            return { v: Math.log(truth / (est?.midS ?? truth)) / ((e.g - g) / e.g), w: 1 / ends(r).length };
          }),
      ),
    );
  if (long.length) {
    let best = { after: c.ownGrowthAfter, err: Number.POSITIVE_INFINITY };
    for (const after of [100, 200, 500, 1000, 2000, 5000, 10_000, 1e9]) {
      const err = liveErrors({ ...c, ownGrowthAfter: after }).reduce((s, x) => s + x.w * x.v ** 2, 0);
      if (err < best.err) best = { after, err };
    }
    c = { ...c, ownGrowthAfter: best.after };
    const drifts = liveErrors(c);
    c = {
      ...c,
      driftPerShareLeft: {
        low: Math.min(0, quantile(drifts, 0.1)),
        high: Math.max(0, quantile(drifts, 0.9)),
      },
    };
  }
  return c;
}

// ------------------------------------------------------------------------------------------------
// Checking

interface Tally {
  inside: number;
  of: number;
  /** Median of high ÷ low: how wide the range was. */
  medianWidth: number | null;
}

function tally(checks: { truth: number; range: EtaRange }[]): Tally {
  const widths = checks.map((x) => x.range.highS / x.range.lowS).sort((a, b) => a - b);
  return {
    inside: checks.filter((x) => x.truth >= x.range.lowS && x.truth <= x.range.highS).length,
    of: checks.length,
    medianWidth: widths.length ? Math.round(widths[Math.floor(widths.length / 2)] * 100) / 100 : null,
  };
}

const CHECKED_PROGRESS = [0, 0.1, 0.25, 0.5] as const;

/** Checks of one run under calibration c: at the start and at each progress, over all its ends. */
function check(run: RecordedRun, c: EtaCalibration): Record<string, { truth: number; range: EtaRange }[]> {
  const out: Record<string, { truth: number; range: EtaRange }[]> = {};
  for (const p of CHECKED_PROGRESS) {
    const key = p === 0 ? 'start' : `${p * 100}%`;
    out[key] = [];
    for (const e of ends(run)) {
      if (p === 0) {
        const range = estimateRun({ population: run.population, generations: e.g }, run.evaluators, {
          platform: run.platform,
          calibration: c,
        });
        out[key].push({ truth: e.t, range });
        continue;
      }
      const g = Math.round(p * e.g);
      if (g < 1 || g >= e.g || (!run.samples && run.curve.length <= 3)) continue;
      const range = liveAt(run, g, e.g, c);
      if (range) out[key].push({ truth: e.t - timeAt(run, g), range });
    }
  }
  return out;
}

function summarise(perRun: { name: string; checks: ReturnType<typeof check> }[]) {
  const keys = ['start', '10%', '25%', '50%'];
  const all = Object.fromEntries(keys.map((k) => [k, tally(perRun.flatMap((r) => r.checks[k] ?? []))]));
  const runs = perRun.map((r) => ({
    name: r.name,
    ...Object.fromEntries(keys.map((k) => [k, tally(r.checks[k] ?? [])])),
  }));
  return { all, runs };
}

const fitted = calibrate(current);
const leaveOneOut = summarise(
  current.map((run) => ({ name: run.name, checks: check(run, calibrate(current.filter((r) => r !== run))) })),
);
const shipped: EtaCalibration = ETA_CALIBRATION;
const inSample = summarise(current.map((run) => ({ name: run.name, checks: check(run, shipped) })));
const platform = summarise(platformRuns.map((run) => ({ name: run.name, checks: check(run, shipped) })));
const olderKernel = summarise(older.map((run) => ({ name: run.name, checks: check(run, shipped) })));
// The old constant-growth model's start estimate for the platform's defaults, for the README.
const defaults = estimateRun({ population: 960, generations: 4096 }, 2);

const round = (x: number) => Number(x.toPrecision(3));
const result = {
  measured: new Date().toISOString().slice(0, 10),
  method:
    'Each recorded run is predicted at its start (estimateRun) and after 10/25/50 % of its generations (estimateRemaining, or its formula on checkpoint curves); every minute checkpoint of a long run counts as the end of a run of that many generations. "inside": the truth fell between low and high. leaveOneRunOut: the model fitted on the other runs; shipped: src/wann/eta.ts ETA_CALIBRATION.',
  fitted: {
    genomeCoreSeconds: round(fitted.genomeCoreSeconds),
    growth: fitted.growth,
    ownGrowthAfter: fitted.ownGrowthAfter,
    startRatio: { low: round(fitted.startRatio.low), high: round(fitted.startRatio.high) },
    driftPerShareLeft: {
      low: round(fitted.driftPerShareLeft.low),
      high: round(fitted.driftPerShareLeft.high),
    },
  },
  shippedDefaultsEstimate: {
    lowS: Math.round(defaults.lowS),
    midS: Math.round(defaults.midS),
    highS: Math.round(defaults.highS),
  },
  leaveOneRunOut: leaveOneOut,
  shippedOnCalibrationRuns: inSample,
  platformRuns: platform,
  olderKernelRuns: olderKernel,
};
writeFileSync(join(RESULTS, 'eta.json'), `${JSON.stringify(result, null, 2)}\n`);
console.log('fitted (compare with ETA_CALIBRATION in src/wann/eta.ts):', JSON.stringify(result.fitted));
const line = (label: string, s: ReturnType<typeof summarise>) =>
  console.log(
    `${label}: ${Object.entries(s.all)
      .map(([k, t]) => `${k} ${t.inside}/${t.of} (width ×${t.medianWidth})`)
      .join(', ')}`,
  );
line('leave one run out', leaveOneOut);
line('shipped, calibration runs', inSample);
line('shipped, platform runs', platform);
line('shipped, older kernel (ablation)', olderKernel);
console.log('defaults (960 × 4096, 2 evaluators):', result.shippedDefaultsEstimate);
