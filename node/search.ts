/**
 * A WANN search on MNIST in Node: the reference hyperparameters (population 960), seeded, bred and
 * evaluated across cores with worker_threads (node/pool-search.ts: the main thread ranks and
 * selects, the workers breed and evaluate their slices and run the champion re-checks). Logs each
 * generation's record (with the champion's re-check and test-subset accuracy on check generations),
 * checks the champion on the test set every minute, and at the end reports test accuracy per shared
 * weight, as an ensemble and at a tuned weight. With --minutes (or --record) it records how far it
 * got in bench/results/search.json, with the re-checks' test-subset curve.
 *
 *   npm run search -- --minutes 10
 *   npm run search -- --generations 100 --population 960 --seed 1 --threads 2 --train-shards 60
 *   npm run search -- --generations 100 --recheck-every 0     # champion = best single-batch fitness
 *   npm run search -- --generations 4096 --patience 200      # stop once 200 generations bring no new champion
 *   npm run search -- --dataset fashion-mnist --minutes 10    # after npm run data -- --dataset fashion-mnist
 *   npm run search -- --dataset iris --minutes 2               # after npm run data -- --csv iris.csv --name iris
 */
import { writeFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import cliProgress from 'cli-progress';
import { updateReadmeTable } from '../scripts/readme-table';
import { genomeShape } from '../src/data/dataset';
import {
  type AnyShard,
  concatAnyShards,
  isFeatureShard,
  type Shard,
  seededSubset,
  shardsToBatch,
  shardToBatch,
} from '../src/data/shard';
import { stream } from '../src/random';
import { ensembleAccuracy } from '../src/wann/accuracy';
import { resolveConfig } from '../src/wann/config';
import { RECHECK_TEST_SHARD } from '../src/wann/generation';
import { firstHidden, type Genome, genomeToJson } from '../src/wann/genome';
import { compile } from '../src/wann/network';
import { describeStop } from '../src/wann/patience';
import type { GenerationRecord } from '../src/wann/record';
import { championReport, TUNING_SHARDS } from '../src/wann/report';
import {
  compileTrainable,
  defaultDecaySteps,
  initialTrainingState,
  TRAINING_DEFAULTS,
  Trainer,
  trainedAccuracy,
} from '../src/wann/train';
import type { Batch } from '../src/wann/types';
import { EvalPool } from './eval-pool';
import { PoolSearch } from './pool-search';
import { searchReadmeBlock } from './search-readme';
import { localDataset, readAnyShard, testSet } from './shards';

const HERE = fileURLToPath(new URL('.', import.meta.url));
const { values: args } = parseArgs({
  options: {
    minutes: { type: 'string' },
    generations: { type: 'string' },
    population: { type: 'string', default: '960' },
    seed: { type: 'string', default: '1' },
    threads: { type: 'string', default: String(availableParallelism()) },
    'train-shards': { type: 'string', default: '60' },
    'recheck-every': { type: 'string' },
    'recheck-batches': { type: 'string' },
    /** Stop after this many generations without a new champion (config `patience`; 0: off). */
    patience: { type: 'string' },
    /** Adam steps training the champion's per-connection weights after the search (0: none). */
    'train-steps': { type: 'string', default: String(TRAINING_DEFAULTS.steps) },
    record: { type: 'boolean', default: false },
    // Ablation variants (bench/ablation.ts; generation.ts `SearchVariant`). Defaults: the paper's.
    crowding: { type: 'string', default: 'textbook' },
    'keep-hidden-splits': { type: 'boolean', default: false },
    /** shards: each generation one of the trainShards fixed shards; subsets: one of 1,000 seeded subsets. */
    batches: { type: 'string', default: 'shards' },
    /** Write the summary here instead of bench/results/search.json (and leave the README alone). */
    out: { type: 'string' },
    /** A built-in dataset (src/data/dataset.ts): mnist (default) or fashion-mnist. */
    dataset: { type: 'string', default: 'mnist' },
  },
});
if (args.crowding !== 'textbook' && args.crowding !== 'reference')
  throw new Error(`--crowding must be textbook or reference, not ${args.crowding}`);
if (args.batches !== 'shards' && args.batches !== 'subsets')
  throw new Error(`--batches must be shards or subsets, not ${args.batches}`);

const minutes = args.minutes ? Number(args.minutes) : undefined;
// The dataset first: a table has fewer training shards than the default 60, and a run on it uses
// them all (as a run on the platform whose trainShards is left out).
const { manifest: dataset, dir } = await localDataset(args.dataset ?? 'mnist');
const tabular = dataset.kind === 'tabular';
if (tabular && args.batches === 'subsets') throw new Error('--batches subsets draws images: not for a table');
const config = resolveConfig(
  {
    population: Number(args.population),
    generations: Number(args.generations ?? (minutes ? 100_000 : 100)),
    seed: Number(args.seed),
    trainShards: Math.min(Number(args['train-shards']), dataset.shards.train),
    ...(args['recheck-every'] === undefined ? {} : { recheckEvery: Number(args['recheck-every']) }),
    ...(args['recheck-batches'] === undefined ? {} : { recheckBatches: Number(args['recheck-batches']) }),
    ...(args.patience === undefined ? {} : { patience: Number(args.patience) }),
    dataset: args.dataset,
  },
  () => 1,
);
const record = args.record || minutes !== undefined;
const pct = (x: number | null) => (x === null ? '-' : `${(100 * x).toFixed(2)}%`);
const fixed = (x: number | null, digits = 3) => (x === null ? '-' : x.toFixed(digits));

const test = testSet(dir, dataset.shards.test);
const trainBatch = (shard: number): Batch => shardToBatch(readAnyShard(dir, 'train', shard));
const pool = new EvalPool(Number(args.threads));
const recheckTest = shardToBatch(readAnyShard(dir, 'test', RECHECK_TEST_SHARD));
/** The training shards as one shard (read once: subsets and the trained weights both use it). */
let trainImages: AnyShard | null = null;
const allTrainImages = (): AnyShard =>
  (trainImages ??= concatAnyShards(
    Array.from({ length: config.trainShards }, (_, i) => readAnyShard(dir, 'train', i)),
  ));
const allTrainPictures = (): Shard => {
  const images = allTrainImages();
  if (isFeatureShard(images)) throw new Error('--batches subsets draws images: not for a table');
  return images;
};
/**
 * --batches subsets: 1,000 seeded subsets of 1,000 images of the training shards, as the reference
 * draws. Each is kept once made: at most 1,000 batches of 1 MB, plus the pool's shared copies.
 */
const SUBSETS = 1000;
const subsetCache = new Map<number, Batch>();
const subsetBatch = (gen: number): Batch => {
  const s = stream(config.seed, gen, 'subset').int(SUBSETS);
  let b = subsetCache.get(s);
  if (!b) {
    b = shardToBatch(seededSubset(allTrainPictures(), 1000, stream(config.seed, s, 'subset-images')));
    subsetCache.set(s, b);
  }
  return b;
};
const variant = {
  crowding: args.crowding,
  keepHiddenSplits: args['keep-hidden-splits'],
  ...(args.batches === 'subsets' ? { batchForGeneration: subsetBatch } : {}),
} as const;
const search = new PoolSearch(
  config,
  pool,
  trainBatch,
  config.sliceSize,
  recheckTest,
  variant,
  genomeShape(dataset),
);
/** Each re-check's outcome: the champion after it and its accuracy on the test subset. */
const rechecks: {
  gen: number;
  testAccuracy: number;
  chosenBy: string;
  championGeneration: number;
  recheckedFitness: number | null;
}[] = [];
const started = performance.now();
/** The machine's 1-minute load average, sampled every 30 s: others' work slows a budgeted search. */
const loadSamples: number[] = [loadavg()[0]];
const loadTimer = setInterval(() => loadSamples.push(loadavg()[0]), 30_000);
loadTimer.unref();
const elapsed = () => (performance.now() - started) / 1000;
const deadline = minutes === undefined ? Infinity : minutes * 60;

console.log(
  `WANN search on ${dataset.name}: population ${config.population}, seed ${config.seed}, ${config.trainShards} training shards, ${minutes ? `${minutes} min budget` : `${config.generations} generations`}, ${pool.threads} threads`,
);
const tty = process.stdout.isTTY === true;
const bars = new cliProgress.MultiBar(
  {
    format: '{bar} {value}/{total} {unit} | best fitness {best} | champion acc {acc} | {conns} conns',
    hideCursor: true,
  },
  cliProgress.Presets.shades_classic,
);
const totalForBar = minutes ? Math.round(minutes * 60) : config.generations;
const bar = tty
  ? bars.create(totalForBar, 0, { unit: minutes ? 's' : 'generations', best: '-', acc: '-', conns: '-' })
  : undefined;

const checkpoints: {
  seconds: number;
  generation: number;
  ensembleTestAccuracy: number;
  meanTestAccuracy: number;
  /**
   * The same champion's ensemble accuracy on training shards 0–4 (seen by the search): its gap to
   * the test figure is how much the champion fits the fixed training shards (a diagnosis only).
   */
  ensembleTrainAccuracy: number;
  /** The generation that made the champion (how long no re-check has crowned another). */
  championGeneration: number;
  championConnections: number;
  /** This generation's population: mean and best fitness, mean enabled connections. */
  fitnessMean: number;
  fitnessMax: number;
  meanConnections: number;
}[] = [];
/** Training shards 0–4 as one batch, for the checkpoints' train-side ensemble accuracy. */
const CHECK_TRAIN_SHARDS = Math.min(5, config.trainShards);
let checkTrain: Batch | null = null;
let nextCheckpoint = 60;
const log = (line: string) => (tty ? bars.log(`${line}\n`) : console.log(line));
const describe = (r: GenerationRecord) =>
  `gen ${String(r.gen).padStart(4)}  t=${elapsed().toFixed(1)}s  fitness mean ${fixed(r.fitnessMean)} max ${fixed(r.fitnessMax)} best-ever ${fixed(r.bestEverFitness)}  champion acc ${pct(r.championAccuracy)}  conns ${r.championConnections ?? '-'} (mean ${r.meanConnections.toFixed(0)})  ${r.objectives}, shard ${r.shard}${
    r.testAccuracy === null || !r.champion
      ? ''
      : `\n  re-check: champion gen ${r.champion.generation} #${r.champion.index} (chosen by ${r.champion.chosenBy}, re-checked fitness ${fixed(r.champion.recheckedFitness)}), test subset ${pct(r.testAccuracy)}`
  }`;

/** The champion decoded from its slice (only here: checkpoints and the end). */
const champion = (): Genome => {
  const g = search.championMember();
  if (!g) throw new Error('no champion: every evaluation failed');
  return g;
};

try {
  while (search.generation < config.generations && !search.stop && elapsed() < deadline) {
    const r = await search.step();
    log(describe(r));
    if (r.testAccuracy !== null && r.champion) {
      rechecks.push({
        gen: r.gen,
        testAccuracy: r.testAccuracy,
        chosenBy: r.champion.chosenBy,
        championGeneration: r.champion.generation,
        recheckedFitness: r.champion.recheckedFitness,
      });
    }
    if (bar) {
      bar.update(minutes ? Math.min(totalForBar, Math.round(elapsed())) : r.gen + 1, {
        best: fixed(r.bestEverFitness),
        acc: pct(r.championAccuracy),
        conns: r.championConnections ?? '-',
      });
    }
    if (elapsed() >= nextCheckpoint) {
      nextCheckpoint += 60;
      const genome = champion();
      const report = championReport(genome, test, trainBatch(r.shard ?? 0), config.weights);
      checkTrain ??= shardsToBatch(
        Array.from({ length: CHECK_TRAIN_SHARDS }, (_, i) => readAnyShard(dir, 'train', i)),
      );
      const trainSide = ensembleAccuracy(compile(genome), checkTrain, config.weights);
      checkpoints.push({
        seconds: Math.round(elapsed()),
        generation: search.generation,
        ensembleTestAccuracy: report.ensembleTestAccuracy,
        meanTestAccuracy: report.meanTestAccuracy,
        ensembleTrainAccuracy: trainSide,
        championGeneration: search.champion?.generation ?? -1,
        championConnections: search.champion?.connections ?? 0,
        fitnessMean: r.fitnessMean ?? 0,
        fitnessMax: r.fitnessMax ?? 0,
        meanConnections: r.meanConnections,
      });
      log(
        `  test set @ ${Math.round(elapsed())}s: ensemble ${pct(report.ensembleTestAccuracy)}, mean over weights ${pct(report.meanTestAccuracy)} (training shards 0–${CHECK_TRAIN_SHARDS - 1}: ensemble ${pct(trainSide)})`,
      );
    }
  }
} finally {
  bars.stop();
  await pool.close();
}

const best = champion();
const address = search.champion!;
const seconds = elapsed();
const generations = search.generation;
const stop = search.stop;
if (stop) console.log(`\nThe search ${describeStop(stop)} (patience).`);
const hiddenNodes = best.acts.length - firstHidden(best);
// The tuned weight is chosen on the same training shards as the platform's publication.
const tuningShards = Math.min(TUNING_SHARDS, config.trainShards);
const tuningBatch = shardsToBatch(
  Array.from({ length: tuningShards }, (_, i) => readAnyShard(dir, 'train', i)),
);
const report = championReport(best, test, tuningBatch, config.weights);
console.log(
  `\nDone: ${generations} generations in ${seconds.toFixed(0)} s (${(seconds / generations).toFixed(2)} s/generation)`,
);
console.log(
  `Champion: ${address.connections} enabled connections, ${hiddenNodes} hidden nodes, generation ${address.generation} member ${address.index}`,
);
console.log(`Test-set accuracy (${dataset.splits.test.toLocaleString('en')} images):`);
for (const [k, w] of report.weights.entries()) {
  console.log(`  w = ${String(w).padStart(4)}: ${pct(report.testAccuracy[k])}`);
}
console.log(
  `  mean over weights: ${pct(report.meanTestAccuracy)}   ensemble (majority vote): ${pct(report.ensembleTestAccuracy)}   tuned w = ${report.tunedWeight}: ${pct(report.tunedTestAccuracy)}`,
);
if (dataset.name === 'mnist')
  console.log('  (paper after 4,096 generations: 82.0% ± 18.7% random weight, 91.6% ensemble, 91.9% tuned)');

// Trained weights (src/wann/train.ts, as the platform's `train` task does it): the champion's
// topology, every connection starting at the tuned weight, Adam on the training shards.
const trainingSteps = Number(args['train-steps']);
let trainedTestAccuracy: number | null = null;
let trainingSeconds: number | null = null;
if (trainingSteps > 0) {
  const images = allTrainImages();
  const net = compileTrainable(best);
  const state = initialTrainingState(net, report.tunedWeight, {
    seed: 1,
    decaySteps: defaultDecaySteps(trainingSteps),
  });
  const t0 = performance.now();
  new Trainer(net, images).steps(state, trainingSteps);
  trainingSeconds = +((performance.now() - t0) / 1000).toFixed(1);
  trainedTestAccuracy = trainedAccuracy(net, state.weights, test);
  console.log(
    `  trained weights (${trainingSteps} Adam steps of ${state.batchSize} images, ${trainingSeconds} s on one thread): ${pct(trainedTestAccuracy)}${dataset.name === 'mnist' ? '   (paper: 94.2%)' : ''}`,
  );
}

// Recorded results stay with the benchmarks' (README and ETA constants cite them there).
const results = join(HERE, '..', 'bench', 'results');
// Another dataset's results sit beside MNIST's, never over them (search-fashion-mnist.json, …).
const resultName = (base: string) =>
  dataset.name === 'mnist' ? `${base}.json` : `${base}-${dataset.name}.json`;
// With --out, the champion goes beside that file (seeds-1.json → seeds-1-champion.json).
writeFileSync(
  args.out ? args.out.replace(/(\.json)?$/, '-champion.json') : join(results, resultName('champion')),
  `${JSON.stringify(genomeToJson(best))}\n`,
);
const summary = {
  measured: new Date().toISOString().slice(0, 10),
  // Named only off MNIST, so an MNIST summary keeps the shape bench/results and the README cite.
  ...(dataset.name === 'mnist' ? {} : { dataset: dataset.name }),
  population: config.population,
  seed: config.seed,
  trainShards: config.trainShards,
  tuningShards,
  recheckEvery: config.recheckEvery,
  recheckBatches: config.recheckBatches,
  crowding: variant.crowding,
  keepHiddenSplits: variant.keepHiddenSplits,
  batches: args.batches,
  threads: pool.threads,
  budgetMinutes: minutes ?? null,
  generations,
  // Only when patience ended the run, so summaries without it keep the shape the README cites.
  ...(stop ? { stop } : {}),
  seconds: Math.round(seconds),
  secondsPerGeneration: +(seconds / generations).toFixed(3),
  championConnections: address.connections,
  championHiddenNodes: hiddenNodes,
  /** Mean 1-minute load average over the run (≈ threads on an otherwise idle machine). */
  meanLoadAverage: +(loadSamples.reduce((a, b) => a + b, 0) / loadSamples.length).toFixed(2),
  cores: availableParallelism(),
  ...report,
  /** Test accuracy of the champion with trained per-connection weights (null: --train-steps 0). */
  trainedTestAccuracy,
  trainingSteps: trainedTestAccuracy === null ? 0 : trainingSteps,
  trainingSeconds,
  checkpoints,
  /** The champion after each re-check, with its ensemble accuracy on test shard 0. */
  rechecks,
};
if (record || args.out) {
  writeFileSync(args.out ?? join(results, resultName('search')), `${JSON.stringify(summary, null, 2)}\n`);
}
if (record && !args.out && dataset.name === 'mnist') updateReadmeTable('search', searchReadmeBlock(summary));
