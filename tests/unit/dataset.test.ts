/**
 * Datasets (src/data/dataset.ts): the built-in manifests, the `dataset` config field (absent =
 * mnist, so MNIST configs are unchanged), a genome shaped by its dataset through a whole search,
 * shard keys per dataset, and a built-in-shaped dataset's shard build (gzipped idx, no deskew).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { ensureDatasetShards } from '../../node/shards';
import { buildShards, resizeImages } from '../../scripts/build-shards';
import {
  BUILTIN_DATASETS,
  buildCommand,
  builtinDataset,
  type DatasetManifest,
  datasetManifestSchema,
  datasetModelMetadata,
  FASHION_MNIST,
  genomeShape,
  MNIST,
  requireBuiltinDataset,
} from '../../src/data/dataset';
import { preprocessImages, resize28to16 } from '../../src/data/preprocess';
import { decodeShard, shardToBatch } from '../../src/data/shard';
import { stream } from '../../src/random';
import { configDataset, resolveConfig, searchConfigSchema } from '../../src/wann/config';
import { breedingParams, breedMember, MNIST_SHAPE } from '../../src/wann/generation';
import { LocalSearch } from '../../src/wann/local-search';
import { Evaluator } from '../../src/wann/network';
import type { Batch } from '../../src/wann/types';
import { testShardKey, trainShardKey } from '../../workers/contracts/blob-keys';

describe('built-in manifests', () => {
  it.each(BUILTIN_DATASETS.map((d) => [d.name, d] as const))('%s is a valid manifest', (_, d) => {
    expect(datasetManifestSchema.parse(d)).toEqual(d);
  });

  it('mnist is the original pipeline: 28×28 raw, 16×16 deskewed, digits 0–9', () => {
    expect(MNIST).toMatchObject({
      rawShape: [28, 28],
      features: 256,
      classes: ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'],
      splits: { train: 60_000, test: 10_000 },
      shards: { train: 60, test: 10, rowsPerShard: 1000 },
      preprocessing: { kind: 'image', width: 16, height: 16, deskew: true },
    });
    expect(genomeShape(MNIST)).toEqual(MNIST_SHAPE);
  });

  it('fashion-mnist: the same geometry, no deskew, ten named classes', () => {
    expect(FASHION_MNIST.preprocessing).toEqual({ kind: 'image', width: 16, height: 16, deskew: false });
    expect(FASHION_MNIST.classes).toEqual([
      'T-shirt/top',
      'Trouser',
      'Pullover',
      'Dress',
      'Coat',
      'Sandal',
      'Shirt',
      'Sneaker',
      'Bag',
      'Ankle boot',
    ]);
    expect(FASHION_MNIST.splits).toEqual({ train: 60_000, test: 10_000 });
    expect(builtinDataset('fashion-mnist')).toBe(FASHION_MNIST);
  });

  it('refuses a manifest whose features do not match its preprocessing, or of one class', () => {
    expect(datasetManifestSchema.safeParse({ ...MNIST, features: 784 }).success).toBe(false);
    expect(datasetManifestSchema.safeParse({ ...MNIST, classes: ['only'] }).success).toBe(false);
    expect(
      datasetManifestSchema.safeParse({
        ...MNIST,
        kind: 'tabular',
        rawShape: [3],
        features: 3,
        preprocessing: { kind: 'tabular', mean: [0, 0, 0], std: [1, 1, 1] },
      }).success,
    ).toBe(true);
  });

  it('an unknown name is an error listing the built-ins; the build command names the dataset', () => {
    expect(() => requireBuiltinDataset('cifar')).toThrow(/unknown dataset "cifar".*mnist, fashion-mnist/);
    expect(buildCommand('mnist')).toBe('npm run data');
    expect(buildCommand('fashion-mnist')).toBe('npm run data -- --dataset fashion-mnist');
  });

  it("a model's metadata names the dataset, its classes and shapes", () => {
    const { inputDescription, metadata } = datasetModelMetadata('fashion-mnist');
    expect(inputDescription).toBe(
      'image: preprocessed fashion-mnist 16x16 (/255, resize to 16x16, values in [0, 1]).',
    );
    expect(JSON.parse(metadata.classes)).toEqual(FASHION_MNIST.classes);
    expect(JSON.parse(metadata.raw_shape)).toEqual([28, 28]);
    expect(JSON.parse(metadata.preprocessed_shape)).toEqual([16, 16]);
    expect(metadata.dataset).toBe('fashion-mnist');
  });
});

describe('the Node search without the shards of a dataset', () => {
  it('fails naming the command that builds them', async () => {
    const absent = { ...FASHION_MNIST, name: 'not-built-here' };
    await expect(ensureDatasetShards(absent)).rejects.toThrow(
      /dataset not-built-here has no shards in .*data\/datasets\/not-built-here: build them with `npm run data -- --dataset not-built-here`/,
    );
  });
});

describe('config field `dataset`', () => {
  it('defaults to mnist without writing the field: a resolved MNIST config is unchanged', () => {
    const plain = resolveConfig({ population: 8, tournamentSize: 4 }, () => 5);
    expect('dataset' in plain).toBe(false);
    expect(configDataset(plain)).toBe('mnist');
    // Spelling the default out records the same config.
    expect(resolveConfig({ population: 8, tournamentSize: 4, dataset: 'mnist' }, () => 5)).toEqual(plain);
  });

  it('records another dataset by name', () => {
    const c = resolveConfig({ dataset: 'fashion-mnist' }, () => 5);
    expect(c.dataset).toBe('fashion-mnist');
    expect(configDataset(c)).toBe('fashion-mnist');
  });

  it('an old recorded config without the field reads as mnist', () => {
    expect(configDataset({})).toBe('mnist');
  });

  it.each(['', 'Fashion MNIST', '../x', 'a'.repeat(65)])('refuses the name %j', (name) => {
    expect(searchConfigSchema.safeParse({ dataset: name }).success).toBe(false);
  });
});

describe('shard keys', () => {
  it("MNIST's stay where they were; other datasets have their own prefix", () => {
    expect(trainShardKey(7)).toBe('shards/train-07.bin');
    expect(trainShardKey(7, 'mnist')).toBe('shards/train-07.bin');
    expect(testShardKey(3)).toBe('shards/test-3.bin');
    expect(trainShardKey(7, 'fashion-mnist')).toBe('datasets/fashion-mnist/train-07.bin');
    expect(testShardKey(3, 'fashion-mnist')).toBe('datasets/fashion-mnist/test-3.bin');
  });
});

/** A tiny synthetic dataset: `count` rows of `features` values, label = which quarter is brightest. */
function syntheticBatch(features: number, count: number, classes: number, seed: number): Batch {
  const rng = stream(seed, 0, 'synthetic');
  const inputs = new Float32Array(features * count);
  const labels = new Uint8Array(count);
  for (let i = 0; i < count; i++) {
    const label = rng.int(classes);
    labels[i] = label;
    for (let f = 0; f < features; f++) {
      const hot = Math.floor((f * classes) / features) === label;
      inputs[f * count + i] = (hot ? 0.6 : 0) + 0.4 * rng.float();
    }
  }
  return { count, features, inputs, labels };
}

describe('a genome follows its dataset', () => {
  const shape = { inputs: 12, outputs: 3 };

  it('breeding params carry a shape other than MNIST, and only then', () => {
    const config = resolveConfig({ population: 8, tournamentSize: 4 }, () => 1);
    expect(breedingParams(config)).not.toHaveProperty('inputs');
    expect(breedingParams(config, MNIST_SHAPE)).toEqual(breedingParams(config));
    const params = breedingParams(config, shape);
    expect(params).toMatchObject(shape);
    const g = breedMember(params, 0, 0, 0, null);
    expect({ inputs: g.inputs, outputs: g.outputs }).toEqual(shape);
    expect(breedMember(breedingParams(config), 0, 0, 0, null).inputs).toBe(256);
  });

  it('a search on a 12-feature, 3-class dataset breeds and evaluates genomes of that shape', () => {
    const config = resolveConfig(
      {
        population: 16,
        generations: 6,
        tournamentSize: 4,
        trainShards: 2,
        recheckEvery: 2,
        recheckBatches: 2,
      },
      () => 3,
    );
    const shards = [0, 1].map((s) => syntheticBatch(shape.inputs, 200, shape.outputs, s));
    const test = syntheticBatch(shape.inputs, 100, shape.outputs, 9);
    const search = new LocalSearch(config, (s) => shards[s], new Evaluator(), test, shape);
    const records = Array.from({ length: config.generations }, () => search.step());
    // Every generation evaluated (a genome of the wrong shape cannot compile: it would score NaN).
    for (const r of records) expect(Number.isFinite(r.fitnessMax)).toBe(true);
    const champion = search.championMember();
    expect(champion).not.toBeNull();
    expect({ inputs: champion?.inputs, outputs: champion?.outputs }).toEqual(shape);
    expect(search.champion?.accuracy).toHaveLength(config.weights.length);
  });
});

describe('building a built-in-shaped dataset from gzipped idx files', () => {
  const dir = mkdtempSync(join(tmpdir(), 'wann-dataset-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** Three classes, 2,000 training and 1,000 test images of 28×28: two training shards, one test. */
  const tiny: DatasetManifest = {
    ...FASHION_MNIST,
    name: 'tiny-fashion',
    classes: ['a', 'b', 'c'],
    splits: { train: 2000, test: 1000 },
    shards: { train: 2, test: 1, rowsPerShard: 1000 },
  };

  const gz = (bytes: Uint8Array) => new Uint8Array(gzipSync(bytes));

  function idx(magic: number, dims: number[], body: Uint8Array): Uint8Array {
    const header = new Uint8Array(4 + 4 * dims.length);
    const view = new DataView(header.buffer);
    view.setUint32(0, magic);
    for (const [i, d] of dims.entries()) view.setUint32(4 + 4 * i, d);
    const out = new Uint8Array(header.length + body.length);
    out.set(header);
    out.set(body, header.length);
    return out;
  }

  function writeSplit(prefix: string, count: number, seed: number) {
    const rng = stream(seed, 0, 'tiny');
    const pixels = new Uint8Array(count * 784);
    for (let i = 0; i < pixels.length; i++) pixels[i] = rng.int(256);
    const labels = new Uint8Array(count);
    for (let i = 0; i < count; i++) labels[i] = rng.int(3);
    writeFileSync(join(dir, `${prefix}-images-idx3-ubyte.gz`), gz(idx(0x803, [count, 28, 28], pixels)));
    writeFileSync(join(dir, `${prefix}-labels-idx1-ubyte.gz`), gz(idx(0x801, [count], labels)));
    return { pixels, labels };
  }

  it('writes its shards resized without deskew, labels checked against its classes', async () => {
    writeSplit('train', 2000, 1);
    const test = writeSplit('t10k', 1000, 2);
    const out = join(dir, 'out');
    const { manifest, skipped } = await buildShards(out, { dataset: tiny, sourceDir: dir, log: () => {} });
    expect(skipped).toBe(false);
    expect([manifest.train, manifest.test, manifest.width, manifest.height]).toEqual([2, 1, 16, 16]);
    expect(manifest.source).toMatch(/no deskew/);

    const shard = decodeShard(new Uint8Array(readFileSync(join(out, 'test-0.bin'))));
    expect(Array.from(shard.labels)).toEqual(Array.from(test.labels));
    const resized = resizeImages(test.pixels, 1000);
    const first = resize28to16(test.pixels.subarray(0, 784));
    expect(Array.from(resized.subarray(0, 256))).toEqual(Array.from(first));
    // Stored as ×255 rounded: the resize, not the deskewed preprocessing.
    const batch = shardToBatch(shard, 0, 1);
    for (let p = 0; p < 256; p++)
      expect(Math.abs(batch.inputs[p] - first[p])).toBeLessThanOrEqual(0.5 / 255 + 1e-6);
    const deskewed = preprocessImages(test.pixels.subarray(0, 784), 1);
    expect(Array.from(deskewed)).not.toEqual(Array.from(first));

    // A second build keeps the complete set.
    expect((await buildShards(out, { dataset: tiny, sourceDir: dir, log: () => {} })).skipped).toBe(true);
  });

  it('a label beyond the classes, or a missing file, is an error naming the problem', async () => {
    const bad = mkdtempSync(join(tmpdir(), 'wann-dataset-bad-'));
    try {
      await expect(
        buildShards(join(bad, 'out'), { dataset: tiny, sourceDir: bad, log: () => {} }),
      ).rejects.toThrow(/train-images-idx3-ubyte\(\.gz\) is not in/);
      const labels = new Uint8Array(2000).fill(5);
      writeFileSync(
        join(bad, 'train-images-idx3-ubyte.gz'),
        gz(idx(0x803, [2000, 28, 28], new Uint8Array(2000 * 784))),
      );
      writeFileSync(join(bad, 'train-labels-idx1-ubyte.gz'), gz(idx(0x801, [2000], labels)));
      writeFileSync(
        join(bad, 't10k-images-idx3-ubyte.gz'),
        gz(idx(0x803, [1000, 28, 28], new Uint8Array(1000 * 784))),
      );
      writeFileSync(join(bad, 't10k-labels-idx1-ubyte.gz'), gz(idx(0x801, [1000], new Uint8Array(1000))));
      await expect(
        buildShards(join(bad, 'out'), { dataset: tiny, sourceDir: bad, log: () => {} }),
      ).rejects.toThrow(/training set: labels must be 0–2/);
    } finally {
      rmSync(bad, { recursive: true, force: true });
    }
  });
});
