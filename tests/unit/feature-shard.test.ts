import { describe, expect, it } from 'vitest';
import {
  concatAnyShards,
  concatFeatureShards,
  decodeAnyShard,
  decodeShard,
  encodeFeatureShard,
  encodeShard,
  FEATURE_SHARD_MAGIC,
  type FeatureShard,
  isFeatureShard,
  type Shard,
  ShardFormatError,
  shardFeatures,
  shardsToBatch,
  shardToBatch,
} from '../../src/data/shard';

function featureShard(count: number, features: number, offset = 0): FeatureShard {
  const values = Float32Array.from({ length: count * features }, (_, i) =>
    Math.fround((i - 7) * 0.37 + offset),
  );
  const labels = Uint8Array.from({ length: count }, (_, i) => (i * 5 + offset) % 7);
  return { count, features, values, labels };
}

const imageShard = (): Shard => ({
  count: 2,
  width: 2,
  height: 1,
  pixels: new Uint8Array([0, 255, 51, 102]),
  labels: new Uint8Array([1, 0]),
});

describe('WSH2 feature shards', () => {
  it('round-trips through encode / decodeAnyShard, values as float32 little-endian', () => {
    const shard = featureShard(5, 3);
    const bytes = encodeFeatureShard(shard);
    expect(String.fromCharCode(...bytes.subarray(0, 4))).toBe(FEATURE_SHARD_MAGIC);
    const view = new DataView(bytes.buffer);
    expect([view.getUint32(4, true), view.getUint32(8, true), view.getUint32(12, true)]).toEqual([5, 3, 0]);
    expect(bytes.length).toBe(16 + 5 * 3 * 4 + 5);
    expect(view.getFloat32(16 + 4 * 4, true)).toBe(shard.values[4]);
    expect(Array.from(bytes.subarray(16 + 60))).toEqual(Array.from(shard.labels));

    const decoded = decodeAnyShard(bytes);
    expect(isFeatureShard(decoded)).toBe(true);
    expect(decoded).toEqual(shard);
    expect(decodeAnyShard(bytes.slice().buffer)).toEqual(shard);
    expect(shardFeatures(decoded)).toBe(3);
  });

  it('decodes from an unaligned offset (a copy) as well as an aligned one (a view)', () => {
    const bytes = encodeFeatureShard(featureShard(4, 2));
    const aligned = decodeAnyShard(bytes) as FeatureShard;
    expect(aligned.values.buffer).toBe(bytes.buffer);
    const padded = new Uint8Array(bytes.length + 1);
    padded.set(bytes, 1);
    const unaligned = decodeAnyShard(padded.subarray(1)) as FeatureShard;
    expect(unaligned.values.buffer).not.toBe(padded.buffer);
    expect(unaligned).toEqual(aligned);
  });

  it('leaves WSH1 alone: decodeAnyShard reads it as decodeShard does, and decodeShard refuses WSH2', () => {
    const image = imageShard();
    const bytes = encodeShard(image);
    expect(decodeAnyShard(bytes)).toEqual(decodeShard(bytes));
    expect(isFeatureShard(decodeAnyShard(bytes))).toBe(false);
    expect(shardFeatures(image)).toBe(2);
    const wsh2 = encodeFeatureShard(featureShard(1, 1));
    expect(() => decodeShard(wsh2)).toThrow(ShardFormatError);
    expect(() => decodeShard(wsh2)).toThrow(
      /bad magic "WSH2", expected "WSH1" \(this is a feature shard: decodeAnyShard/,
    );
  });

  it('shardToBatch lays stored values out input-major, as they are (not / 255)', () => {
    const shard = featureShard(4, 3);
    const batch = shardToBatch(shard, 1, 2);
    expect(batch.count).toBe(2);
    expect(batch.features).toBe(3);
    for (let p = 0; p < 3; p++) {
      for (let i = 0; i < 2; i++) expect(batch.inputs[p * 2 + i]).toBe(shard.values[(1 + i) * 3 + p]);
    }
    expect(Array.from(batch.labels)).toEqual(Array.from(shard.labels.subarray(1, 3)));
    expect(() => shardToBatch(shard, 3, 2)).toThrow(/outside the shard's 4 images/);
  });

  it('shardsToBatch joins feature shards in order and refuses mixed shapes', () => {
    const a = featureShard(3, 2, 0);
    const b = featureShard(2, 2, 1);
    const joined: FeatureShard = {
      count: 5,
      features: 2,
      values: Float32Array.from([...a.values, ...b.values]),
      labels: Uint8Array.from([...a.labels, ...b.labels]),
    };
    expect(shardsToBatch([a, b])).toEqual(shardToBatch(joined));
    expect(() => shardsToBatch([a, featureShard(1, 3)])).toThrow(/mixed shapes 2 features and 3 features/);
    expect(() => shardsToBatch([a, imageShard()])).toThrow(/mixed shapes 2 features and 2×1/);
  });

  it.each([
    ['a bad reserved field', (b: Uint8Array) => b.set([1], 12), /reserved header bytes 12–15 must be zero/],
    ['0 features', (b: Uint8Array) => b.set([0, 0, 0, 0], 8), /a feature shard with 0 features/],
    [
      'a truncated body',
      (b: Uint8Array) => b.subarray(0, b.length - 1),
      /truncated: header says 3 rows of 2 features, so 43 bytes are expected, got 42/,
    ],
    ['trailing bytes', (b: Uint8Array) => Uint8Array.from([...b, 0]), /trailing bytes: .* got 44/],
  ])('decodeAnyShard rejects %s', (_, corrupt, message) => {
    const bytes = encodeFeatureShard(featureShard(3, 2));
    const bad = corrupt(bytes) ?? bytes;
    expect(() => decodeAnyShard(bad)).toThrow(ShardFormatError);
    expect(() => decodeAnyShard(bad)).toThrow(message);
  });

  it('encodeFeatureShard refuses non-finite values and wrong shapes', () => {
    const shard = featureShard(2, 2);
    expect(() => encodeFeatureShard({ ...shard, values: Float32Array.from([0, 1, Number.NaN, 2]) })).toThrow(
      /value NaN of row 1 is not finite/,
    );
    expect(() => encodeFeatureShard({ ...shard, features: 3 })).toThrow(
      /values has 4 entries, expected count·features = 6/,
    );
    expect(() => encodeFeatureShard({ ...shard, labels: new Uint8Array(3) })).toThrow(
      /labels has 3 values, expected 2/,
    );
    expect(() => encodeFeatureShard({ ...shard, features: 0, values: new Float32Array(0) })).toThrow(
      /features must be a positive integer/,
    );
  });
});

describe('concatenating shards (training reads its shards as one)', () => {
  it('joins feature shards in order, refuses mixed widths and formats', () => {
    const a = {
      count: 2,
      features: 3,
      values: Float32Array.from([1, 2, 3, 4, 5, 6]),
      labels: Uint8Array.from([0, 1]),
    };
    const b = { count: 1, features: 3, values: Float32Array.from([7, 8, 9]), labels: Uint8Array.from([2]) };
    const joined = concatAnyShards([a, b]);
    expect(joined).toEqual({
      count: 3,
      features: 3,
      values: Float32Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9]),
      labels: Uint8Array.from([0, 1, 2]),
    });
    expect(concatFeatureShards([a])).toEqual(a);
    expect(() => concatFeatureShards([a, { ...b, features: 1, values: Float32Array.from([7]) }])).toThrow(
      /mixed feature counts 3 and 1/,
    );
    const image = {
      count: 1,
      width: 1,
      height: 3,
      pixels: Uint8Array.from([1, 2, 3]),
      labels: Uint8Array.from([0]),
    };
    expect(concatAnyShards([image, image]).count).toBe(2);
    expect(() => concatAnyShards([a, image])).toThrow(/mixed shard formats/);
  });
});
