/**
 * The linear baseline (src/wann/baseline.ts) on our MNIST shards: softmax regression, Adam lr 0.003,
 * batch 128, trained on the 60 training shards, scored on the 10 test shards after every epoch.
 * Scoring never feeds back into training (no early stopping), and epoch k of one run is bit-identical
 * to a run of k epochs, so one run gives the 1-, 5-, 10- and 30-epoch figures and their cost.
 * Records bench/results/baseline.json.
 *
 *   npm run bench:baseline [-- --epochs 30 --seed 1 --dataset fashion-mnist]
 *   (another built-in dataset records bench/results/baseline-<name>.json)
 */
import { writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { ensureDatasetShards, readShard } from '../node/shards';
import { MNIST, requireBuiltinDataset } from '../src/data/dataset';
import { shardsToBatch, shardToBatch } from '../src/data/shard';
import {
  BASELINE_DEFAULTS,
  baselineCorrect,
  initialBaselineState,
  trainBaselineEpochs,
} from '../src/wann/baseline';

const HERE = fileURLToPath(new URL('.', import.meta.url));
const { values: args } = parseArgs({
  options: {
    epochs: { type: 'string', default: '30' },
    seed: { type: 'string', default: '1' },
    /** A built-in dataset whose shards are built (`npm run data -- --dataset NAME`). */
    dataset: { type: 'string', default: 'mnist' },
  },
});
const epochs = Number(args.epochs);
const seed = Number(args.seed);
const dataset = requireBuiltinDataset(args.dataset ?? MNIST.name);
const CLASSES = dataset.classes.length;
const TRAIN_SHARDS = dataset.shards.train;
const TEST_SHARDS = dataset.shards.test;

const loadAtStart = loadavg()[0];
const dir = await ensureDatasetShards(dataset);
const train = shardsToBatch(Array.from({ length: TRAIN_SHARDS }, (_, i) => readShard(dir, 'train', i)));
// Test shards scored one at a time, as a Worker would (it never holds the whole test split).
const testShards = Array.from({ length: TEST_SHARDS }, (_, i) => shardToBatch(readShard(dir, 'test', i)));
const testCount = testShards.reduce((n, b) => n + b.count, 0);

const state = initialBaselineState(train.features, CLASSES, { seed });
const curve: { epoch: number; seconds: number; trainLoss: number; testAccuracy: number }[] = [];
let seconds = 0;
for (let e = 1; e <= epochs; e++) {
  const t0 = performance.now();
  trainBaselineEpochs(state, train, 1);
  seconds += (performance.now() - t0) / 1000;
  let correct = 0;
  for (const batch of testShards) correct += baselineCorrect(state, batch);
  const testAccuracy = correct / testCount;
  const trainLoss = state.epochLoss[e - 1];
  curve.push({ epoch: e, seconds: +seconds.toFixed(2), trainLoss: +trainLoss.toFixed(5), testAccuracy });
  console.log(
    `epoch ${e}  ${seconds.toFixed(1)} s  train loss ${trainLoss.toFixed(4)}  test ${(100 * testAccuracy).toFixed(2)}%`,
  );
}
const at = (e: number) => curve.find((c) => c.epoch === e);
const summary = [1, 5, 10, 30, BASELINE_DEFAULTS.epochs]
  .filter((e, i, all) => e <= epochs && all.indexOf(e) === i)
  .sort((a, b) => a - b)
  .map((e) => ({ epochs: e, testAccuracy: at(e)?.testAccuracy, trainSeconds: at(e)?.seconds }));
const result = {
  measured: new Date().toISOString().slice(0, 10),
  model: `softmax regression: ${train.features} inputs × ${CLASSES} classes weights + ${CLASSES} biases, float64, zero start`,
  data:
    dataset.name === MNIST.name
      ? 'our MNIST shards (16×16, deskewed, /255): 60,000 training images, 10,000 test images'
      : `our ${dataset.name} shards (${JSON.stringify(dataset.preprocessing)}, /255): ${train.count} training rows, ${testCount} test rows`,
  optimiser: 'Adam',
  learningRate: state.learningRate,
  batchSize: state.batchSize,
  seed,
  platformDefaultEpochs: BASELINE_DEFAULTS.epochs,
  /** One thread of a shared 2-core machine: its 1-minute load average at the start and the end. */
  loadAverage: [+loadAtStart.toFixed(2), +loadavg()[0].toFixed(2)],
  secondsPerEpoch: +(seconds / epochs).toFixed(2),
  /** The training Batch's bytes (float32 inputs + labels): what a Worker holds while training. */
  trainBatchMB: +((train.inputs.byteLength + train.labels.byteLength) / 1e6).toFixed(1),
  summary,
  curve,
};
const file = dataset.name === MNIST.name ? 'baseline.json' : `baseline-${dataset.name}.json`;
writeFileSync(join(HERE, 'results', file), `${JSON.stringify(result, null, 2)}\n`);
for (const s of summary) {
  console.log(
    `${s.epochs} epoch(s): test ${(100 * (s.testAccuracy ?? 0)).toFixed(2)}%, ${s.trainSeconds} s of training`,
  );
}
