/**
 * An uploaded idx image set → an image dataset: WSH1 shards at the chosen W×H and the manifest, in
 * bounded memory. The files are never held: `IdxSources` gives a fresh pass over each (an R2 object
 * read again, a file, bytes in tests), gzipped or plain (`idxPlainBytes`).
 *
 * 1. Uploading: `summariseIdxFile` reads one file as it streams in (header, exact body length, and
 *    for labels how many rows carry each value); `checkIdxSet` then checks the set as a whole
 *    (counts match, test images the training images' size, classes) from those summaries alone.
 * 2. Building: the labels (one byte per image) → classes, the seeded stratified split or the
 *    separate test pair, the shard order (`split.ts`, as for CSV tables); then one pass over the
 *    images per group of shards (the group sized to `memoryBytes`): each image of the group is
 *    preprocessed (`preprocessGrayImage`: /255, bilinear resize to W×H, optional deskew), quantised
 *    as every WSH1 shard is (`toShardPixels`) and put at its place.
 *
 * Classes: without a `classes` option, the distinct label values ascending, named by their values
 * (`idxClasses`: labels 0–9 stay classes 0–9); with it, label v is class v, named `classes[v]`.
 */
import { type DatasetManifest, datasetManifestSchema, MAX_CLASSES } from './dataset';
import { IdxFormatError, IdxStreamReader, idxPlainBytes } from './idx';
import { preprocessGrayImage } from './image';
import { formatCount, UPLOAD_LIMITS } from './limits';
import { encodeShard, toShardPixels } from './shard';
import { DEFAULT_TEST_FRACTION, shardOrder, stratifiedSplit } from './split';

/** The roles of an idx upload's files (the API's `PUT /api/datasets/:id/files/:role`). */
export const IDX_ROLES = ['images', 'labels', 'test-images', 'test-labels'] as const;
export type IdxRole = (typeof IDX_ROLES)[number];

/** The largest decompressed idx body (images × pixels): a gzip bomb stops here, not in memory. */
export const MAX_IDX_BODY_BYTES = 1024 * 1024 * 1024;

/** What an uploaded idx file holds, read as it streamed in (stored with the pending upload). */
export interface IdxFileSummary {
  readonly kind: 'images' | 'labels';
  readonly count: number;
  /** Image height and width (0 for a label file). */
  readonly rows: number;
  readonly cols: number;
  /** Labels only: rows per label value, 256 entries. */
  readonly labelCounts?: readonly number[];
}

/**
 * Reads one idx file (gzipped or plain) to its end and summarises it; a bad file throws an
 * IdxFormatError naming `what` and the problem (magic, element type, truncation, limits).
 */
export async function summariseIdxFile(
  source: AsyncIterable<Uint8Array>,
  kind: 'images' | 'labels',
  what: string,
): Promise<IdxFileSummary> {
  const reader = new IdxStreamReader(kind, what);
  const histogram = kind === 'labels' ? new Float64Array(256) : null;
  let checked = false;
  for await (const chunk of idxPlainBytes(source, what)) {
    const items = reader.push(chunk);
    const header = reader.header;
    if (!checked && header !== null) {
      checked = true;
      const body = header.count * header.itemBytes;
      if (body > MAX_IDX_BODY_BYTES) {
        throw new IdxFormatError(
          `${what}: ${header.count} images of ${header.rows}×${header.cols} are ${formatCount(body)} bytes ` +
            `uncompressed; the limit is ${formatCount(MAX_IDX_BODY_BYTES)} bytes (1 GiB)`,
        );
      }
    }
    if (histogram) for (let i = 0; i < items.length; i++) histogram[items[i]]++;
  }
  const header = reader.end();
  return {
    kind,
    count: header.count,
    rows: header.rows,
    cols: header.cols,
    ...(histogram ? { labelCounts: Array.from(histogram) } : {}),
  };
}

/** The files of an idx set as their summaries (the test pair both or neither). */
export interface IdxSetSummaries {
  readonly images: IdxFileSummary;
  readonly labels: IdxFileSummary;
  readonly testImages?: IdxFileSummary;
  readonly testLabels?: IdxFileSummary;
}

/** An idx set's classes: names in class-index order, and label value → class index (−1: none). */
export interface IdxClassMap {
  readonly classes: readonly string[];
  readonly indexOf: Int16Array;
}

/**
 * The classes of a set from its training labels' counts, checked: at least 2, at most
 * `MAX_CLASSES`; with `names`, every label value must name one of them.
 */
export function idxClassMap(labelCounts: readonly number[], names?: readonly string[]): IdxClassMap {
  const indexOf = new Int16Array(256).fill(-1);
  const present: number[] = [];
  for (let v = 0; v < 256; v++) if ((labelCounts[v] ?? 0) > 0) present.push(v);
  if (present.length < 2) {
    throw new IdxFormatError(
      `labels: one class only: every label is ${present[0] ?? '(none)'}; a classifier needs at least 2 classes`,
    );
  }
  if (names === undefined) {
    if (present.length > MAX_CLASSES) {
      throw new IdxFormatError(`labels: too many classes: ${present.length}; the limit is ${MAX_CLASSES}`);
    }
    for (const [i, v] of present.entries()) indexOf[v] = i;
    return { classes: present.map(String), indexOf };
  }
  const beyond = present.filter((v) => v >= names.length);
  if (beyond.length > 0) {
    throw new IdxFormatError(
      `labels: label value ${beyond[0]} has no class name: the classes option names ${names.length} classes (values 0…${names.length - 1})`,
    );
  }
  for (let v = 0; v < names.length; v++) indexOf[v] = v;
  return { classes: [...names], indexOf };
}

/** Checks an idx set as a whole; returns its classes. Problems are IdxFormatErrors naming them. */
export function checkIdxSet(set: IdxSetSummaries, names?: readonly string[]): IdxClassMap {
  const pair = (images: IdxFileSummary, labels: IdxFileSummary, which: string) => {
    if (images.count !== labels.count) {
      throw new IdxFormatError(
        `${which}: image/label count mismatch: ${images.count} images but ${labels.count} labels`,
      );
    }
  };
  pair(set.images, set.labels, 'images, labels');
  const map = idxClassMap(set.labels.labelCounts ?? [], names);
  if (set.testImages && set.testLabels) {
    pair(set.testImages, set.testLabels, 'test-images, test-labels');
    const { rows, cols } = set.images;
    if (set.testImages.rows !== rows || set.testImages.cols !== cols) {
      throw new IdxFormatError(
        `test-images: images of ${set.testImages.rows}×${set.testImages.cols}, but the training images are ${rows}×${cols}`,
      );
    }
    const counts = set.testLabels.labelCounts ?? [];
    for (let v = 0; v < 256; v++) {
      if ((counts[v] ?? 0) > 0 && map.indexOf[v] < 0) {
        throw new IdxFormatError(
          `test-labels: label value ${v} is not a class of the training labels (${map.classes.join(', ')})`,
        );
      }
    }
  }
  return map;
}

/** A fresh pass over each file of the set (gzipped or plain bytes). */
export interface IdxSources {
  readonly images: () => AsyncIterable<Uint8Array>;
  readonly labels: () => AsyncIterable<Uint8Array>;
  /** A separate test pair: it replaces the held-out split. */
  readonly test?: {
    readonly images: () => AsyncIterable<Uint8Array>;
    readonly labels: () => AsyncIterable<Uint8Array>;
  };
}

export interface IdxDatasetOptions {
  readonly name: string;
  /** The preprocessed size: the network's inputs are width × height. */
  readonly width: number;
  readonly height: number;
  readonly deskew: boolean;
  /** Class names by label value (default: the values present, as text). */
  readonly classes?: readonly string[];
  /** Held-out fraction per class when there is no test pair; default 10 %. */
  readonly testFraction?: number;
  readonly seed: number;
  /** Content hash of the uploaded set (the manifest's `sourceHash`). */
  readonly sourceHash: string;
  readonly rowsPerShard?: number;
  /** Shard pixels held at once (default 32 MiB). */
  readonly memoryBytes?: number;
}

export interface IdxDatasetProgress {
  readonly pass: number;
  readonly passes: number;
}

export type ImageShardSink = (split: 'train' | 'test', index: number, bytes: Uint8Array) => Promise<void>;

const ROWS_PER_SHARD = 1000;
const MEMORY_BYTES = 32 * 1024 * 1024;

async function readLabels(open: () => AsyncIterable<Uint8Array>, what: string): Promise<Uint8Array> {
  const reader = new IdxStreamReader('labels', what);
  const parts: Uint8Array[] = [];
  let total = 0;
  for await (const chunk of idxPlainBytes(open(), what)) {
    const items = reader.push(chunk);
    parts.push(items);
    total += items.length;
  }
  reader.end();
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Every image of a file in order, `onImage(index, pixels)` (pixels: a view, valid during the call). */
async function eachImage(
  open: () => AsyncIterable<Uint8Array>,
  what: string,
  onImage: (index: number, pixels: Uint8Array, rows: number, cols: number) => void,
): Promise<void> {
  const reader = new IdxStreamReader('images', what);
  let index = 0;
  for await (const chunk of idxPlainBytes(open(), what)) {
    const items = reader.push(chunk);
    const header = reader.header;
    if (header === null || items.length === 0) continue;
    for (let at = 0; at < items.length; at += header.itemBytes) {
      onImage(index++, items.subarray(at, at + header.itemBytes), header.rows, header.cols);
    }
  }
  reader.end();
}

/**
 * Builds the dataset: shards go to `writeShard` (train-0…, test-0…), the manifest is returned.
 * File and set problems throw IdxFormatError; a caller deletes whatever `writeShard` stored.
 */
export async function buildIdxDataset(
  sources: IdxSources,
  options: IdxDatasetOptions,
  writeShard: ImageShardSink,
  onProgress: (progress: IdxDatasetProgress) => void | Promise<void> = () => {},
): Promise<DatasetManifest> {
  const { width, height, deskew } = options;
  const features = width * height;
  if (!(Number.isInteger(width) && Number.isInteger(height) && width >= 1 && height >= 1)) {
    throw new IdxFormatError(`image size ${width}×${height}: width and height must be positive integers`);
  }
  if (features > UPLOAD_LIMITS.maxFeatures) {
    throw new IdxFormatError(
      `image size ${width}×${height} is ${features} inputs; the limit is ${formatCount(UPLOAD_LIMITS.maxFeatures)}`,
    );
  }
  const rowsPerShard = options.rowsPerShard ?? ROWS_PER_SHARD;

  // Labels (one byte per image) → classes and the split.
  const trainValues = await readLabels(sources.labels, 'labels');
  const histogram = new Array<number>(256).fill(0);
  for (const v of trainValues) histogram[v]++;
  const map = idxClassMap(histogram, options.classes);
  const toClasses = (values: Uint8Array, what: string) => {
    const out = new Uint8Array(values.length);
    for (let i = 0; i < values.length; i++) {
      const c = map.indexOf[values[i]];
      if (c < 0) throw new IdxFormatError(`${what}: label value ${values[i]} (row ${i + 1}) is not a class`);
      out[i] = c;
    }
    return out;
  };
  const trainLabels = toClasses(trainValues, 'labels');
  const testLabelsFile = sources.test
    ? toClasses(await readLabels(sources.test.labels, 'test-labels'), 'test-labels')
    : null;

  // Rows of the training file going to training (all, with a test pair) and to test.
  let trainRows: Uint32Array;
  let heldOut: Uint32Array;
  if (testLabelsFile) {
    trainRows = Uint32Array.from({ length: trainLabels.length }, (_, i) => i);
    heldOut = new Uint32Array(0);
  } else {
    try {
      const split = stratifiedSplit(trainLabels, {
        seed: options.seed,
        testFraction: options.testFraction ?? DEFAULT_TEST_FRACTION,
      });
      trainRows = split.train;
      heldOut = split.test;
    } catch (e) {
      throw new IdxFormatError(e instanceof Error ? e.message : String(e));
    }
  }
  const order = shardOrder(trainRows, options.seed);
  const trainCount = order.length;
  const testCount = testLabelsFile ? testLabelsFile.length : heldOut.length;
  const trainShards = Math.ceil(trainCount / rowsPerShard);
  const testShards = Math.ceil(testCount / rowsPerShard);
  const totalShards = trainShards + testShards;
  // Each image's place: shard (training shards first, then test) and slot. −1: nowhere.
  const place = (count: number) => ({ shard: new Int32Array(count).fill(-1), slot: new Uint32Array(count) });
  const fromTrainFile = place(trainLabels.length);
  for (let p = 0; p < order.length; p++) {
    fromTrainFile.shard[order[p]] = Math.floor(p / rowsPerShard);
    fromTrainFile.slot[order[p]] = p % rowsPerShard;
  }
  for (let p = 0; p < heldOut.length; p++) {
    fromTrainFile.shard[heldOut[p]] = trainShards + Math.floor(p / rowsPerShard);
    fromTrainFile.slot[heldOut[p]] = p % rowsPerShard;
  }
  const fromTestFile = testLabelsFile ? place(testLabelsFile.length) : null;
  if (fromTestFile) {
    for (let p = 0; p < fromTestFile.shard.length; p++) {
      fromTestFile.shard[p] = trainShards + Math.floor(p / rowsPerShard);
      fromTestFile.slot[p] = p % rowsPerShard;
    }
  }
  const shardRows = (s: number) =>
    s < trainShards
      ? Math.min(rowsPerShard, trainCount - s * rowsPerShard)
      : Math.min(rowsPerShard, testCount - (s - trainShards) * rowsPerShard);

  const shardsPerGroup = Math.max(
    1,
    Math.floor((options.memoryBytes ?? MEMORY_BYTES) / (rowsPerShard * features)),
  );
  const passes = 1 + Math.ceil(totalShards / shardsPerGroup);
  await onProgress({ pass: 1, passes });

  let raw: [number, number] | null = null;
  const unit = new Float32Array(features);
  let pass = 1;
  for (let g0 = 0; g0 < totalShards; g0 += shardsPerGroup) {
    const g1 = Math.min(totalShards, g0 + shardsPerGroup);
    const pixels = Array.from({ length: g1 - g0 }, (_, i) => new Uint8Array(shardRows(g0 + i) * features));
    const labels = Array.from({ length: g1 - g0 }, (_, i) => new Uint8Array(shardRows(g0 + i)));
    const fill =
      (where: { shard: Int32Array; slot: Uint32Array }, classOf: Uint8Array, what: string) =>
      (i: number, image: Uint8Array, rows: number, cols: number) => {
        if (i >= where.shard.length) {
          throw new IdxFormatError(`${what}: more images than labels (${where.shard.length})`);
        }
        if (raw === null) raw = [rows, cols];
        else if (raw[0] !== rows || raw[1] !== cols) {
          throw new IdxFormatError(
            `${what}: images of ${rows}×${cols}, but the training images are ${raw[0]}×${raw[1]}`,
          );
        }
        const s = where.shard[i];
        if (s < g0 || s >= g1) return;
        const at = where.slot[i];
        preprocessGrayImage(image, cols, rows, { width, height, deskew }, unit);
        toShardPixels(unit, pixels[s - g0].subarray(at * features, (at + 1) * features));
        labels[s - g0][at] = classOf[i];
      };
    const needsTrainFile = g0 < trainShards || !fromTestFile;
    if (needsTrainFile) await eachImage(sources.images, 'images', fill(fromTrainFile, trainLabels, 'images'));
    if (fromTestFile && testLabelsFile && sources.test && g1 > trainShards) {
      await eachImage(sources.test.images, 'test-images', fill(fromTestFile, testLabelsFile, 'test-images'));
    }
    for (let s = g0; s < g1; s++) {
      const bytes = encodeShard({
        count: shardRows(s),
        width,
        height,
        pixels: pixels[s - g0],
        labels: labels[s - g0],
      });
      if (s < trainShards) await writeShard('train', s, bytes);
      else await writeShard('test', s - trainShards, bytes);
    }
    await onProgress({ pass: ++pass, passes });
  }
  if (raw === null) throw new IdxFormatError('images: no images');
  const [rawRows, rawCols] = raw as [number, number];

  return datasetManifestSchema.parse({
    name: options.name,
    kind: 'image',
    rawShape: [rawRows, rawCols],
    features,
    classes: [...map.classes],
    splits: { train: trainCount, test: testCount },
    shards: { train: trainShards, test: testShards, rowsPerShard },
    preprocessing: { kind: 'image', width, height, deskew },
    sourceHash: options.sourceHash,
  });
}
