/**
 * Preprocessing of any grayscale image dataset: bytes / 255 → resize W0×H0 → W×H → optional
 * deskew, in float64, then stored as shard pixels (×255, rounded) by the caller.
 *
 * The resize is bilinear, `cv2.resize(img, (W, H))` with INTER_LINEAR, the same interpolation as
 * MNIST's reference preprocessing (src/data/preprocess.ts) generalised to any pair of sizes:
 * half-pixel centres, src = (dst + 0.5) · (W0 / W) − 0.5, interpolation weights rounded to float32,
 * taps outside the image clamped to the edge (OpenCV's rule: a tap left of 0 reads pixel 0 with
 * weight 1, a tap at or past the last pixel reads the last with weight 1), no antialiasing: a large
 * reduction samples rather than averages (it is what the baselines measured with). Same
 * size: a copy. For 28 → 16 it equals `resize28to16` bit for bit (tests/unit/image.test.ts), and
 * `preprocessGrayImage(…, { width: 16, height: 16, deskew: true })` equals `preprocessImage`.
 *
 * The deskew is the reference's moment deskew generalised to W×H: skew = mu11 / mu02 (left alone
 * when |mu02| < 0.01), output(x, y) = input(x + skew·y − 0.5·H·skew, y), bilinear with OpenCV's
 * 1/32-pixel fixed-point warpAffine, 0 outside. For 16×16 it equals `deskew16`.
 *
 * MNIST itself keeps its own fixed path (preprocess.ts): its shards must stay byte-identical, and
 * the tests pin this module to it rather than the other way round.
 */

import { UPLOAD_LIMITS } from './limits';

/** Image preprocessing as a dataset manifest records it. */
export interface ImagePreprocessing {
  readonly width: number;
  readonly height: number;
  readonly deskew: boolean;
}

const BYTE_TO_UNIT = new Float64Array(256);
for (let v = 0; v < 256; v++) BYTE_TO_UNIT[v] = v / 255;

interface Taps {
  readonly index: Int32Array;
  readonly w0: Float64Array;
  readonly w1: Float64Array;
}

/** OpenCV INTER_LINEAR taps along one axis, src size → dst size. */
function linearTaps(src: number, dst: number): Taps {
  const index = new Int32Array(dst);
  const w0 = new Float64Array(dst);
  const w1 = new Float64Array(dst);
  const scale = 1 / (dst / src);
  for (let d = 0; d < dst; d++) {
    const f = Math.fround((d + 0.5) * scale - 0.5);
    let s = Math.floor(f);
    let frac = Math.fround(f - s);
    if (s < 0) {
      s = 0;
      frac = 0;
    }
    if (s >= src - 1) {
      s = src - 1;
      frac = 0;
    }
    index[d] = s;
    w0[d] = Math.fround(1 - frac);
    w1[d] = frac;
  }
  return { index, w0, w1 };
}

function checkSize(name: string, w: number, h: number): void {
  if (!Number.isInteger(w) || !Number.isInteger(h) || w < 1 || h < 1) {
    throw new RangeError(`${name} must be positive integers, got ${w}×${h}`);
  }
}

/**
 * Bilinear resize of a W0×H0 image (values already in [0, 1], row-major) to W×H, float64, as
 * `cv2.resize` INTER_LINEAR: a horizontal pass over every source row, then a vertical pass.
 */
export function resizeBilinear(
  src: Float64Array,
  srcWidth: number,
  srcHeight: number,
  width: number,
  height: number,
  out: Float64Array = new Float64Array(width * height),
): Float64Array {
  checkSize('source size', srcWidth, srcHeight);
  checkSize('target size', width, height);
  if (src.length !== srcWidth * srcHeight) {
    throw new RangeError(`source must have ${srcWidth * srcHeight} values, got ${src.length}`);
  }
  if (out.length !== width * height) throw new RangeError(`output must have ${width * height} values`);
  if (srcWidth === width && srcHeight === height) {
    out.set(src);
    return out;
  }
  const xs = linearTaps(srcWidth, width);
  const ys = linearTaps(srcHeight, height);
  const rows = new Float64Array(srcHeight * width);
  for (let y = 0; y < srcHeight; y++) {
    const row = y * srcWidth;
    for (let dx = 0; dx < width; dx++) {
      const sx = xs.index[dx];
      // At the right edge the second tap has weight 0; read the pixel itself to stay in bounds.
      const next = sx + 1 < srcWidth ? sx + 1 : sx;
      rows[y * width + dx] = src[row + sx] * xs.w0[dx] + src[row + next] * xs.w1[dx];
    }
  }
  for (let dy = 0; dy < height; dy++) {
    const sy = ys.index[dy];
    const r0 = sy * width;
    const r1 = (sy + 1 < srcHeight ? sy + 1 : sy) * width;
    const w0 = ys.w0[dy];
    const w1 = ys.w1[dy];
    for (let dx = 0; dx < width; dx++) out[dy * width + dx] = rows[r0 + dx] * w0 + rows[r1 + dx] * w1;
  }
  return out;
}

/** `cv2.moments` threshold of the reference below which an image is left unchanged. */
const MIN_MU02 = 1e-2;

/** The moment skew mu11 / mu02 of a W×H image (OpenCV's accumulation order), or null. */
export function imageSkew(img: ArrayLike<number>, width: number, height: number): number | null {
  let m00 = 0;
  let m10 = 0;
  let m01 = 0;
  let m11 = 0;
  let m02 = 0;
  for (let y = 0; y < height; y++) {
    let x0 = 0;
    let x1 = 0;
    for (let x = 0; x < width; x++) {
      const p = img[y * width + x];
      x0 += p;
      x1 += x * p;
    }
    m02 += x0 * (y * y);
    m11 += x1 * y;
    m01 += y * x0;
    m10 += x1;
    m00 += x0;
  }
  const invM00 = Math.abs(m00) > Number.EPSILON ? 1 / m00 : 0;
  const cy = m01 * invM00;
  const mu11 = m11 - m10 * cy;
  const mu02 = m02 - m01 * cy;
  if (!(Math.abs(mu02) >= MIN_MU02)) return null;
  const skew = mu11 / mu02;
  return Number.isFinite(skew) ? skew : null;
}

// OpenCV warpAffine fixed point: see preprocess.ts.
const INTER_BITS = 5;
const INTER_TAB_SIZE = 1 << INTER_BITS;
const AB_BITS = 10;
const AB_SCALE = 1 << AB_BITS;
const ROUND_DELTA = AB_SCALE / INTER_TAB_SIZE / 2;
const MAX_FIXED = 1 << 24;

function roundHalfEven(v: number): number {
  const r = Math.round(v);
  return r - v === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** The reference's moment deskew of a W×H image; a copy when the skew is undefined. */
export function deskewImage<T extends Float32Array | Float64Array = Float64Array>(
  src: Float32Array | Float64Array,
  width: number,
  height: number,
  out: T = new Float64Array(width * height) as T,
): T {
  if (out === src) throw new RangeError('deskewImage cannot work in place');
  const skew = imageSkew(src, width, height);
  if (skew === null) {
    out.set(src);
    return out;
  }
  const m01 = Math.fround(skew);
  const m02 = Math.fround(-0.5 * height * skew);
  for (let y = 0; y < height; y++) {
    const fixed = roundHalfEven((m01 * y + m02) * AB_SCALE);
    const x0 = Math.max(-MAX_FIXED, Math.min(MAX_FIXED, fixed)) + ROUND_DELTA;
    const row = y * width;
    for (let x = 0; x < width; x++) {
      const X = (x0 + x * AB_SCALE) >> (AB_BITS - INTER_BITS);
      const sx = X >> INTER_BITS;
      const w1 = (X & (INTER_TAB_SIZE - 1)) / INTER_TAB_SIZE;
      const p0 = sx >= 0 && sx < width ? src[row + sx] : 0;
      const p1 = sx + 1 >= 0 && sx + 1 < width ? src[row + sx + 1] : 0;
      out[row + x] = p0 * (1 - w1) + p1 * w1;
    }
  }
  return out;
}

/**
 * One grayscale byte image (W0×H0, 0–255, row-major) → W×H values in [0, 1] (float32 out):
 * /255, bilinear resize, optional deskew, all in float64 like the reference.
 */
export function preprocessGrayImage(
  pixels: Uint8Array,
  srcWidth: number,
  srcHeight: number,
  { width, height, deskew }: ImagePreprocessing,
  out: Float32Array = new Float32Array(width * height),
): Float32Array {
  if (pixels.length !== srcWidth * srcHeight) {
    throw new RangeError(
      `image must have ${srcWidth}×${srcHeight} = ${srcWidth * srcHeight} bytes, got ${pixels.length}`,
    );
  }
  if (width * height > UPLOAD_LIMITS.maxFeatures) {
    throw new RangeError(`${width}×${height} is more than ${UPLOAD_LIMITS.maxFeatures} inputs`);
  }
  const unit = new Float64Array(pixels.length);
  for (let i = 0; i < pixels.length; i++) unit[i] = BYTE_TO_UNIT[pixels[i]];
  return preprocessUnitImage(unit, srcWidth, srcHeight, { width, height, deskew }, out);
}

/**
 * `preprocessGrayImage` of an image already in [0, 1] (float64, W0×H0 row-major): what a served
 * model of an image dataset does to a raw row a client sends (workers/inference).
 */
export function preprocessUnitImage(
  unit: Float64Array,
  srcWidth: number,
  srcHeight: number,
  { width, height, deskew }: ImagePreprocessing,
  out: Float32Array = new Float32Array(width * height),
): Float32Array {
  if (width * height > UPLOAD_LIMITS.maxFeatures) {
    throw new RangeError(`${width}×${height} is more than ${UPLOAD_LIMITS.maxFeatures} inputs`);
  }
  const resized = resizeBilinear(unit, srcWidth, srcHeight, width, height);
  const result = deskew ? deskewImage(resized, width, height) : resized;
  if (out.length !== width * height) throw new RangeError(`output must have ${width * height} values`);
  out.set(result);
  return out;
}
