/**
 * The trained weights' defaults (src/wann/train.ts TRAINING_DEFAULTS), chosen on a validation
 * split carved from the training data, never on the test set (issue 20 item 3).
 *
 * For each champion: the 60,000 training images are split, seeded and stratified (src/data/split.ts,
 * seed 1), into 54,000 that train and 6,000 that validate. Every candidate (learning rate × schedule
 * × steps) trains on the 54,000 from the champion's tuned weight (tuned on training shards 0–1, as
 * every host tunes) and is scored on the 6,000. The candidate with the best mean validation accuracy
 * over the champions wins (ties: fewer steps, then constant before cosine). Only then, for the
 * winner alone, each champion trains on all 60,000 training images and is scored on the 10,000 test
 * images, once: the figure the README reports.
 *
 *   npm run bench:train-defaults -- [--genome a.json --genome b.json …] [--out bench/results/train-defaults.json]
 *
 * Default genomes: bench/results/champion.json and bench/results/seeds-{1,2,3}-champion.json that
 * exist. One thread; about 2–3 minutes per ~800-connection champion on this machine.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { ensureShards, readShard, testSet } from '../node/shards';
import { concatShards, type Shard, shardsToBatch, shardToBatch } from '../src/data/shard';
import { stratifiedSplit } from '../src/data/split';
import { tuneWeight } from '../src/wann/accuracy';
import { parseGenome } from '../src/wann/genome';
import { compile } from '../src/wann/network';
import { TUNING_SHARDS } from '../src/wann/report';
import {
  compileTrainable,
  initialTrainingState,
  parameterCount,
  TRAINING_DEFAULTS,
  type TrainableNetwork,
  Trainer,
  trainedAccuracy,
} from '../src/wann/train';

const HERE = fileURLToPath(new URL('.', import.meta.url));
const RESULTS = join(HERE, 'results');
const { values: args } = parseArgs({
  options: {
    genome: { type: 'string', multiple: true },
    out: { type: 'string', default: join(RESULTS, 'train-defaults.json') },
    /** The grid (comma-separated); the defaults are the grid recorded in train-defaults.json. */
    'learning-rates': { type: 'string', default: '0.003,0.01,0.03' },
    steps: { type: 'string', default: '4800,9600,19200' },
    schedules: { type: 'string', default: 'constant,cosine' },
    /** Validation only: no test figure (a grid extended, whose winner is then tested alone). */
    'no-test': { type: 'boolean', default: false },
  },
});

const list = (s: string | undefined) => (s ?? '').split(',').map(Number);
const LEARNING_RATES = list(args['learning-rates']);
const STEPS = list(args.steps).sort((a, b) => a - b);
const ALL_SCHEDULES = ['constant', 'cosine'] as const;
type Schedule = (typeof ALL_SCHEDULES)[number];
const SCHEDULES = ALL_SCHEDULES.filter((s) => (args.schedules ?? '').split(',').includes(s));
const VALIDATION_FRACTION = 0.1;
const SPLIT_SEED = 1;

const genomes =
  args.genome ??
  ['champion.json', 'seeds-1-champion.json', 'seeds-2-champion.json', 'seeds-3-champion.json']
    .map((f) => join(RESULTS, f))
    .filter((f) => existsSync(f));
if (genomes.length === 0) throw new Error('no champion to train: pass --genome FILE');

const dir = await ensureShards();
const all = concatShards(Array.from({ length: 60 }, (_, i) => readShard(dir, 'train', i)));
const split = stratifiedSplit(all.labels, { seed: SPLIT_SEED, testFraction: VALIDATION_FRACTION });
/** The images at `rows` of `all`, in that order, as one shard. */
const pick = (rows: Uint32Array): Shard => {
  const size = all.width * all.height;
  const pixels = new Uint8Array(rows.length * size);
  const labels = new Uint8Array(rows.length);
  rows.forEach((r, i) => {
    pixels.set(all.pixels.subarray(r * size, (r + 1) * size), i * size);
    labels[i] = all.labels[r];
  });
  return { count: rows.length, width: all.width, height: all.height, pixels, labels };
};
const fit = pick(split.train);
const validation = shardToBatch(pick(split.test));
const tuning = shardsToBatch(Array.from({ length: TUNING_SHARDS }, (_, i) => readShard(dir, 'train', i)));
console.log(
  `${genomes.length} champions; ${fit.count} training images fit, ${validation.count} validate (seed ${SPLIT_SEED}, stratified)`,
);

interface Candidate {
  learningRate: number;
  schedule: Schedule;
  steps: number;
}
const key = (c: Candidate) => `${c.schedule} lr ${c.learningRate} ${c.steps} steps`;
const candidates: Candidate[] = SCHEDULES.flatMap((schedule) =>
  LEARNING_RATES.flatMap((learningRate) => STEPS.map((steps) => ({ learningRate, schedule, steps }))),
);

/** Each champion compiled for training, in `genomes` order (the test phase reuses them). */
const nets: TrainableNetwork[] = [];
const perChampion: {
  genome: string;
  connections: number;
  tunedWeight: number;
  validation: Record<string, number>;
}[] = [];
const started = performance.now();
for (const file of genomes) {
  const genome = parseGenome(JSON.parse(readFileSync(file, 'utf8')));
  const net = compileTrainable(genome);
  nets.push(net);
  const tuned = tuneWeight(compile(genome), tuning).weight;
  const trainer = new Trainer(net, fit);
  const scores: Record<string, number> = {};
  for (const learningRate of LEARNING_RATES) {
    // Constant: one training, scored at each step count on the way.
    const state = initialTrainingState(net, tuned, { seed: 1, learningRate });
    for (const steps of SCHEDULES.includes('constant') ? STEPS : []) {
      trainer.steps(state, steps - state.step);
      scores[key({ learningRate, schedule: 'constant', steps })] = trainedAccuracy(
        net,
        state.weights,
        validation,
      );
    }
    // Cosine: the decay depends on the training's length, so one training per step count.
    for (const steps of SCHEDULES.includes('cosine') ? STEPS : []) {
      const decayed = initialTrainingState(net, tuned, { seed: 1, learningRate, decaySteps: steps });
      trainer.steps(decayed, steps);
      scores[key({ learningRate, schedule: 'cosine', steps })] = trainedAccuracy(
        net,
        decayed.weights,
        validation,
      );
    }
    console.log(
      `${relative(RESULTS, file)} lr ${learningRate}: ${STEPS.map((s) => `${s} steps ${SCHEDULES.map((schedule) => `${schedule} ${(100 * scores[key({ learningRate, schedule, steps: s })]).toFixed(2)}%`).join(' ')}`).join(', ')}  (${((performance.now() - started) / 1000).toFixed(0)} s)`,
    );
  }
  perChampion.push({
    genome: relative(join(HERE, '..'), file),
    connections: parameterCount(net),
    tunedWeight: tuned,
    validation: scores,
  });
}

const mean = (c: Candidate) => perChampion.reduce((a, p) => a + p.validation[key(c)], 0) / perChampion.length;
const ranked = candidates
  .map((c) => ({ ...c, meanValidationAccuracy: mean(c) }))
  .sort(
    (a, b) =>
      b.meanValidationAccuracy - a.meanValidationAccuracy ||
      a.steps - b.steps ||
      ALL_SCHEDULES.indexOf(a.schedule) - ALL_SCHEDULES.indexOf(b.schedule),
  );
const chosen = ranked[0];
const current: Candidate = {
  learningRate: TRAINING_DEFAULTS.learningRate,
  schedule: TRAINING_DEFAULTS.decay ? 'cosine' : 'constant',
  steps: TRAINING_DEFAULTS.steps,
};
console.log(
  `chosen on validation: ${key(chosen)} (mean ${(100 * chosen.meanValidationAccuracy).toFixed(2)}%); the defaults in src/wann/train.ts: ${key(current)} (${candidates.some((c) => key(c) === key(current)) ? `mean ${(100 * mean(current)).toFixed(2)}%` : 'not in this grid'})`,
);

// The test set, once, for the chosen candidate: each champion trained on all training images.
const test = testSet(dir);
const tested: { genome: string; testAccuracy: number; seconds: number }[] = [];
for (const [i, net] of args['no-test'] ? [] : nets.entries()) {
  const state = initialTrainingState(net, perChampion[i].tunedWeight, {
    seed: 1,
    learningRate: chosen.learningRate,
    decaySteps: chosen.schedule === 'cosine' ? chosen.steps : 0,
  });
  const t0 = performance.now();
  new Trainer(net, all).steps(state, chosen.steps);
  const seconds = +((performance.now() - t0) / 1000).toFixed(1);
  const testAccuracy = trainedAccuracy(net, state.weights, test);
  tested.push({ genome: perChampion[i].genome, testAccuracy, seconds });
  console.log(`${perChampion[i].genome}: test ${(100 * testAccuracy).toFixed(2)}% (${seconds} s)`);
}

const result = {
  measured: new Date().toISOString().slice(0, 10),
  validation: { fraction: VALIDATION_FRACTION, seed: SPLIT_SEED, fit: fit.count, validate: validation.count },
  batchSize: TRAINING_DEFAULTS.batchSize,
  candidates: ranked,
  chosen: { learningRate: chosen.learningRate, schedule: chosen.schedule, steps: chosen.steps },
  perChampion,
  /** Test accuracy of the chosen candidate only, trained on all 60,000 training images. */
  tested,
  loadAverage: loadavg()[0],
  seconds: Math.round((performance.now() - started) / 1000),
};
writeFileSync(args.out ?? '', `${JSON.stringify(result, null, 2)}\n`);
console.log(`wrote ${relative(process.cwd(), args.out ?? '')}`);
