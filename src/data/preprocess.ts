/**
 * The reference MNIST preprocessing (WANNRelease `classify_gym.py`: `mnist_256` → `preprocess` →
 * `deskew`), reproduced to the bit: pixels / 255 → `cv2.resize(x, (16, 16))` → moment deskew with
 * `cv2.warpAffine(..., WARP_INVERSE_MAP | INTER_LINEAR)` → flatten (row-major, 256 values).
 *
 * The reference runs in float64 (numpy's uint8 / 255 promotes), so this module computes in doubles
 * and mirrors OpenCV 4.x's exact operation order; checked against OpenCV 4.6 by
 * tests/unit/preprocess.test.ts (fixture from scripts/make-opencv-fixture.py). Three OpenCV details
 * matter and are easy to get wrong:
 *  - resize: half-pixel centres, src = (dst + 0.5) · 28/16 − 0.5, with the interpolation weights
 *    rounded to float32 (OpenCV stores them as float even for double images); no antialiasing.
 *  - warpAffine: source coordinates are quantised to 1/32 pixel (INTER_BITS = 5) through fixed-point
 *    integer arithmetic with cvRound (round half to even). Ignoring this costs up to 0.015 (≈4 grey
 *    levels). Samples outside the image read 0 (BORDER_CONSTANT).
 *  - the deskew matrix is built with np.float32, so skew and −8·skew are rounded to float32.
 *
 * Everything runs on preallocated module buffers: no allocation per image. Not re-entrant, which is
 * fine in single-threaded JS.
 */

import { deskewImage, imageSkew } from './image';

const SRC = 28;
const DST = 16;
/** Values per preprocessed image. */
export const PREPROCESSED_FEATURES = DST * DST;
const SRC_PIXELS = SRC * SRC;

/** `cv2.moments` threshold of the reference below which an image is returned unchanged. */

export type Image28 = Uint8Array | Float32Array | Float64Array;
export type Image16 = Float32Array | Float64Array;

// Exact x / 255 for bytes, as numpy's true division computes it (x · (1/255) differs in the last bit).
const BYTE_TO_UNIT = new Float64Array(256);
for (let v = 0; v < 256; v++) BYTE_TO_UNIT[v] = v / 255;

// Resize taps, identical for rows and columns. OpenCV: fx = (float)((dx + 0.5) * scale - 0.5),
// sx = floor(fx), fx -= sx (in float), weights {1.f - fx, fx}, with scale = 1 / (16 / 28).
const TAP = new Int32Array(DST);
const W0 = new Float64Array(DST);
const W1 = new Float64Array(DST);
{
  const scale = 1 / (DST / SRC);
  for (let d = 0; d < DST; d++) {
    const f = Math.fround((d + 0.5) * scale - 0.5);
    const s = Math.floor(f);
    const frac = Math.fround(f - s);
    // For 28 → 16 every tap pair lies inside the image, so OpenCV's border clamping never applies.
    if (s < 0 || s + 1 >= SRC) throw new Error('resize tap outside the source image');
    TAP[d] = s;
    W0[d] = Math.fround(1 - frac);
    W1[d] = frac;
  }
}

const src64 = new Float64Array(SRC_PIXELS); // input as doubles in [0, 1]
const rows = new Float64Array(SRC * DST); // after the horizontal pass: 28 rows × 16 columns
const resized64 = new Float64Array(PREPROCESSED_FEATURES); // full-precision resize for the deskew

function checkLength(name: string, a: ArrayLike<number>, n: number): void {
  if (a.length !== n) throw new RangeError(`${name} must have ${n} values, got ${a.length}`);
}

/** Copies one 28×28 image into `src64` as doubles in [0, 1] (Uint8Array means 0–255). */
function load28(src: Image28, offset: number): void {
  if (src instanceof Uint8Array) {
    for (let i = 0; i < SRC_PIXELS; i++) src64[i] = BYTE_TO_UNIT[src[offset + i]];
  } else {
    for (let i = 0; i < SRC_PIXELS; i++) src64[i] = src[offset + i];
  }
}

/** `cv2.resize(src64, (16, 16))`, INTER_LINEAR: horizontal pass, then vertical, as OpenCV does. */
function resizeLoaded(out: Image16): void {
  for (let y = 0; y < SRC; y++) {
    const row = y * SRC;
    for (let dx = 0; dx < DST; dx++) {
      const sx = row + TAP[dx];
      rows[y * DST + dx] = src64[sx] * W0[dx] + src64[sx + 1] * W1[dx];
    }
  }
  for (let dy = 0; dy < DST; dy++) {
    const r0 = TAP[dy] * DST;
    const r1 = r0 + DST;
    const w0 = W0[dy];
    const w1 = W1[dy];
    for (let dx = 0; dx < DST; dx++) out[dy * DST + dx] = rows[r0 + dx] * w0 + rows[r1 + dx] * w1;
  }
}

/**
 * Resizes a 28×28 image to 16×16 exactly like `cv2.resize(img / 255, (16, 16))`.
 * `src`: 784 values, a Uint8Array holds 0–255, float arrays hold values already in [0, 1].
 */
export function resize28to16<T extends Image16 = Float32Array>(
  src: Image28,
  out: T = new Float32Array(PREPROCESSED_FEATURES) as T,
): T {
  checkLength('resize28to16 input', src, SRC_PIXELS);
  checkLength('resize28to16 output', out, PREPROCESSED_FEATURES);
  load28(src, 0);
  resizeLoaded(out);
  return out;
}

/**
 * The reference's deskew factor mu11 / mu02 of a 16×16 image, or null when |mu02| < 0.01 (the image
 * is then left unchanged). Moments are accumulated in OpenCV's order (`cv::moments`, one tile: per
 * row sums, then m = Σ over rows; x = column, y = row; central moments from raw ones), which makes
 * the result bit-identical to `cv2.moments`.
 */
export function skew16(img: Image16): number | null {
  checkLength('skew16 input', img, PREPROCESSED_FEATURES);
  return imageSkew(img, DST, DST);
}

/**
 * The reference's `deskew` of a 16×16 image: output(x, y) = input(x + skew·y − 8·skew, y), bilinear
 * with OpenCV's 1/32-pixel quantisation, 0 outside; a copy when |mu02| < 0.01. `out` must not be `src`.
 */
export function deskew16<T extends Image16 = Float32Array>(
  src: Image16,
  out: T = new Float32Array(PREPROCESSED_FEATURES) as T,
): T {
  checkLength('deskew16 input', src, PREPROCESSED_FEATURES);
  checkLength('deskew16 output', out, PREPROCESSED_FEATURES);
  if (out === src) throw new RangeError('deskew16 cannot work in place');
  // The same operations for any W×H (image.ts); at 16×16 this is the reference bit for bit.
  return deskewImage(src, DST, DST, out);
}

/**
 * Full reference preprocessing of one 28×28 image (Uint8Array: 0–255; float arrays: already in
 * [0, 1]) into 256 values, row-major. Internally double precision end to end, like the reference.
 */
export function preprocessImage(
  src28: Image28,
  out: Float32Array = new Float32Array(PREPROCESSED_FEATURES),
): Float32Array {
  checkLength('preprocessImage input', src28, SRC_PIXELS);
  checkLength('preprocessImage output', out, PREPROCESSED_FEATURES);
  load28(src28, 0);
  resizeLoaded(resized64);
  deskew16(resized64, out);
  return out;
}

/**
 * Preprocesses `count` 28×28 byte images stored back to back (an IDX body) into
 * count × 256 values, image-major.
 */
export function preprocessImages(
  pixels: Uint8Array,
  count = Math.floor(pixels.length / SRC_PIXELS),
): Float32Array {
  if (!Number.isInteger(count) || count < 0 || count * SRC_PIXELS > pixels.length) {
    throw new RangeError(`preprocessImages: ${pixels.length} bytes do not hold ${count} 28×28 images`);
  }
  const result = new Float32Array(count * PREPROCESSED_FEATURES);
  const one = new Float32Array(PREPROCESSED_FEATURES);
  for (let i = 0; i < count; i++) {
    load28(pixels, i * SRC_PIXELS);
    resizeLoaded(resized64);
    deskew16(resized64, one);
    result.set(one, i * PREPROCESSED_FEATURES);
  }
  return result;
}
