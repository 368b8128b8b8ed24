/**
 * Trained weights (src/wann/train.ts) on a champion: test accuracy against Adam steps, and the
 * training's speed on one thread (what sizes the platform's per-invocation step bound,
 * workers/models/train.ts WORK_PER_INVOCATION). Records bench/results/train.json.
 *
 *   npx tsx bench/train.ts [--genome bench/results/champion.json] [--steps 9600] [--weight tuned]
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { ensureShards, readShard, testSet } from '../node/shards';
import { concatShards, shardsToBatch } from '../src/data/shard';
import { tuneWeight } from '../src/wann/accuracy';
import { parseGenome } from '../src/wann/genome';
import { compile } from '../src/wann/network';
import { TUNING_SHARDS } from '../src/wann/report';
import {
  compileTrainable,
  defaultDecaySteps,
  initialTrainingState,
  parameterCount,
  TRAINING_DEFAULTS,
  Trainer,
  trainedAccuracy,
} from '../src/wann/train';

const HERE = fileURLToPath(new URL('.', import.meta.url));
const { values: args } = parseArgs({
  options: {
    genome: { type: 'string', default: join(HERE, 'results', 'champion.json') },
    steps: { type: 'string', default: String(2 * TRAINING_DEFAULTS.steps) },
    'learning-rate': { type: 'string', default: String(TRAINING_DEFAULTS.learningRate) },
  },
});

const dir = await ensureShards();
const genome = parseGenome(JSON.parse(readFileSync(args.genome ?? '', 'utf8')));
const train = concatShards(Array.from({ length: 60 }, (_, i) => readShard(dir, 'train', i)));
const test = testSet(dir);
const net = compileTrainable(genome);
// Tuned on the training shards every host tunes on (the platform's publication, `npm run search`).
const tuning = shardsToBatch(Array.from({ length: TUNING_SHARDS }, (_, i) => readShard(dir, 'train', i)));
const tuned = tuneWeight(compile(genome), tuning).weight;
const total = Number(args.steps ?? TRAINING_DEFAULTS.steps);
// The default schedule over this training's length (constant, or the cosine decay over `total`).
const state = initialTrainingState(net, tuned, {
  seed: 1,
  learningRate: Number(args['learning-rate']),
  decaySteps: defaultDecaySteps(total),
});
const every = 600; // ~1.3 epochs at batch 128
const trainer = new Trainer(net, train);
const curve: { step: number; seconds: number; testAccuracy: number; loss: number | null }[] = [
  { step: 0, seconds: 0, testAccuracy: trainedAccuracy(net, state.weights, test), loss: null },
];
console.log(
  `${parameterCount(net)} trainable connections, ${net.rows} rows; start at the tuned weight ${tuned}: ${(100 * curve[0].testAccuracy).toFixed(2)}%`,
);
let seconds = 0;
while (state.step < total) {
  const t0 = performance.now();
  trainer.steps(state, Math.min(every, total - state.step));
  seconds += (performance.now() - t0) / 1000;
  const testAccuracy = trainedAccuracy(net, state.weights, test);
  curve.push({ step: state.step, seconds: +seconds.toFixed(2), testAccuracy, loss: state.loss });
  console.log(`step ${state.step}  ${seconds.toFixed(1)} s  test ${(100 * testAccuracy).toFixed(2)}%`);
}
const productsPerSecond = (parameterCount(net) * state.batchSize * state.step) / seconds;
const result = {
  measured: new Date().toISOString().slice(0, 10),
  genome: relative(join(HERE, '..'), args.genome ?? ''),
  connections: parameterCount(net),
  batchSize: state.batchSize,
  learningRate: state.learningRate,
  decaySteps: state.decaySteps,
  startWeight: tuned,
  steps: state.step,
  seconds: +seconds.toFixed(1),
  stepsPerSecond: +(state.step / seconds).toFixed(0),
  /** (connection × example) products per second of training: the per-invocation bound's unit. */
  productsPerSecond: Math.round(productsPerSecond),
  loadAverage: loadavg()[0],
  curve,
};
writeFileSync(join(HERE, 'results', 'train.json'), `${JSON.stringify(result, null, 2)}\n`);
console.log(
  `${result.stepsPerSecond} steps/s, ${(productsPerSecond / 1e6).toFixed(1)} M connection×example products/s (load ${result.loadAverage.toFixed(2)})`,
);
