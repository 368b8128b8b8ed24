/**
 * A dataset's samples resource (`GET /api/datasets/:name/samples`, and a run's own under
 * `/api/runs/:id/dataset/samples`): class counts per split and a few training rows.
 *
 * Nothing reads a whole dataset, nor even a whole shard: a shard's labels are read by one ranged
 * R2 read after its 16-byte header, and each sample row by one ranged read of its own bytes. The
 * class counts, one pass over every shard's labels, are computed on the first request and kept in
 * R2 beside the shards (`classCountsKey`), tagged with the ETags of the first training and test
 * shard, so shards rebuilt from other data are counted again.
 */
import { z } from 'zod';
import type { DatasetSamples } from '../../src/api/types';
import type { DatasetManifest } from '../../src/data/dataset';
import { addClassCounts, rawFeatureValues, sampleRows } from '../../src/data/dataset-samples';
import { FEATURE_SHARD_MAGIC, SHARD_HEADER_BYTES, SHARD_MAGIC } from '../../src/data/shard';
import { classCountsKey, testShardKey, trainShardKey } from '../contracts/blob-keys';

/** A shard the manifest names is not in R2 (a built-in loaded in part, an upload mid-delete). */
export class ShardMissingError extends Error {
  override name = 'ShardMissingError';
}

type Split = 'train' | 'test';

const shardKey = (split: Split, index: number, dataset: string) =>
  split === 'train' ? trainShardKey(index, dataset) : testShardKey(index, dataset);

/** What a shard's header says: its rows, and each row's bytes and shape. */
interface ShardLayout {
  readonly count: number;
  readonly rowBytes: number;
  /** [height, width] (WSH1 pixels) or [features] (WSH2 float32). */
  readonly shape: [number, number] | [number];
  readonly kind: 'image' | 'features';
}

async function ranged(bucket: R2Bucket, key: string, offset: number, length: number): Promise<Uint8Array> {
  if (length === 0) return new Uint8Array(0);
  const object = await bucket.get(key, { range: { offset, length } });
  if (object === null) throw new ShardMissingError(`${key} is not in storage`);
  const bytes = new Uint8Array(await object.arrayBuffer());
  if (bytes.length !== length) {
    throw new ShardMissingError(
      `${key} is shorter than its header says (${bytes.length} of ${length} bytes)`,
    );
  }
  return bytes;
}

async function shardLayout(bucket: R2Bucket, key: string): Promise<ShardLayout> {
  const header = await ranged(bucket, key, 0, SHARD_HEADER_BYTES);
  const magic = String.fromCharCode(header[0], header[1], header[2], header[3]);
  const view = new DataView(header.buffer, header.byteOffset, header.byteLength);
  const count = view.getUint32(4, true);
  if (magic === SHARD_MAGIC) {
    const width = view.getUint16(8, true);
    const height = view.getUint16(10, true);
    return { count, rowBytes: width * height, shape: [height, width], kind: 'image' };
  }
  if (magic === FEATURE_SHARD_MAGIC) {
    const features = view.getUint32(8, true);
    return { count, rowBytes: 4 * features, shape: [features], kind: 'features' };
  }
  throw new Error(`${key}: bad shard magic ${JSON.stringify(magic)}`);
}

async function shardLabels(bucket: R2Bucket, key: string, layout: ShardLayout): Promise<Uint8Array> {
  return ranged(bucket, key, SHARD_HEADER_BYTES + layout.count * layout.rowBytes, layout.count);
}

const cachedCountsSchema = z.object({
  source: z.string(),
  train: z.array(z.number().int().nonnegative()),
  test: z.array(z.number().int().nonnegative()),
});

const sum = (values: readonly number[]) => values.reduce((a, b) => a + b, 0);

/**
 * Rows per class in each split of the dataset whose shards lie under `dataset` (a built-in's name,
 * an upload's id), from the cache when it is for these shards and agrees with the manifest.
 */
export async function datasetClassCounts(
  bucket: R2Bucket,
  dataset: string,
  manifest: DatasetManifest,
): Promise<{ train: number[]; test: number[] }> {
  const [train0, test0] = await Promise.all([
    bucket.head(shardKey('train', 0, dataset)),
    bucket.head(shardKey('test', 0, dataset)),
  ]);
  if (train0 === null || test0 === null) {
    throw new ShardMissingError(`the first ${train0 === null ? 'training' : 'test'} shard is not in storage`);
  }
  const source = `${train0.etag}/${test0.etag}`;
  const classes = manifest.classes.length;
  const key = classCountsKey(dataset);
  const cached = await bucket.get(key);
  if (cached !== null) {
    const parsed = cachedCountsSchema.safeParse(await cached.json().catch(() => null));
    if (
      parsed.success &&
      parsed.data.source === source &&
      parsed.data.train.length === classes &&
      parsed.data.test.length === classes &&
      sum(parsed.data.train) === manifest.splits.train &&
      sum(parsed.data.test) === manifest.splits.test
    ) {
      return { train: parsed.data.train, test: parsed.data.test };
    }
  }
  const counts = { train: new Array<number>(classes).fill(0), test: new Array<number>(classes).fill(0) };
  for (const split of ['train', 'test'] as const) {
    // One shard at a time: the labels of one shard are all this holds.
    for (let index = 0; index < manifest.shards[split]; index++) {
      const shard = shardKey(split, index, dataset);
      addClassCounts(await shardLabels(bucket, shard, await shardLayout(bucket, shard)), counts[split]);
    }
  }
  await bucket.put(key, JSON.stringify({ source, ...counts }), {
    httpMetadata: { contentType: 'application/json' },
  });
  return counts;
}

/**
 * The samples resource: class counts per split and up to `limit` rows of the first training shard
 * (a few of every class). Table rows come back as raw feature values; images as the shard keeps
 * them (0–255 pixels after the dataset's preprocessing), said so by `sampleValues`.
 */
export async function datasetSamples(
  bucket: R2Bucket,
  dataset: string,
  manifest: DatasetManifest,
  limit: number,
): Promise<DatasetSamples> {
  const classCounts = await datasetClassCounts(bucket, dataset, manifest);
  const key = shardKey('train', 0, dataset);
  const layout = await shardLayout(bucket, key);
  const labels = await shardLabels(bucket, key, layout);
  const rows = sampleRows(labels, manifest.classes.length, limit);
  const preprocessing = manifest.preprocessing;
  const samples = await Promise.all(
    rows.map(async (row) => {
      const bytes = await ranged(bucket, key, SHARD_HEADER_BYTES + row * layout.rowBytes, layout.rowBytes);
      const label = manifest.classes[labels[row]];
      if (layout.kind === 'image') return { label, values: Array.from(bytes) };
      const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      const standardised = Array.from({ length: layout.rowBytes / 4 }, (_, f) =>
        view.getFloat32(4 * f, true),
      );
      if (preprocessing.kind !== 'tabular') throw new Error(`${key}: a feature shard in an image dataset`);
      return { label, values: rawFeatureValues(standardised, preprocessing) };
    }),
  );
  return {
    name: manifest.name,
    classCounts,
    samples,
    sampleShape: layout.shape,
    sampleValues: layout.kind === 'image' ? 'preprocessed' : 'raw',
  };
}
