/**
 * The linear baseline (src/wann/baseline.ts) on a built-in dataset's shards, by the platform's own
 * procedure (`fitBaseline`): softmax regression, Adam lr 0.003, batch 128, a seeded stratified
 * validation split (10 % of each class) carved from the training shards, the epoch count chosen on
 * validation accuracy (at most 30 epochs, stop after 3 without a better one, the first best), then
 * the test split scored once with the chosen epoch's weights: that is the figure.
 *
 * For the record it also scores the test split after every epoch (`curve[].testAccuracy`): a
 * report only; nothing here feeds it back into the choice, which `fitBaseline` makes from the
 * validation figures alone. Records bench/results/baseline.json.
 *
 *   npm run bench:baseline [-- --seed 1 --dataset fashion-mnist]
 *   (another built-in dataset records bench/results/baseline-<name>.json)
 */
import { writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { ensureDatasetShards, readShard } from '../node/shards';
import { MNIST, requireBuiltinDataset } from '../src/data/dataset';
import { shardToBatch } from '../src/data/shard';
import { BASELINE_EPOCH_RULE, type BaselineSource, baselineCorrect, fitBaseline } from '../src/wann/baseline';

const HERE = fileURLToPath(new URL('.', import.meta.url));
const { values: args } = parseArgs({
  options: {
    seed: { type: 'string', default: '1' },
    /** A built-in dataset whose shards are built (`npm run data -- --dataset NAME`). */
    dataset: { type: 'string', default: 'mnist' },
  },
});
const seed = Number(args.seed);
const dataset = requireBuiltinDataset(args.dataset ?? MNIST.name);

const loadAtStart = loadavg()[0];
const dir = await ensureDatasetShards(dataset);
// One shard at a time, as a Worker reads them (each part converted when asked).
const trainShards = Array.from({ length: dataset.shards.train }, (_, i) => readShard(dir, 'train', i));
const testShards = Array.from({ length: dataset.shards.test }, (_, i) =>
  shardToBatch(readShard(dir, 'test', i)),
);
const source: BaselineSource = {
  features: dataset.features,
  classes: dataset.classes.length,
  trainParts: trainShards.length,
  testParts: testShards.length,
  trainPart: (i) => shardToBatch(trainShards[i]),
  testPart: (i) => testShards[i],
};

const curve: {
  epoch: number;
  seconds: number;
  trainLoss: number;
  validationAccuracy: number;
  testAccuracy: number;
}[] = [];
const t0 = performance.now();
let reporting = 0;
const result = await fitBaseline(source, {
  seed,
  onEpoch: (progress) => {
    const r0 = performance.now();
    const { state } = progress;
    let correct = 0;
    let count = 0;
    for (const batch of testShards) {
      correct += baselineCorrect(state, batch);
      count += batch.count;
    }
    reporting += performance.now() - r0;
    const entry = {
      epoch: state.epoch,
      seconds: +((performance.now() - t0 - reporting) / 1000).toFixed(2),
      trainLoss: +state.epochLoss[state.epoch - 1].toFixed(5),
      validationAccuracy: progress.validationAccuracy[state.epoch - 1],
      testAccuracy: correct / count,
    };
    curve.push(entry);
    console.log(
      `epoch ${entry.epoch}  ${entry.seconds.toFixed(1)} s  train loss ${entry.trainLoss.toFixed(4)}  validation ${(100 * entry.validationAccuracy).toFixed(2)}%  test ${(100 * entry.testAccuracy).toFixed(2)}% (report only)`,
    );
  },
});
const record = {
  measured: new Date().toISOString().slice(0, 10),
  model: `softmax regression: ${dataset.features} inputs × ${source.classes} classes weights + ${source.classes} biases, float64, zero start`,
  data: `our ${dataset.name} shards (${JSON.stringify(dataset.preprocessing)}): ${result.trainCount} training rows, ${result.validationCount} validation rows carved from the training shards, ${result.testCount} test rows`,
  optimiser: 'Adam',
  learningRate: result.learningRate,
  batchSize: result.batchSize,
  seed,
  rule: BASELINE_EPOCH_RULE,
  /** The epoch chosen on validation accuracy, and the figure: test accuracy at it, scored once. */
  chosenEpoch: result.epochs,
  validationAccuracy: result.validationAccuracy,
  testAccuracy: result.testAccuracy,
  epochsRun: result.epochsRun,
  /** One thread of a shared 2-core machine: its 1-minute load average at the start and the end. */
  loadAverage: [+loadAtStart.toFixed(2), +loadavg()[0].toFixed(2)],
  curve,
};
const file = dataset.name === MNIST.name ? 'baseline.json' : `baseline-${dataset.name}.json`;
writeFileSync(join(HERE, 'results', file), `${JSON.stringify(record, null, 2)}\n`);
console.log(
  `chosen on validation: ${result.epochs} epoch(s) (validation ${(100 * result.validationAccuracy).toFixed(2)}%); test ${(100 * result.testAccuracy).toFixed(2)}%`,
);
