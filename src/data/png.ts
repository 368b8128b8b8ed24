/**
 * A PNG upload → one 28×28 grey MNIST-style image (784 values in [0, 1], ink high), ready for
 * `preprocessImage`. Decoding is fast-png's; this module checks the file first and converts:
 * - the file is walked chunk by chunk before anything is decompressed: the header must declare an
 *   image a digit could need (≤ MAX_PNG_PIXELS pixels, ≤ MAX_PNG_DECODED_BYTES of samples), and
 *   the image data must inflate to exactly the size the header implies. The inflation that checks
 *   this stops as soon as it has seen more, so a small file that inflates to gigabytes (a
 *   decompression bomb) costs a few milliseconds and a few megabytes, not gigabytes. Only the
 *   chunks the image needs (IHDR, PLTE, tRNS, IDAT, IEND) reach fast-png: compressed ancillary
 *   chunks (iCCP, zTXt, iTXt) are bombs of their own and are dropped unread;
 * - any colour type / bit depth → luminance in [0, 1] (Rec. 601 weights), composited over white
 *   where the image is transparent;
 * - MNIST digits are light ink on a dark background: when the image's border is mostly light (a
 *   dark digit on paper or a white canvas), it is inverted;
 * - any size → 28×28 by area averaging (each output pixel is the mean of the source area it
 *   covers, fractional pixels weighted), which is exact for a 28×28 input (doubles throughout, so an
 *   8-bit grey 28×28 PNG gives exactly the values the training pipeline computes from its bytes).
 */
import { decode } from 'fast-png';

/** A PNG that cannot be used: 400 (malformed, or a bomb) or 413 (larger than a digit needs). */
export class PngImageError extends Error {
  override name = 'PngImageError';
  constructor(
    message: string,
    readonly status: 400 | 413 = 400,
  ) {
    super(message);
  }
}

/** Largest image accepted (width × height): a drawn or photographed digit needs far less. */
export const MAX_PNG_PIXELS = 1024 * 1024;
/** Largest decoded image data (rows × bytes per row): 1024 × 1024 RGBA at 8 bits. */
export const MAX_PNG_DECODED_BYTES = 4 * 1024 * 1024;
/**
 * Largest PNG file accepted: the largest allowed image stored without compression (deflate's
 * stored blocks cost 5 bytes per 64 KiB) plus room for small chunks.
 */
export const MAX_PNG_FILE_BYTES = MAX_PNG_DECODED_BYTES + 64 * 1024;
const SIDE = 28;
const SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
/** Compressed bytes per step of the bounded inflation: one step yields at most ~1032× this. */
const INFLATE_STEP = 4096;
/** Channels per colour type, and the bit depths the PNG specification allows for it. */
const COLOUR_TYPES: Record<number, { channels: number; depths: number[] }> = {
  0: { channels: 1, depths: [1, 2, 4, 8, 16] }, // grey
  2: { channels: 3, depths: [8, 16] }, // RGB
  3: { channels: 1, depths: [1, 2, 4, 8] }, // palette index
  4: { channels: 2, depths: [8, 16] }, // grey + alpha
  6: { channels: 4, depths: [8, 16] }, // RGBA
};
/** The chunks decoding needs; every other chunk is dropped before fast-png sees the file. */
const KEPT_CHUNKS = new Set(['IHDR', 'PLTE', 'tRNS', 'IDAT', 'IEND']);
/** Adam7 passes: x start, y start, x step, y step. */
const ADAM7 = [
  [0, 0, 8, 8],
  [4, 0, 8, 8],
  [0, 4, 4, 8],
  [2, 0, 4, 4],
  [0, 2, 2, 4],
  [1, 0, 2, 2],
  [0, 1, 1, 2],
];

export interface PngHeader {
  width: number;
  height: number;
  depth: number;
  colourType: number;
  channels: number;
  interlaced: boolean;
}

interface PngLayout {
  header: PngHeader;
  /** The IDAT chunks' data, in order (views into the file). */
  data: Uint8Array[];
  /** Where each kept chunk lies in the file (offset of its length field, total size with CRC). */
  kept: { offset: number; size: number }[];
}

const chunkType = (bytes: Uint8Array, at: number) => String.fromCharCode(...bytes.subarray(at, at + 4));

function readHeader(bytes: Uint8Array): PngHeader {
  if (bytes.length < 8 || SIGNATURE.some((b, i) => bytes[i] !== b)) {
    throw new PngImageError('the body is not a PNG image (bad signature)');
  }
  if (bytes.length < 33 || chunkType(bytes, 12) !== 'IHDR') {
    throw new PngImageError('the PNG has no IHDR header');
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (view.getUint32(8) !== 13) throw new PngImageError('the PNG header (IHDR) has the wrong length');
  const width = view.getUint32(16);
  const height = view.getUint32(20);
  const depth = bytes[24];
  const colourType = bytes[25];
  const colour = COLOUR_TYPES[colourType];
  if (!colour) throw new PngImageError(`the PNG has an unknown colour type ${colourType}`);
  if (!colour.depths.includes(depth)) {
    throw new PngImageError(`the PNG's bit depth ${depth} is not valid for colour type ${colourType}`);
  }
  if (bytes[26] !== 0 || bytes[27] !== 0 || bytes[28] > 1) {
    throw new PngImageError('the PNG uses an unknown compression, filter or interlace method');
  }
  return { width, height, depth, colourType, channels: colour.channels, interlaced: bytes[28] === 1 };
}

/** Bytes of one filtered row (with its filter-type byte) `width` pixels wide. */
function rowBytes(header: PngHeader, width: number): number {
  return 1 + Math.ceil((width * header.channels * header.depth) / 8);
}

/** Exactly how many bytes the image data must inflate to, as the header implies. */
export function inflatedSize(header: PngHeader): number {
  const { width, height } = header;
  if (!header.interlaced) return height * rowBytes(header, width);
  let size = 0;
  for (const [x0, y0, dx, dy] of ADAM7) {
    const w = width > x0 ? Math.ceil((width - x0) / dx) : 0;
    const h = height > y0 ? Math.ceil((height - y0) / dy) : 0;
    if (w > 0 && h > 0) size += h * rowBytes(header, w);
  }
  return size;
}

/** The header, checked against the limits, and where the image data lies; nothing inflated yet. */
function layout(bytes: Uint8Array): PngLayout {
  const header = readHeader(bytes);
  const { width, height } = header;
  if (width < 1 || height < 1) throw new PngImageError(`the PNG is empty (${width}×${height})`);
  if (width * height > MAX_PNG_PIXELS) {
    throw new PngImageError(
      `PNG images may have at most ${MAX_PNG_PIXELS} pixels (a digit needs 28×28), got ${width}×${height}`,
      413,
    );
  }
  const decoded = height * (rowBytes(header, width) - 1);
  if (decoded > MAX_PNG_DECODED_BYTES) {
    throw new PngImageError(
      `PNG images may decode to at most ${MAX_PNG_DECODED_BYTES} bytes; ${width}×${height} with ${header.channels} channel(s) at ${header.depth} bits is ${decoded}`,
      413,
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const data: Uint8Array[] = [];
  const kept: PngLayout['kept'] = [];
  let at = 8;
  for (;;) {
    if (at + 12 > bytes.length) throw new PngImageError('the PNG ends before its IEND chunk');
    const length = view.getUint32(at);
    const type = chunkType(bytes, at + 4);
    if (length > bytes.length - at - 12) throw new PngImageError(`the PNG's ${type} chunk runs past the end`);
    if (type === 'IHDR' && at !== 8) throw new PngImageError('the PNG has a second IHDR chunk');
    if (type === 'IDAT') data.push(bytes.subarray(at + 8, at + 8 + length));
    if (KEPT_CHUNKS.has(type)) kept.push({ offset: at, size: length + 12 });
    at += length + 12;
    if (type === 'IEND') break;
  }
  if (data.length === 0) throw new PngImageError('the PNG has no image data (IDAT)');
  if (header.colourType === 3 && !kept.some((k) => chunkType(bytes, k.offset + 4) === 'PLTE')) {
    throw new PngImageError('the PNG is indexed but has no palette (PLTE)');
  }
  return { header, data, kept };
}

/**
 * Inflate the image data, refusing it as soon as it exceeds `expected` bytes (or ends short of
 * it). Compressed input goes in INFLATE_STEP bytes at a time and the output is counted as it
 * comes, so the work and memory spent on a bomb stay near `expected`.
 */
async function checkInflatedSize(data: Uint8Array[], expected: number): Promise<void> {
  const stream = new DecompressionStream('deflate');
  const writer = stream.writable.getWriter();
  const reader = stream.readable.getReader();
  const writing = (async () => {
    for (const chunk of data) {
      for (let o = 0; o < chunk.length; o += INFLATE_STEP) {
        await writer.write(chunk.subarray(o, Math.min(chunk.length, o + INFLATE_STEP)));
      }
    }
    await writer.close();
  })();
  writing.catch(() => {}); // its failure is the reader's (same stream), reported below
  let size = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > expected) {
        throw new PngImageError(
          `the PNG's image data inflates to more than the ${expected} bytes its header implies (a decompression bomb?)`,
        );
      }
    }
    await writing;
  } catch (e) {
    await reader.cancel().catch(() => {});
    await writer.abort().catch(() => {});
    if (e instanceof PngImageError) throw e;
    throw new PngImageError(`the PNG's image data could not be inflated: ${(e as Error).message}`);
  }
  if (size < expected) {
    throw new PngImageError(`the PNG's image data inflates to ${size} bytes; its header implies ${expected}`);
  }
}

/** The file with only the chunks decoding needs (the signature, then the kept chunks in order). */
function keptChunks(bytes: Uint8Array, kept: PngLayout['kept']): Uint8Array {
  if (kept.reduce((s, k) => s + k.size, 8) === bytes.length) return bytes;
  const out = new Uint8Array(kept.reduce((s, k) => s + k.size, 8));
  out.set(bytes.subarray(0, 8));
  let o = 8;
  for (const k of kept) {
    out.set(bytes.subarray(k.offset, k.offset + k.size), o);
    o += k.size;
  }
  return out;
}

/**
 * Check and decode a PNG into a 28×28 grey image (row-major, values in [0, 1], light ink on dark).
 * Throws PngImageError (400 or 413) for anything that is not a usable, honestly sized PNG.
 */
export async function pngToImage28(bytes: Uint8Array): Promise<Float64Array> {
  return pngToGrayImage(bytes, SIDE, SIDE);
}

/** `pngToImage28` at any raw size (an image dataset's `rawShape`): width × height grey values. */
export async function pngToGrayImage(
  bytes: Uint8Array,
  width: number,
  height: number,
): Promise<Float64Array> {
  if (bytes.length > MAX_PNG_FILE_BYTES) {
    throw new PngImageError(`PNG files are limited to ${MAX_PNG_FILE_BYTES} bytes`, 413);
  }
  const { header, data, kept } = layout(bytes);
  await checkInflatedSize(data, inflatedSize(header));
  let png: ReturnType<typeof decode>;
  try {
    png = decode(keptChunks(bytes, kept));
  } catch (e) {
    throw new PngImageError(`the PNG could not be decoded: ${(e as Error).message}`);
  }
  const grey = luminance(png);
  if (borderMean(grey, png.width, png.height) > 0.5) {
    for (let i = 0; i < grey.length; i++) grey[i] = 1 - grey[i];
  }
  return areaResize(grey, png.width, png.height, width, height);
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
