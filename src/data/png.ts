/**
 * A PNG upload → one 28×28 grey MNIST-style image (784 values in [0, 1], ink high), ready for
 * `preprocessImage`. Decoding is fast-png's; this module only converts:
 * - any colour type / bit depth → luminance in [0, 1] (Rec. 601 weights), composited over white
 *   where the image is transparent;
 * - MNIST digits are light ink on a dark background: when the image's border is mostly light (a
 *   dark digit on paper or a white canvas), it is inverted;
 * - any size → 28×28 by area averaging (each output pixel is the mean of the source area it
 *   covers, fractional pixels weighted), which is exact for a 28×28 input (doubles throughout, so an
 *   8-bit grey 28×28 PNG gives exactly the values the training pipeline computes from its bytes).
 */
import { decode } from 'fast-png';

export class PngImageError extends Error {
  override name = 'PngImageError';
}

/** Largest decoded image accepted (width × height), so a tiny file cannot expand into gigabytes. */
export const MAX_PNG_PIXELS = 4096 * 4096;
const SIDE = 28;
const SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

/** Width and height from the IHDR chunk, checked before anything is decompressed. */
export function pngSize(bytes: Uint8Array): { width: number; height: number } {
  if (bytes.length < 24 || SIGNATURE.some((b, i) => bytes[i] !== b)) {
    throw new PngImageError('the body is not a PNG image (bad signature)');
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (String.fromCharCode(...bytes.subarray(12, 16)) !== 'IHDR') {
    throw new PngImageError('the PNG has no IHDR header');
  }
  return { width: view.getUint32(16), height: view.getUint32(20) };
}

/** Decode a PNG into a 28×28 grey image (row-major, values in [0, 1], light ink on dark). */
export function pngToImage28(bytes: Uint8Array): Float64Array {
  const { width, height } = pngSize(bytes);
  if (width < 1 || height < 1 || width * height > MAX_PNG_PIXELS) {
    throw new PngImageError(`PNG images must have 1 to ${MAX_PNG_PIXELS} pixels, got ${width}×${height}`);
  }
  let png: ReturnType<typeof decode>;
  try {
    png = decode(bytes);
  } catch (e) {
    throw new PngImageError(`the PNG could not be decoded: ${(e as Error).message}`);
  }
  const grey = luminance(png);
  if (borderMean(grey, png.width, png.height) > 0.5) {
    for (let i = 0; i < grey.length; i++) grey[i] = 1 - grey[i];
  }
  return areaResize(grey, png.width, png.height, SIDE, SIDE);
}

function luminance(png: ReturnType<typeof decode>): Float64Array {
  const { width, height, data, depth } = png;
  const n = width * height;
  const out = new Float64Array(n);
  let channels = png.channels;
  let samples: ArrayLike<number> = data;
  let max = 2 ** depth - 1;
  if (png.palette) {
    // Indexed colour: expand through the palette (and tRNS alpha) to RGBA bytes.
    const palette = png.palette;
    const rgba = new Uint8Array(n * 4);
    const indices = unpackIndices(data, width, height, depth);
    for (let i = 0; i < n; i++) {
      const entry = palette[indices[i]] ?? [0, 0, 0];
      rgba[i * 4] = entry[0];
      rgba[i * 4 + 1] = entry[1];
      rgba[i * 4 + 2] = entry[2];
      rgba[i * 4 + 3] = entry.length > 3 ? entry[3] : (png.transparency?.[indices[i]] ?? 255);
    }
    samples = rgba;
    channels = 4;
    max = 255;
  } else if (depth < 8) {
    samples = unpackIndices(data, width, height, depth);
  }
  for (let i = 0; i < n; i++) {
    const o = i * channels;
    let y: number;
    let alpha = 1;
    if (channels <= 2) {
      y = samples[o] / max;
      if (channels === 2) alpha = samples[o + 1] / max;
    } else {
      y = (0.299 * samples[o] + 0.587 * samples[o + 1] + 0.114 * samples[o + 2]) / max;
      if (channels === 4) alpha = samples[o + 3] / max;
    }
    out[i] = y * alpha + (1 - alpha); // over white
  }
  return out;
}

/** Sub-byte samples (bit depth 1, 2, 4): one value per pixel; rows are byte-aligned. */
function unpackIndices(data: ArrayLike<number>, width: number, height: number, depth: number): Uint8Array {
  if (depth >= 8) return Uint8Array.from(data);
  const out = new Uint8Array(width * height);
  const rowBytes = Math.ceil((width * depth) / 8);
  const mask = (1 << depth) - 1;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const bit = x * depth;
      const byte = data[y * rowBytes + (bit >> 3)];
      out[y * width + x] = (byte >> (8 - depth - (bit & 7))) & mask;
    }
  }
  return out;
}

function borderMean(img: Float64Array, width: number, height: number): number {
  let sum = 0;
  let count = 0;
  for (let x = 0; x < width; x++) {
    sum += img[x] + img[(height - 1) * width + x];
    count += 2;
  }
  for (let y = 1; y < height - 1; y++) {
    sum += img[y * width] + img[y * width + width - 1];
    count += 2;
  }
  return sum / count;
}

/** Area-average resize (box filter with fractional coverage); identity when sizes match. */
export function areaResize(src: Float64Array, sw: number, sh: number, dw: number, dh: number): Float64Array {
  const out = new Float64Array(dw * dh);
  const fx = sw / dw;
  const fy = sh / dh;
  for (let dy = 0; dy < dh; dy++) {
    const y0 = dy * fy;
    const y1 = y0 + fy;
    for (let dx = 0; dx < dw; dx++) {
      const x0 = dx * fx;
      const x1 = x0 + fx;
      let sum = 0;
      for (let y = Math.floor(y0); y < Math.min(sh, Math.ceil(y1)); y++) {
        const wy = Math.min(y + 1, y1) - Math.max(y, y0);
        for (let x = Math.floor(x0); x < Math.min(sw, Math.ceil(x1)); x++) {
          const wx = Math.min(x + 1, x1) - Math.max(x, x0);
          sum += src[y * sw + x] * wx * wy;
        }
      }
      out[dy * dw + dx] = Math.min(1, Math.max(0, sum / (fx * fy)));
    }
  }
  return out;
}
