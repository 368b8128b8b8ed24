/**
 * An uploaded CSV table → a tabular dataset: WSH2 shards and the manifest, in bounded memory.
 *
 * The table is never held: `open()` gives a fresh pass over its text (an R2 object read again, a
 * file, a string in tests) and the build reads it several times:
 * 1. labels → classes (CsvTableReader validates every row), the seeded stratified split and the
 *    shard order (`split.ts`); only one small integer per row is kept;
 * 2. per-feature statistics of the TRAINING rows only (`standardize.ts`);
 * 3. shards: every row is standardised in float32 exactly as the served ONNX graph does it, and put
 *    at its place in its shard (training shards in `shardOrder`, test shards in file order). The
 *    shards are filled a group at a time, the group sized to `memoryBytes`, so a large table costs
 *    one more pass per group instead of more memory.
 * A separate test table (`openTest`: same feature columns, labels among the table's classes)
 * replaces the held-out split: the whole table trains, the test table's rows are the test split in
 * file order, and its statistics are never read (the test split never informs preprocessing).
 */
import { CsvTableReader, type CsvTableRow } from './csv';
import { type DatasetManifest, datasetManifestSchema } from './dataset';
import { encodeFeatureShard } from './shard';
import { DEFAULT_TEST_FRACTION, shardOfRows, shardOrder, stratifiedSplit } from './split';
import { FeatureStatisticsAccumulator, standardization, standardize } from './standardize';

/** A CSV dataset that cannot be built: the message is for the person who uploaded it (HTTP 400). */
export class CsvDatasetError extends Error {
  override name = 'CsvDatasetError';
}

export interface CsvDatasetOptions {
  readonly name: string;
  /** The label column's name (default: the last column). */
  readonly label?: string;
  /** Held-out fraction per class, in (0, 1); default 10 %. */
  readonly testFraction?: number;
  /** Seeds the split and the shard order (recorded by the caller with the dataset). */
  readonly seed: number;
  /** Content hash of the uploaded bytes (the manifest's `sourceHash`). */
  readonly sourceHash: string;
  readonly rowsPerShard?: number;
  /** Shard values held at once in pass 3 (default 32 MiB). */
  readonly memoryBytes?: number;
}

/** Where the build is: passes done of the passes it needs (known after pass 1). */
export interface CsvDatasetProgress {
  readonly pass: number;
  readonly passes: number;
}

export type ShardSink = (split: 'train' | 'test', index: number, bytes: Uint8Array) => Promise<void>;

const ROWS_PER_SHARD = 1000;
const MEMORY_BYTES = 32 * 1024 * 1024;
const CLASS_NAME_MAX = 64;

/** One pass over a table: every validated row, in file order. */
async function eachRow(
  open: () => AsyncIterable<string>,
  label: string | undefined,
  onRow: (row: CsvTableRow) => void,
): Promise<CsvTableReader> {
  const reader = new CsvTableReader({ label });
  for await (const chunk of open()) for (const row of reader.push(chunk)) onRow(row);
  for (const row of reader.end()) onRow(row);
  return reader;
}

/**
 * Builds the dataset: shards go to `writeShard` (train-0…, test-0…), the manifest is returned.
 * Parser and split problems throw `CsvFormatError` / `CsvDatasetError` (messages naming the row
 * and column); a caller deletes whatever `writeShard` stored before the error.
 */
export async function buildCsvDataset(
  open: () => AsyncIterable<string>,
  options: CsvDatasetOptions,
  writeShard: ShardSink,
  onProgress: (progress: CsvDatasetProgress) => void | Promise<void> = () => {},
  openTest?: () => AsyncIterable<string>,
): Promise<DatasetManifest> {
  const rowsPerShard = options.rowsPerShard ?? ROWS_PER_SHARD;

  // Pass 1. Class indices are known only at the end (classes are sorted), so each row keeps the
  // number of its label text in first-seen order; at most maxClasses texts exist.
  const seenIds = new Map<string, number>();
  let seen = new Uint16Array(1024);
  let rows = 0;
  const first = await eachRow(open, options.label, (row) => {
    let id = seenIds.get(row.label);
    if (id === undefined) {
      id = seenIds.size;
      seenIds.set(row.label, id);
    }
    if (rows === seen.length) {
      const grown = new Uint16Array(seen.length * 2);
      grown.set(seen);
      seen = grown;
    }
    seen[rows++] = id;
  });
  const summary = first.summary();
  for (const name of summary.classes) {
    if (name.length > CLASS_NAME_MAX) {
      throw new CsvDatasetError(
        `class name "${name.slice(0, 40)}…" is longer than ${CLASS_NAME_MAX} characters`,
      );
    }
  }
  const classOfSeen = new Uint8Array(seenIds.size);
  for (const [text, id] of seenIds) classOfSeen[id] = first.classIndex(text);
  const labels = new Uint8Array(rows);
  for (let r = 0; r < rows; r++) labels[r] = classOfSeen[seen[r]];
  seen = new Uint16Array(0);

  // A separate test table: every row of the table is training, the test split is that file's
  // rows (same columns; labels among the table's classes), in its own order.
  let testLabels: Uint8Array | null = null;
  if (openTest) {
    const trainClass = new Map(summary.classes.map((name, i) => [name, i]));
    // Class indices are known at the end: keep each row's label text number, as pass 1 does.
    const textIds = new Map<string, number>();
    const testIds: number[] = [];
    const testReader = await eachRow(openTest, options.label, (row) => {
      let id = textIds.get(row.label);
      if (id === undefined) {
        id = textIds.size;
        textIds.set(row.label, id);
      }
      testIds.push(id);
    });
    const testSummary = testReader.summary();
    if (testSummary.features.join('\u0000') !== summary.features.join('\u0000')) {
      throw new CsvDatasetError(
        `test table: its feature columns (${testSummary.features.join(', ')}) are not the table's (${summary.features.join(', ')})`,
      );
    }
    const toTrain = new Uint8Array(textIds.size);
    for (const [text, id] of textIds) {
      const name = testSummary.classes[testReader.classIndex(text)];
      const c = trainClass.get(name);
      if (c === undefined) {
        throw new CsvDatasetError(
          `test table: label "${name}" is not a class of the table (${summary.classes.join(', ')})`,
        );
      }
      toTrain[id] = c;
    }
    testLabels = Uint8Array.from(testIds, (id) => toTrain[id]);
  }

  const testFraction = options.testFraction ?? DEFAULT_TEST_FRACTION;
  let split: ReturnType<typeof stratifiedSplit>;
  if (testLabels) {
    split = { train: Uint32Array.from({ length: rows }, (_, i) => i), test: new Uint32Array(0) };
  } else {
    try {
      split = stratifiedSplit(labels, { seed: options.seed, testFraction });
    } catch (e) {
      throw new CsvDatasetError(e instanceof Error ? e.message : String(e));
    }
  }
  const testRows = testLabels ? testLabels.length : split.test.length;
  const order = shardOrder(split.train, options.seed);
  // Every row's shard: training shards 0…T−1, then test shards T…; and its slot inside it.
  const shardOf = shardOfRows(order, rows, rowsPerShard);
  const slot = new Uint32Array(rows);
  for (let p = 0; p < order.length; p++) slot[order[p]] = p % rowsPerShard;
  const trainShards = Math.ceil(split.train.length / rowsPerShard);
  for (let p = 0; p < split.test.length; p++) {
    shardOf[split.test[p]] = trainShards + Math.floor(p / rowsPerShard);
    slot[split.test[p]] = p % rowsPerShard;
  }
  const testShards = Math.ceil(testRows / rowsPerShard);
  const shardRows = (s: number) =>
    s < trainShards
      ? Math.min(rowsPerShard, split.train.length - s * rowsPerShard)
      : Math.min(rowsPerShard, testRows - (s - trainShards) * rowsPerShard);

  const features = summary.features.length;
  const shardsPerGroup = Math.max(
    1,
    Math.floor((options.memoryBytes ?? MEMORY_BYTES) / (rowsPerShard * features * 4)),
  );
  const totalShards = trainShards + testShards;
  const passes = 2 + Math.ceil(totalShards / shardsPerGroup);
  await onProgress({ pass: 1, passes });

  // Pass 2: training statistics only; the test split never informs preprocessing.
  const stats = new FeatureStatisticsAccumulator(features);
  let r2 = 0;
  await eachRow(open, options.label, (row) => {
    if (shardOf[r2] < trainShards) stats.add(row.features);
    r2++;
  });
  const statistics = stats.result();
  const standard = standardization(statistics);
  await onProgress({ pass: 2, passes });

  // Pass 3 (one per group of shards).
  let pass = 2;
  for (let g0 = 0; g0 < totalShards; g0 += shardsPerGroup) {
    const g1 = Math.min(totalShards, g0 + shardsPerGroup);
    const values = Array.from({ length: g1 - g0 }, (_, i) => new Float32Array(shardRows(g0 + i) * features));
    const shardLabels = Array.from({ length: g1 - g0 }, (_, i) => new Uint8Array(shardRows(g0 + i)));
    let r = 0;
    if (g0 < trainShards || !testLabels) {
      await eachRow(open, options.label, (row) => {
        const s = shardOf[r];
        if (s >= g0 && s < g1) {
          const at = slot[r];
          standardize(row.features, standard, values[s - g0].subarray(at * features, (at + 1) * features));
          shardLabels[s - g0][at] = labels[r];
        }
        r++;
      });
    }
    if (openTest && testLabels && g1 > trainShards) {
      const classOf = testLabels;
      let t = 0;
      await eachRow(openTest, options.label, (row) => {
        const s = trainShards + Math.floor(t / rowsPerShard);
        if (s >= g0 && s < g1) {
          const at = t % rowsPerShard;
          standardize(row.features, standard, values[s - g0].subarray(at * features, (at + 1) * features));
          shardLabels[s - g0][at] = classOf[t];
        }
        t++;
      });
    }
    for (let s = g0; s < g1; s++) {
      const bytes = encodeFeatureShard({
        count: shardRows(s),
        features,
        values: values[s - g0],
        labels: shardLabels[s - g0],
      });
      if (s < trainShards) await writeShard('train', s, bytes);
      else await writeShard('test', s - trainShards, bytes);
    }
    await onProgress({ pass: ++pass, passes });
  }

  return datasetManifestSchema.parse({
    name: options.name,
    kind: 'tabular',
    rawShape: [features],
    features,
    classes: [...summary.classes],
    featureNames: featureNamesOf(summary.features),
    splits: { train: split.train.length, test: testRows },
    shards: { train: trainShards, test: testShards, rowsPerShard },
    preprocessing: { kind: 'tabular', mean: statistics.mean, std: statistics.std },
    sourceHash: options.sourceHash,
  });
}

/** The header's feature column names as the manifest keeps them (see `featureNames` there). */
export function featureNamesOf(columns: readonly string[]): string[] {
  return columns.map((name, i) => name.trim().slice(0, 64).trim() || `feature ${i + 1}`);
}
