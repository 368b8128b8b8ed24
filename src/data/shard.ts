/**
 * MNIST shards: the unit an evaluator downloads (DESIGN.md, "Wire formats").
 *
 *   bytes 0–3   ASCII "WSH1"
 *   bytes 4–7   uint32 LE image count
 *   bytes 8–9   uint16 LE width   (16)
 *   bytes 10–11 uint16 LE height  (16)
 *   bytes 12–15 zero (reserved)
 *   then count × width·height uint8 pixels (preprocessed value × 255, rounded), image-major,
 *   then count uint8 labels.
 *
 * uint8 keeps a 1,000-image shard at 257 KB; the rounding is below the preprocessing's own
 * precision that matters (one grey level). Any image dataset (MNIST, Fashion-MNIST, uploaded idx
 * images at any preprocessed W×H) uses this format.
 *
 * Feature shards (tabular datasets: standardised values, not in [0, 1]):
 *
 *   bytes 0–3   ASCII "WSH2"
 *   bytes 4–7   uint32 LE row count
 *   bytes 8–11  uint32 LE feature count (1 … 4,096 in practice; any uint32 ≥ 1 decodes)
 *   bytes 12–15 zero (reserved)
 *   then count × features float32 LE values (preprocessed: standardised), row-major,
 *   then count uint8 labels (class indices).
 *
 * `decodeAnyShard` reads either; `shardToBatch` and `shardsToBatch` take either.
 */

import type { Rng } from '../random';
import type { Batch } from '../wann/types';

export interface Shard {
  readonly count: number;
  readonly width: number;
  readonly height: number;
  /** count × width·height, image-major, row-major inside an image, 0–255. */
  readonly pixels: Uint8Array;
  readonly labels: Uint8Array;
}

/** A WSH2 shard: `count` rows of `features` float32 values each, and their labels. */
export interface FeatureShard {
  readonly count: number;
  readonly features: number;
  /** count × features, row-major (the preprocessed values the network reads as they are). */
  readonly values: Float32Array;
  readonly labels: Uint8Array;
}

/** Either shard format, as `decodeAnyShard` returns it. */
export type AnyShard = Shard | FeatureShard;

/** Whether a decoded shard is a WSH2 feature shard (else a WSH1 image shard). */
export function isFeatureShard(shard: AnyShard): shard is FeatureShard {
  return 'values' in shard;
}

/** Inputs per example of either shard format. */
export function shardFeatures(shard: AnyShard): number {
  return isFeatureShard(shard) ? shard.features : shard.width * shard.height;
}

export class ShardFormatError extends Error {
  override name = 'ShardFormatError';
}

export const SHARD_MAGIC = 'WSH1';
export const SHARD_HEADER_BYTES = 16;
export const FEATURE_SHARD_MAGIC = 'WSH2';

/** `data/shards/manifest.json`, written by scripts/build-shards.ts. */
export const SHARD_MANIFEST_FORMAT = 'wann-shards/1';
export interface ShardFile {
  readonly name: string;
  readonly split: 'train' | 'test';
  readonly index: number;
  readonly count: number;
  readonly bytes: number;
  readonly sha256: string;
}
export interface ShardManifest {
  readonly format: typeof SHARD_MANIFEST_FORMAT;
  readonly train: number;
  readonly test: number;
  readonly imagesPerShard: number;
  readonly width: number;
  readonly height: number;
  /** Seed of the one-time training-set permutation: stream(seed, 0, 'shard-permutation'). */
  readonly seed: number;
  /** Where the images came from and how they were preprocessed (informational). */
  readonly source?: string;
  readonly files: readonly ShardFile[];
}

/** File names: train-00 … train-59 (two digits) and test-0 … test-9. */
export function shardFileName(split: 'train' | 'test', index: number): string {
  return split === 'train' ? `train-${String(index).padStart(2, '0')}.bin` : `test-${index}.bin`;
}

/** Preprocessed value in [0, 1] → stored byte: ×255, rounded, clamped (NaN → 0). */
export function toShardPixel(value: number): number {
  const v = Math.round(value * 255);
  return v > 0 ? Math.min(v, 255) : 0; // NaN fails v > 0
}

/** Quantises preprocessed values (e.g. preprocessImages output) into shard pixels. */
export function toShardPixels(values: ArrayLike<number>, out = new Uint8Array(values.length)): Uint8Array {
  if (out.length < values.length) throw new RangeError('toShardPixels: output too small');
  for (let i = 0; i < values.length; i++) out[i] = toShardPixel(values[i]);
  return out;
}

function checkShape(s: Shard, where: string, Err: new (message: string) => Error): void {
  const { count, width, height } = s;
  if (!Number.isInteger(count) || count < 0 || count > 0xffffffff) {
    throw new Err(`${where}: count must be an integer in [0, 2^32), got ${count}`);
  }
  for (const [name, v] of [
    ['width', width],
    ['height', height],
  ] as const) {
    if (!Number.isInteger(v) || v < 1 || v > 0xffff) {
      throw new Err(`${where}: ${name} must be an integer in [1, 65535], got ${v}`);
    }
  }
  if (s.pixels.length !== count * width * height) {
    throw new Err(
      `${where}: pixels has ${s.pixels.length} values, expected count·width·height = ${count * width * height}`,
    );
  }
  if (s.labels.length !== count) {
    throw new Err(`${where}: labels has ${s.labels.length} values, expected ${count}`);
  }
}

/** Serialises a shard. */
export function encodeShard(shard: Shard): Uint8Array {
  checkShape(shard, 'encodeShard', RangeError);
  const { count, width, height, pixels, labels } = shard;
  const bytes = new Uint8Array(SHARD_HEADER_BYTES + pixels.length + count);
  for (let i = 0; i < 4; i++) bytes[i] = SHARD_MAGIC.charCodeAt(i);
  const view = new DataView(bytes.buffer);
  view.setUint32(4, count, true);
  view.setUint16(8, width, true);
  view.setUint16(10, height, true);
  bytes.set(pixels, SHARD_HEADER_BYTES);
  bytes.set(labels, SHARD_HEADER_BYTES + pixels.length);
  return bytes;
}

/** Parses a shard. Pixels and labels are views into `input` (no copy). */
export function decodeShard(input: Uint8Array | ArrayBuffer): Shard {
  const bytes = input instanceof Uint8Array ? input : new Uint8Array(input);
  if (bytes.length < SHARD_HEADER_BYTES) {
    throw new ShardFormatError(
      `shard: ${bytes.length} bytes is shorter than the ${SHARD_HEADER_BYTES}-byte header`,
    );
  }
  const magic = String.fromCharCode(bytes[0], bytes[1], bytes[2], bytes[3]);
  if (magic !== SHARD_MAGIC) {
    throw new ShardFormatError(
      `shard: bad magic ${JSON.stringify(magic)}, expected "${SHARD_MAGIC}"` +
        (magic === FEATURE_SHARD_MAGIC
          ? ' (this is a feature shard: decodeAnyShard reads both formats)'
          : ''),
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const count = view.getUint32(4, true);
  const width = view.getUint16(8, true);
  const height = view.getUint16(10, true);
  if (view.getUint32(12, true) !== 0) {
    throw new ShardFormatError('shard: reserved header bytes 12–15 must be zero (unknown shard version?)');
  }
  if (width === 0 || height === 0) {
    throw new ShardFormatError(`shard: image size ${width}×${height} is empty`);
  }
  const pixelBytes = count * width * height;
  const expected = SHARD_HEADER_BYTES + pixelBytes + count;
  if (bytes.length !== expected) {
    throw new ShardFormatError(
      `shard: ${bytes.length < expected ? 'truncated' : 'trailing bytes'}: header says ${count} images ` +
        `of ${width}×${height}, so ${expected} bytes are expected, got ${bytes.length}`,
    );
  }
  const pixels = bytes.subarray(SHARD_HEADER_BYTES, SHARD_HEADER_BYTES + pixelBytes);
  const labels = bytes.subarray(SHARD_HEADER_BYTES + pixelBytes, expected);
  return { count, width, height, pixels, labels };
}

/** Serialises a WSH2 feature shard; every value must be finite. */
export function encodeFeatureShard(shard: FeatureShard): Uint8Array {
  const { count, features, values, labels } = shard;
  if (!Number.isInteger(count) || count < 0 || count > 0xffffffff) {
    throw new RangeError(`encodeFeatureShard: count must be an integer in [0, 2^32), got ${count}`);
  }
  if (!Number.isInteger(features) || features < 1 || features > 0xffffffff) {
    throw new RangeError(`encodeFeatureShard: features must be a positive integer, got ${features}`);
  }
  if (values.length !== count * features) {
    throw new RangeError(
      `encodeFeatureShard: values has ${values.length} entries, expected count·features = ${count * features}`,
    );
  }
  if (labels.length !== count) {
    throw new RangeError(`encodeFeatureShard: labels has ${labels.length} values, expected ${count}`);
  }
  for (let i = 0; i < values.length; i++) {
    if (!Number.isFinite(values[i])) {
      throw new RangeError(
        `encodeFeatureShard: value ${values[i]} of row ${Math.floor(i / features)} is not finite`,
      );
    }
  }
  const valueBytes = 4 * values.length;
  const bytes = new Uint8Array(SHARD_HEADER_BYTES + valueBytes + count);
  for (let i = 0; i < 4; i++) bytes[i] = FEATURE_SHARD_MAGIC.charCodeAt(i);
  const view = new DataView(bytes.buffer);
  view.setUint32(4, count, true);
  view.setUint32(8, features, true);
  if (LITTLE_ENDIAN) {
    bytes.set(new Uint8Array(values.buffer, values.byteOffset, valueBytes), SHARD_HEADER_BYTES);
  } else {
    for (let i = 0; i < values.length; i++) view.setFloat32(SHARD_HEADER_BYTES + 4 * i, values[i], true);
  }
  bytes.set(labels, SHARD_HEADER_BYTES + valueBytes);
  return bytes;
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function decodeFeatureShard(bytes: Uint8Array): FeatureShard {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const count = view.getUint32(4, true);
  const features = view.getUint32(8, true);
  if (view.getUint32(12, true) !== 0) {
    throw new ShardFormatError('shard: reserved header bytes 12–15 must be zero (unknown shard version?)');
  }
  if (features === 0) throw new ShardFormatError('shard: a feature shard with 0 features');
  const valueBytes = 4 * count * features;
  const expected = SHARD_HEADER_BYTES + valueBytes + count;
  if (bytes.length !== expected) {
    throw new ShardFormatError(
      `shard: ${bytes.length < expected ? 'truncated' : 'trailing bytes'}: header says ${count} rows ` +
        `of ${features} features, so ${expected} bytes are expected, got ${bytes.length}`,
    );
  }
  const start = bytes.byteOffset + SHARD_HEADER_BYTES;
  let values: Float32Array;
  if (LITTLE_ENDIAN && start % 4 === 0) {
    values = new Float32Array(bytes.buffer, start, count * features); // a view, as WSH1 pixels are
  } else {
    values = new Float32Array(count * features);
    for (let i = 0; i < values.length; i++) values[i] = view.getFloat32(SHARD_HEADER_BYTES + 4 * i, true);
  }
  const labels = bytes.subarray(SHARD_HEADER_BYTES + valueBytes, expected);
  return { count, features, values, labels };
}

/**
 * Parses a shard of either format by its magic: WSH1 as `decodeShard` does, WSH2 into a
 * `FeatureShard` whose values are a view into `input` when it is 4-byte aligned (else a copy).
 */
export function decodeAnyShard(input: Uint8Array | ArrayBuffer): AnyShard {
  const bytes = input instanceof Uint8Array ? input : new Uint8Array(input);
  if (bytes.length >= SHARD_HEADER_BYTES) {
    const magic = String.fromCharCode(bytes[0], bytes[1], bytes[2], bytes[3]);
    if (magic === FEATURE_SHARD_MAGIC) return decodeFeatureShard(bytes);
  }
  return decodeShard(bytes);
}

// Stored byte → network input, p / 255 in float32.
const BYTE_TO_INPUT = new Float32Array(256);
for (let v = 0; v < 256; v++) BYTE_TO_INPUT[v] = v / 255;

/**
 * Writes images [start, start + count) of `shard` into `inputs` (input-major, `stride` examples per
 * input row) from column `column` on, and their labels into `labels` from `column` on.
 */
function transposeInto(
  shard: AnyShard,
  start: number,
  count: number,
  inputs: Float32Array,
  labels: Uint8Array,
  stride: number,
  column: number,
): void {
  if (isFeatureShard(shard)) {
    const { features, values } = shard;
    for (let i = 0; i < count; i++) {
      const src = (start + i) * features;
      let dst = column + i;
      for (let p = 0; p < features; p++, dst += stride) inputs[dst] = values[src + p];
    }
    labels.set(shard.labels.subarray(start, start + count), column);
    return;
  }
  const features = shard.width * shard.height;
  const { pixels } = shard;
  // Image-outer order reads each image's 256 bytes contiguously; writes stride through rows of the
  // output, which stay cache-resident for batches of this size.
  for (let i = 0; i < count; i++) {
    const src = (start + i) * features;
    let dst = column + i;
    for (let p = 0; p < features; p++, dst += stride) inputs[dst] = BYTE_TO_INPUT[pixels[src + p]];
  }
  labels.set(shard.labels.subarray(start, start + count), column);
}

/**
 * Examples [start, start + count) of a shard as a Batch: input-major Float32Array, value of input p
 * for example i at inputs[p · count + i] = pixel / 255 (WSH1) or the stored value (WSH2).
 */
export function shardToBatch(shard: AnyShard, start = 0, count = shard.count - start): Batch {
  if (!Number.isInteger(start) || !Number.isInteger(count) || start < 0 || count < 0) {
    throw new RangeError(`shardToBatch: bad range start=${start} count=${count}`);
  }
  if (start + count > shard.count) {
    throw new RangeError(
      `shardToBatch: images [${start}, ${start + count}) are outside the shard's ${shard.count} images`,
    );
  }
  const features = shardFeatures(shard);
  const inputs = new Float32Array(features * count);
  const labels = new Uint8Array(count);
  transposeInto(shard, start, count, inputs, labels, count, 0);
  return { count, features, inputs, labels };
}

/** One Batch holding every example of several shards of one format and size, in order. */
export function shardsToBatch(shards: readonly AnyShard[]): Batch {
  if (shards.length === 0) throw new RangeError('shardsToBatch: no shards');
  const shape = (s: AnyShard) => (isFeatureShard(s) ? `${s.features} features` : `${s.width}×${s.height}`);
  const first = shape(shards[0]);
  let count = 0;
  for (const s of shards) {
    const other = shape(s);
    if (other !== first) {
      const images = !isFeatureShard(s) && !isFeatureShard(shards[0]);
      throw new RangeError(`shardsToBatch: mixed ${images ? 'image sizes' : 'shapes'} ${first} and ${other}`);
    }
    count += s.count;
  }
  const features = shardFeatures(shards[0]);
  const inputs = new Float32Array(features * count);
  const labels = new Uint8Array(count);
  let column = 0;
  for (const s of shards) {
    transposeInto(s, 0, s.count, inputs, labels, count, column);
    column += s.count;
  }
  return { count, features, inputs, labels };
}

/** Concatenates shards of one image size into a single shard (copies). */
export function concatShards(shards: readonly Shard[]): Shard {
  if (shards.length === 0) throw new RangeError('concatShards: no shards');
  const { width, height } = shards[0];
  let count = 0;
  for (const s of shards) {
    if (s.width !== width || s.height !== height) {
      throw new RangeError(`concatShards: mixed image sizes ${width}×${height} and ${s.width}×${s.height}`);
    }
    count += s.count;
  }
  const features = width * height;
  const pixels = new Uint8Array(count * features);
  const labels = new Uint8Array(count);
  let at = 0;
  for (const s of shards) {
    pixels.set(s.pixels, at * features);
    labels.set(s.labels, at);
    at += s.count;
  }
  return { count, width, height, pixels, labels };
}

/**
 * `count` distinct images of `shard` drawn by `rng` (a partial Fisher–Yates over the indices), in
 * draw order: a seeded subset, as the WANN reference draws its batches (bench/ablation.ts).
 */
export function seededSubset(shard: Shard, count: number, rng: Rng): Shard {
  if (!Number.isInteger(count) || count < 1 || count > shard.count) {
    throw new RangeError(`seededSubset: count must be in [1, ${shard.count}], got ${count}`);
  }
  const features = shard.width * shard.height;
  const order = new Int32Array(shard.count);
  for (let i = 0; i < order.length; i++) order[i] = i;
  const pixels = new Uint8Array(count * features);
  const labels = new Uint8Array(count);
  for (let i = 0; i < count; i++) {
    const j = i + rng.int(shard.count - i);
    const pick = order[j];
    order[j] = order[i];
    order[i] = pick;
    pixels.set(shard.pixels.subarray(pick * features, (pick + 1) * features), i * features);
    labels[i] = shard.labels[pick];
  }
  return { count, width: shard.width, height: shard.height, pixels, labels };
}

/** Concatenates WSH2 feature shards of one feature count into a single shard (copies). */
export function concatFeatureShards(shards: readonly FeatureShard[]): FeatureShard {
  if (shards.length === 0) throw new RangeError('concatFeatureShards: no shards');
  const { features } = shards[0];
  let count = 0;
  for (const s of shards) {
    if (s.features !== features) {
      throw new RangeError(`concatFeatureShards: mixed feature counts ${features} and ${s.features}`);
    }
    count += s.count;
  }
  const values = new Float32Array(count * features);
  const labels = new Uint8Array(count);
  let at = 0;
  for (const s of shards) {
    values.set(s.values.subarray(0, s.count * features), at * features);
    labels.set(s.labels.subarray(0, s.count), at);
    at += s.count;
  }
  return { count, features, values, labels };
}

/** Concatenates shards of one format and shape (either format) into a single shard (copies). */
export function concatAnyShards(shards: readonly AnyShard[]): AnyShard {
  const features = shards.filter(isFeatureShard);
  if (features.length === 0) return concatShards(shards as readonly Shard[]);
  if (features.length !== shards.length) throw new RangeError('concatAnyShards: mixed shard formats');
  return concatFeatureShards(features);
}
