/**
 * Building an image dataset from idx files in passes: every image lands once, preprocessed at W×H
 * as `preprocessGrayImage` does it; the held-out split is stratified and seeded, a separate test
 * pair replaces it; a build in several groups of shards writes the same shards as one in one
 * group; and set problems (counts, classes, sizes) fail with the problem named.
 */
import { describe, expect, it } from 'vitest';
import { IdxFormatError } from '../../src/data/idx';
import { buildIdxDataset, checkIdxSet, type IdxSources, summariseIdxFile } from '../../src/data/idx-dataset';
import { preprocessGrayImage } from '../../src/data/image';
import { decodeShard, type Shard, toShardPixels } from '../../src/data/shard';

const ROWS = 9;
const COLS = 7;

function idx(dims: number[], body: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + 4 * dims.length + body.length);
  out.set([0, 0, 8, dims.length]);
  const view = new DataView(out.buffer);
  for (const [i, d] of dims.entries()) view.setUint32(4 + 4 * i, d, false);
  out.set(body, 4 + 4 * dims.length);
  return out;
}

function images(count: number, salt = 0): { pixels: Uint8Array; labels: Uint8Array } {
  const pixels = new Uint8Array(count * ROWS * COLS);
  for (let i = 0; i < pixels.length; i++) pixels[i] = (i * 37 + salt * 11) % 256;
  const labels = Uint8Array.from({ length: count }, (_, i) => [3, 5, 8][(i + salt) % 3]);
  return { pixels, labels };
}

/** Bytes in chunks of 29, a fresh pass each call. */
function chunks(bytes: Uint8Array): () => AsyncIterable<Uint8Array> {
  return async function* () {
    for (let i = 0; i < bytes.length; i += 29) yield bytes.slice(i, i + 29);
  };
}

async function build(sources: IdxSources, memoryBytes?: number) {
  const shards = new Map<string, Shard>();
  const manifest = await buildIdxDataset(
    sources,
    {
      name: 'toy',
      width: 5,
      height: 4,
      deskew: true,
      seed: 2,
      sourceHash: 'sha256:x',
      rowsPerShard: 20,
      memoryBytes,
    },
    async (split, index, bytes) => {
      shards.set(`${split}-${index}`, decodeShard(bytes));
    },
  );
  return { manifest, shards };
}

/** Every (pixels, label) of the shards, as text, for comparing as sets. */
function rowsOf(shards: Map<string, Shard>, split: string): string[] {
  const out: string[] = [];
  for (const [key, s] of shards) {
    if (!key.startsWith(split)) continue;
    for (let i = 0; i < s.count; i++)
      out.push(`${s.pixels.subarray(i * 20, (i + 1) * 20).join(',')}|${s.labels[i]}`);
  }
  return out.sort();
}

function expected(pixels: Uint8Array, labels: Uint8Array): string[] {
  const one = new Float32Array(20);
  const classOf: Record<number, number> = { 3: 0, 5: 1, 8: 2 };
  return Array.from(labels, (l, i) => {
    preprocessGrayImage(
      pixels.subarray(i * ROWS * COLS, (i + 1) * ROWS * COLS),
      COLS,
      ROWS,
      { width: 5, height: 4, deskew: true },
      one,
    );
    return `${Array.from(toShardPixels(one)).join(',')}|${classOf[l]}`;
  }).sort();
}

describe('buildIdxDataset', () => {
  it('holds out a stratified split and writes every image once, preprocessed at W×H', async () => {
    const { pixels, labels } = images(90);
    const sources = { images: chunks(idx([90, ROWS, COLS], pixels)), labels: chunks(idx([90], labels)) };
    const { manifest, shards } = await build(sources);
    expect(manifest).toMatchObject({
      kind: 'image',
      rawShape: [ROWS, COLS],
      features: 20,
      classes: ['3', '5', '8'],
      splits: { train: 81, test: 9 },
      shards: { train: 5, test: 1, rowsPerShard: 20 },
      preprocessing: { kind: 'image', width: 5, height: 4, deskew: true },
    });
    expect([...rowsOf(shards, 'train'), ...rowsOf(shards, 'test')].sort()).toEqual(expected(pixels, labels));
    // Three per class held out.
    expect(shards.get('test-0')?.labels.reduce((n, l) => n + (l === 0 ? 1 : 0), 0)).toBe(3);
    // Built a shard at a time: the same shards.
    const grouped = await build(sources, 20 * 20);
    expect([...grouped.shards.keys()].sort()).toEqual([...shards.keys()].sort());
    for (const [key, s] of shards) expect(grouped.shards.get(key)).toEqual(s);
  });

  it('a separate test pair is the test split, in its file order', async () => {
    const train = images(60);
    const test = images(25, 1);
    const { manifest, shards } = await build(
      {
        images: chunks(idx([60, ROWS, COLS], train.pixels)),
        labels: chunks(idx([60], train.labels)),
        test: { images: chunks(idx([25, ROWS, COLS], test.pixels)), labels: chunks(idx([25], test.labels)) },
      },
      20 * 20,
    );
    expect(manifest.splits).toEqual({ train: 60, test: 25 });
    expect(manifest.shards).toMatchObject({ train: 3, test: 2 });
    expect(rowsOf(shards, 'train')).toEqual(expected(train.pixels, train.labels));
    expect(rowsOf(shards, 'test')).toEqual(expected(test.pixels, test.labels));
    expect(shards.get('test-0')?.labels[0]).toBe(1); // test image 0 has label 5: class 1
  });

  it('checks a set from its summaries: counts, classes, test sizes', async () => {
    const { pixels, labels } = images(30);
    const summary = async (bytes: Uint8Array, kind: 'images' | 'labels') =>
      summariseIdxFile(chunks(bytes)(), kind, kind);
    const imgs = await summary(idx([30, ROWS, COLS], pixels), 'images');
    const labs = await summary(idx([30], labels), 'labels');
    expect(checkIdxSet({ images: imgs, labels: labs }).classes).toEqual(['3', '5', '8']);
    expect(
      checkIdxSet(
        { images: imgs, labels: labs },
        Array.from({ length: 9 }, (_, i) => `c${i}`),
      ).classes,
    ).toHaveLength(9);
    const fewer = await summary(idx([29], labels.subarray(0, 29)), 'labels');
    expect(() => checkIdxSet({ images: imgs, labels: fewer })).toThrow(
      /count mismatch: 30 images but 29 labels/,
    );
    expect(() => checkIdxSet({ images: imgs, labels: labs }, ['a', 'b'])).toThrow(
      /label value 3 has no class name/,
    );
    const one = await summary(idx([30], new Uint8Array(30).fill(4)), 'labels');
    expect(() => checkIdxSet({ images: imgs, labels: one })).toThrow(IdxFormatError);
    const big = summary(idx([5000, 512, 512], new Uint8Array(0)), 'images');
    await expect(big).rejects.toThrow(/1 GiB/);
  });
});
