/**
 * IDX files (the MNIST distribution format, http://yann.lecun.com/exdb/mnist/): a 4-byte magic
 * `00 00 <type> <ndims>`, then `ndims` big-endian uint32 sizes, then the body, row-major.
 * Only uint8 bodies (type 0x08) are supported: that is all MNIST uses.
 */

export interface IdxImages {
  readonly count: number;
  readonly rows: number;
  readonly cols: number;
  /** count × rows × cols, image-major, row-major inside an image. A view into the input bytes. */
  readonly pixels: Uint8Array;
}

export interface IdxLabels {
  readonly count: number;
  /** One class index per example (values above 9 are passed through). A view into the input bytes. */
  readonly labels: Uint8Array;
}

export class IdxFormatError extends Error {
  override name = 'IdxFormatError';
}

const UINT8 = 0x08;
const TYPE_NAMES: Record<number, string> = {
  8: 'uint8',
  9: 'int8',
  11: 'int16',
  12: 'int32',
  13: 'float32',
  14: 'float64',
};
const KIND_BY_DIMS: Record<number, string> = { 1: 'a label file', 3: 'an image file' };

const hex = (n: number, digits: number) => `0x${n.toString(16).padStart(digits, '0')}`;

/** Validates the magic and header of a uint8 IDX file of `ndims` dimensions; returns the sizes. */
function readHeader(bytes: Uint8Array, ndims: number, what: string): number[] {
  if (bytes.length < 4) {
    throw new IdxFormatError(`${what}: ${bytes.length} bytes is too short for an IDX header (needs 4+)`);
  }
  const magic = ((bytes[0] << 24) | (bytes[1] << 16) | (bytes[2] << 8) | bytes[3]) >>> 0;
  const expected = (UINT8 << 8) | ndims;
  if (bytes[0] !== 0 || bytes[1] !== 0) {
    throw new IdxFormatError(
      `${what}: not an IDX file (magic ${hex(magic, 8)}, expected ${hex(expected, 8)}; ` +
        'the first two bytes of an IDX file are zero; is it still gzip-compressed?)',
    );
  }
  if (bytes[2] !== UINT8) {
    const type = TYPE_NAMES[bytes[2]] ?? 'unknown';
    throw new IdxFormatError(
      `${what}: element type ${hex(bytes[2], 2)} (${type}) is not supported; only ${hex(UINT8, 2)} (uint8) is`,
    );
  }
  if (bytes[3] !== ndims) {
    const looksLike = KIND_BY_DIMS[bytes[3]];
    throw new IdxFormatError(
      `${what}: expected ${ndims} dimension${ndims === 1 ? '' : 's'} (magic ${hex(expected, 8)}) ` +
        `but the file has ${bytes[3]} (magic ${hex(magic, 8)})` +
        (looksLike ? `: this looks like ${looksLike}` : ''),
    );
  }
  const headerBytes = 4 + 4 * ndims;
  if (bytes.length < headerBytes) {
    throw new IdxFormatError(`${what}: truncated header: expected ${headerBytes} bytes, got ${bytes.length}`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dims: number[] = [];
  for (let d = 0; d < ndims; d++) dims.push(view.getUint32(4 + 4 * d, false));
  return dims;
}

/** Checks the body length exactly: a short body means truncation, a long one a wrong header. */
function body(bytes: Uint8Array, headerBytes: number, expected: number, what: string, shape: string) {
  const actual = bytes.length - headerBytes;
  if (actual !== expected) {
    const problem = actual < expected ? 'truncated body' : 'unexpected trailing bytes';
    throw new IdxFormatError(
      `${what}: ${problem}: header says ${shape}, so the body should be ${expected} bytes, ` +
        `but it is ${actual} bytes (file ${bytes.length} bytes incl. ${headerBytes}-byte header)`,
    );
  }
  return bytes.subarray(headerBytes, headerBytes + expected);
}

/** Parses an IDX image file (magic 0x00000803: uint8 [count, rows, cols]). No copy is made. */
export function parseIdxImages(bytes: Uint8Array, what = 'IDX images'): IdxImages {
  const [count, rows, cols] = readHeader(bytes, 3, what);
  const pixels = body(bytes, 16, count * rows * cols, what, `${count} images of ${rows}×${cols}`);
  return { count, rows, cols, pixels };
}

/** Parses an IDX label file (magic 0x00000801: uint8 [count]). No copy is made. */
export function parseIdxLabels(bytes: Uint8Array, what = 'IDX labels'): IdxLabels {
  const [count] = readHeader(bytes, 1, what);
  const labels = body(bytes, 8, count, what, `${count} labels`);
  return { count, labels };
}
