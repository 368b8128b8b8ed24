import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { startLocalPlatform } from '../scripts/local-platform';
import { shardToBatch, trainingShardIndex } from '../src/data/shard';
import { resolveConfig, type SearchConfig } from '../src/wann/config';
import { encodePopulation } from '../src/wann/genome';
import { compile, Evaluator } from '../src/wann/network';
import { ask, type GenerationMetrics, init, tell } from '../src/wann/strategy';
import type { Batch, GenomeResult } from '../src/wann/types';
import { loadKernel } from './kernel';
import { ensureShards, readShard } from './mnist';
import { benchPopulation, meanOf } from './populations';
import { updateReadmeTable } from './readme-table';
import { measureSlicesInWorkerd } from './slice-timer';

const HERE = fileURLToPath(new URL('.', import.meta.url));
const { values: args } = parseArgs({
  options: {
    generations: { type: 'string' },
    population: { type: 'string', default: '960' },
    seed: { type: 'string', default: '20240611' },
    port: { type: 'string', default: '8797' },
    /** Evaluator-process counts to measure, comma-separated (default: 1 and the number of cores). */
    evaluators: { type: 'string' },
    /** Rounds of (platform runs, core replay); per generation the fastest round counts. */
    rounds: { type: 'string' },
    quick: { type: 'boolean', default: false },
    'skip-slices': { type: 'boolean', default: false },
    /** Print the platform's log (wrangler's QUEUE lines show each consumer batch) after each run. */
    verbose: { type: 'boolean', default: false },
  },
});
const quick = args.quick;
const GENERATIONS = Number(args.generations ?? (quick ? 3 : 6));
const cores = availableParallelism();
const evaluatorCounts = (args.evaluators ?? (quick ? String(cores) : [...new Set([1, cores])].join(',')))
  .split(',')
  .map(Number);
const ROUNDS = Number(args.rounds ?? (quick ? 1 : 2));
const TRAIN_SHARDS = 60;

const config: SearchConfig = resolveConfig(
  { population: Number(args.population), generations: GENERATIONS, seed: Number(args.seed) },
  () => 0,
);

interface GenerationRow extends Record<string, unknown> {
  gen: number;
  durationMs: number;
  createdAt: string;
}

// ---------------------------------------------------------------------------------------------
// Process helpers: everything started here runs in its own process group and is stopped by it.

/** CPU seconds (user + system) of `root` and all its descendants, by "name:pid". */
function cpuSecondsOfTree(root: number): Map<string, number> {
  const procs = new Map<number, { name: string; ppid: number; cpu: number }>();
  const tick = 100; // USER_HZ on Linux
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      const close = stat.lastIndexOf(')');
      const fields = stat.slice(close + 2).split(' ');
      procs.set(Number(d), {
        name: stat.slice(stat.indexOf('(') + 1, close),
        ppid: Number(fields[1]),
        cpu: (Number(fields[11]) + Number(fields[12])) / tick, // utime + stime
      });
    } catch {
      // the process ended meanwhile
    }
  }
  const byName = new Map<string, number>();
  for (const [pid, p] of procs) {
    let q: number | undefined = pid;
    while (q !== undefined && q > 1 && q !== root) q = procs.get(q)?.ppid;
    if (q === root) byName.set(`${p.name}:${pid}`, p.cpu);
  }
  return byName;
}

// ---------------------------------------------------------------------------------------------
// One search through the platform.

interface PlatformRun {
  evaluatorProcesses: number;
  /** 1-minute load average before the search: others' work on the machine skews timings. */
  loadAverageBefore: number;
  runId: string;
  rows: GenerationRow[];
  startupSeconds: number;
  /** Wall seconds between consecutive D1 generation rows (g ≥ 1), and generation 0's from start. */
  wallSeconds: number[];
  cpuSecondsByProcess: Record<string, number>;
  searchWallSeconds: number;
}

class ReloadedError extends Error {}

async function platformRunRetrying(evaluators: number): Promise<PlatformRun> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await platformRun(evaluators);
    } catch (e) {
      if (!(e instanceof ReloadedError) || attempt >= 3) throw e;
      console.log(`  ${e.message}; measuring again`);
    }
  }
}

async function platformRun(evaluators: number): Promise<PlatformRun> {
  const t0 = performance.now();
  const platform = await startLocalPlatform({ port: Number(args.port), evaluators });
  const { url, token, child } = platform;
  try {
    const startupSeconds = (performance.now() - t0) / 1000;
    console.log(`  platform with ${evaluators} evaluator process(es) up in ${startupSeconds.toFixed(1)} s`);

    const loadBefore = loadavg()[0];
    const cpuBefore = cpuSecondsOfTree(child.pid!);
    const s0 = performance.now();
    const res = await fetch(`${url}/api/runs`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({
        population: config.population,
        generations: config.generations,
        seed: config.seed,
      }),
    });
    if (res.status !== 202) throw new Error(`POST /api/runs → ${res.status} ${await res.text()}`);
    const run = (await res.json()) as { id: string };
    let status = '';
    let seen = -1;
    let body: { status: string; generation: number; error: string | null; timings: { startedAt: string } };
    for (;;) {
      body = await (
        await fetch(`${url}/api/runs/${run.id}`, { headers: { Authorization: `Bearer ${token}` } })
      ).json();
      status = body.status;
      if (body.generation !== seen) {
        seen = body.generation;
        process.stdout.write(
          `\r  generation ${seen}/${config.generations} (${((performance.now() - s0) / 1000).toFixed(1)} s)`,
        );
      }
      if (['completed', 'failed', 'cancelled'].includes(status)) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const searchWallSeconds = (performance.now() - s0) / 1000;
    process.stdout.write('\n');
    if (status !== 'completed') throw new Error(`run ${run.id} ended ${status}: ${body.error}`);
    const cpuAfter = cpuSecondsOfTree(child.pid!);
    const cpuSecondsByProcess: Record<string, number> = {};
    for (const [name, after] of cpuAfter) {
      const used = after - (cpuBefore.get(name) ?? 0);
      if (used >= 0.05) cpuSecondsByProcess[name] = +used.toFixed(2);
    }
    if (args.verbose) console.log(platform.output());
    if (platform.output().includes('Reloading local server')) {
      // wrangler dev rebuilds and restarts on any source change (others editing the tree): the
      // in-flight slices were lost and re-sent after the slice timeout. Not a measurement.
      throw new ReloadedError('wrangler dev reloaded during the search (a source file changed)');
    }
    const rows = (
      (await (
        await fetch(`${url}/api/runs/${run.id}/generations`, {
          headers: { Authorization: `Bearer ${token}` },
        })
      ).json()) as {
        generations: GenerationRow[];
      }
    ).generations;
    const startedAt = Date.parse(body.timings.startedAt);
    const created = rows.map((r) => Date.parse(r.createdAt));
    const wallSeconds = created.map((t, g) => (t - (g === 0 ? startedAt : created[g - 1])) / 1000);
    return {
      evaluatorProcesses: evaluators,
      loadAverageBefore: +loadBefore.toFixed(2),
      runId: run.id,
      rows,
      startupSeconds,
      wallSeconds,
      cpuSecondsByProcess,
      searchWallSeconds,
    };
  } catch (e) {
    console.error(platform.output().split('\n').slice(-40).join('\n'));
    throw e;
  } finally {
    await platform.stop();
  }
}

// ---------------------------------------------------------------------------------------------
// The same search in Node, one thread.

interface CoreReplay {
  /** CPU seconds (user + system) of each generation: less sensitive to others' load than wall. */
  cpuSeconds: number[];
  evalSeconds: number[];
  tellSeconds: number[];
  metrics: GenerationMetrics[];
}

function coreReplay(batches: Batch[]): CoreReplay {
  const evaluator = new Evaluator({ kernel: loadKernel() });
  let state = init(config);
  const out: CoreReplay = { cpuSeconds: [], evalSeconds: [], tellSeconds: [], metrics: [] };
  for (let g = 0; g < config.generations; g++) {
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    const population = ask(state);
    const batch = batches[trainingShardIndex(config.seed, g, TRAIN_SHARDS)];
    const results: GenomeResult[] = population.map((genome) =>
      evaluator.evaluate(compile(genome), batch, config.weights),
    );
    const t1 = performance.now();
    const next = tell(state, config, results);
    const t2 = performance.now();
    const cpu = process.cpuUsage(cpu0);
    out.cpuSeconds.push((cpu.user + cpu.system) / 1e6);
    state = next.state;
    out.evalSeconds.push((t1 - t0) / 1000);
    out.tellSeconds.push((t2 - t1) / 1000);
    out.metrics.push(next.metrics);
    console.log(
      `  core generation ${g}: evaluate ${((t1 - t0) / 1000).toFixed(3)} s, tell ${((t2 - t1) / 1000).toFixed(3)} s, mean connections ${next.metrics.meanConnections.toFixed(0)}`,
    );
  }
  return out;
}

/** D1 keeps what the core computed: compare every statistic (NaN/±Inf are null in D1). */
function sameAsCore(rows: GenerationRow[], metrics: GenerationMetrics[]): string | null {
  if (rows.length !== metrics.length) return `${rows.length} rows for ${metrics.length} generations`;
  const keys = [
    'objectives',
    'fitnessMean',
    'fitnessMedian',
    'fitnessMax',
    'bestEverFitness',
    'championAccuracy',
    'championConnections',
    'meanConnections',
    'meanNodes',
    'evaluations',
  ] as const;
  for (let g = 0; g < rows.length; g++) {
    for (const k of keys) {
      const expected = metrics[g][k];
      const want = typeof expected === 'number' && !Number.isFinite(expected) ? null : expected;
      if (rows[g][k] !== want) return `generation ${g} ${k}: platform ${rows[g][k]}, core ${want}`;
    }
  }
  return null;
}

// ---------------------------------------------------------------------------------------------
// Time per 64-genome slice (what one queue message costs the evaluator).

interface SliceTiming {
  meanConnections: number;
  meanHiddenNodes: number;
  genomes: number;
  nodeMs: number;
  workerdMs: number | null;
}

async function sliceTimings(batch: Batch, shardBytes: Uint8Array): Promise<SliceTiming[]> {
  const SLICE = 64;
  const out: SliceTiming[] = [];
  for (const target of [120, 2000]) {
    const population = benchPopulation(SLICE * 3, target);
    const slices = [0, 1, 2].map((i) => population.slice(i * SLICE, (i + 1) * SLICE));
    const evaluator = new Evaluator({ kernel: loadKernel() });
    const times: number[] = [];
    for (let rep = 0; rep < 2; rep++) {
      for (const slice of slices) {
        const t = performance.now();
        for (const g of slice) evaluator.evaluate(compile(g), batch, config.weights);
        if (rep > 0) times.push(performance.now() - t); // rep 0 warms the JIT
      }
    }
    const encoded = slices.map((s) => encodePopulation(s));
    const workerd = await measureSlicesInWorkerd(encoded, shardBytes, config.weights).catch((e: Error) => {
      console.log(`  workerd slice timing skipped: ${e.message}`);
      return null;
    });
    const row: SliceTiming = {
      meanConnections: Math.round(meanOf(population.map((g) => g.enabled.reduce((a, b) => a + b, 0)))),
      meanHiddenNodes: Math.round(meanOf(population.map((g) => g.acts.length - 267))),
      genomes: SLICE,
      nodeMs: Math.round(meanOf(times)),
      workerdMs: workerd === null ? null : Math.round(workerd),
    };
    console.log(
      `  slice of ${SLICE} at ~${row.meanConnections} connections: ${row.nodeMs} ms in Node, ${row.workerdMs ?? '–'} ms in workerd`,
    );
    out.push(row);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
const r3 = (x: number) => +x.toFixed(3);

async function main() {
  const dir = await ensureShards();
  const batches = Array.from({ length: TRAIN_SHARDS }, (_, i) => shardToBatch(readShard(dir, 'train', i)));
  console.log(
    `Platform benchmark: population ${config.population}, ${config.generations} generations, seed ${config.seed}, slice size ${config.sliceSize}; evaluator processes ${evaluatorCounts.join(' and ')}`,
  );

  // Others' work on the machine only ever slows a measurement down: run every setup ROUNDS times,
  // interleaved with the core replay, and keep each generation's fastest time.
  const runs: PlatformRun[] = [];
  const replays: CoreReplay[] = [];
  for (let round = 1; round <= ROUNDS; round++) {
    if (ROUNDS > 1) console.log(`Round ${round} of ${ROUNDS}`);
    for (const k of evaluatorCounts) runs.push(await platformRunRetrying(k));
    console.log('Core replay in Node (one thread), same seed, same shards:');
    replays.push(coreReplay(batches));
  }
  const core = replays[0];
  for (const run of runs) {
    const mismatch = sameAsCore(run.rows, core.metrics);
    if (mismatch) throw new Error(`platform (${run.evaluatorProcesses} evaluators) ≠ core: ${mismatch}`);
  }
  console.log('  every D1 generation row equals the core replay’s metrics');

  const slices = args['skip-slices']
    ? []
    : await sliceTimings(batches[0], new Uint8Array(readFileSync(join(dir, 'train-00.bin'))));

  const fastest = (series: number[][]) => series[0].map((_, g) => Math.min(...series.map((xs) => xs[g])));
  const coreGen = fastest(replays.map((r) => r.evalSeconds.map((e, g) => e + r.tellSeconds[g])));
  // Steady state: generations ≥ 1 (generation 0 includes JIT warm-up and first blob loads).
  const steady = (xs: number[]) => mean(xs.slice(1));
  const coreSteady = steady(coreGen);
  const measured = evaluatorCounts.map((k) => {
    const mine = runs.filter((r) => r.evaluatorProcesses === k);
    const wall = fastest(mine.map((r) => r.wallSeconds));
    const sec = steady(wall);
    const cpuTotal = (r: PlatformRun) => Object.values(r.cpuSecondsByProcess).reduce((a, b) => a + b, 0);
    return {
      evaluatorProcesses: k,
      secondsPerGeneration: r3(sec),
      ratio: r3(sec / coreSteady),
      generation0Seconds: r3(wall[0]),
      wallSecondsPerGeneration: wall.map(r3),
      rounds: mine.map((run) => ({
        wallSecondsPerGeneration: run.wallSeconds.map(r3),
        /** The coordinator's measure: slices first sent → all results in and `tell` done. */
        durationMsPerGeneration: run.rows.map((r) => r.durationMs),
        startupSeconds: r3(run.startupSeconds),
        searchWallSeconds: r3(run.searchWallSeconds),
        loadAverageBefore: run.loadAverageBefore,
        cpuSecondsByProcess: run.cpuSecondsByProcess,
        /** CPU seconds of all platform processes per generation (evaluation + coordination + runtime). */
        cpuSecondsPerGeneration: r3(cpuTotal(run) / config.generations),
        coresBusy: r3(cpuTotal(run) / run.searchWallSeconds),
      })),
      coresBusy: r3(Math.max(...mine.map((run) => cpuTotal(run) / run.searchWallSeconds))),
    };
  });
  // The headline is what `npm start` runs: one evaluator process per core.
  const best =
    measured.find((m) => m.evaluatorProcesses === Math.min(cores, 4)) ?? measured[measured.length - 1];
  const result = {
    population: config.population,
    generations: config.generations,
    seed: config.seed,
    sliceSize: config.sliceSize,
    cores,
    evaluatorProcesses: best.evaluatorProcesses,
    secondsPerGeneration: best.secondsPerGeneration,
    coreSecondsPerGeneration: r3(coreSteady),
    ratio: best.ratio,
    generation0: { platformSeconds: best.generation0Seconds, coreSeconds: r3(coreGen[0]) },
    rounds: ROUNDS,
    core: {
      secondsPerGeneration: coreGen.map(r3),
      rounds: replays.map((r) => ({
        cpuSecondsPerGeneration: r.cpuSeconds.map(r3),
        evaluateSecondsPerGeneration: r.evalSeconds.map(r3),
        tellSecondsPerGeneration: r.tellSeconds.map(r3),
      })),
      meanConnectionsPerGeneration: core.metrics.map((m) => +m.meanConnections.toFixed(1)),
    },
    platform: measured,
    cpuMsPerSlice: slices,
    measuredAt: new Date().toISOString(),
  };
  console.log(JSON.stringify(result, null, 2));
  if (quick) return;
  writeFileSync(join(HERE, 'results', 'platform.json'), `${JSON.stringify(result, null, 2)}\n`);

  const table = [
    '| setup | s / generation (steady) | generation 0 | vs core, 1 thread | cores busy |',
    '|---|---:|---:|---:|---:|',
    `| core in Node, 1 thread (same populations) | ${r3(coreSteady)} | ${r3(coreGen[0])} | 1.00× | 1.0 |`,
    ...measured.map(
      (m) =>
        `| platform, ${m.evaluatorProcesses} evaluator process${m.evaluatorProcesses > 1 ? 'es' : ''} | ${m.secondsPerGeneration} | ${m.generation0Seconds} | ${m.ratio.toFixed(2)}× | ${m.coresBusy.toFixed(1)} |`,
    ),
  ];
  const sliceTable = slices.length
    ? [
        '',
        '| 64-genome slice | Node | workerd |',
        '|---|---:|---:|',
        ...slices.map(
          (s) =>
            `| ~${s.meanConnections} connections, ${s.meanHiddenNodes} hidden node${s.meanHiddenNodes === 1 ? '' : 's'} | ${s.nodeMs} ms | ${s.workerdMs ?? '–'} ms |`,
        ),
      ]
    : [];
  updateReadmeTable(
    'platform',
    `${[...table, ...sliceTable].join('\n')}\n\n_Measured ${result.measuredAt.slice(0, 10)} by \`npm run bench:platform\` (population ${config.population}, reference config, seed ${config.seed}, generations 1–${config.generations - 1}, each generation's fastest of ${ROUNDS} round${ROUNDS > 1 ? 's' : ''}; ${cores} cores; 1 evaluator process = the queue consumer evaluates, more = peer processes)._`,
  );
}

await main();
