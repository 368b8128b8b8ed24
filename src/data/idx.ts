/**
 * IDX files (the MNIST distribution format, http://yann.lecun.com/exdb/mnist/): a 4-byte magic
 * `00 00 <type> <ndims>`, then `ndims` big-endian uint32 sizes, then the body, row-major.
 * Only uint8 bodies (type 0x08) are supported: that is all MNIST uses.
 */

import { formatCount, UPLOAD_LIMITS } from './limits';

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

/**
 * Validates the magic and header of a uint8 IDX file of `ndims` dimensions; returns the sizes
 * (none when `magicOnly`: a stream checks the magic before the sizes have arrived).
 */
function readHeader(bytes: Uint8Array, ndims: number, what: string, magicOnly = false): number[] {
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
  if (magicOnly) return [];
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

// ---------------------------------------------------------------------------------------------
// Uploads: any image size, gzipped or plain, read as the bytes arrive.

/** The header of an idx upload: `rows`/`cols` are 0 for a label file. */
export interface IdxHeader {
  readonly kind: 'images' | 'labels';
  readonly count: number;
  readonly rows: number;
  readonly cols: number;
  /** Bytes of one item: rows × cols for images, 1 for labels. */
  readonly itemBytes: number;
}

const GZIP_MAGIC_0 = 0x1f;
const GZIP_MAGIC_1 = 0x8b;

/** Whether bytes start like a gzip member (RFC 1952: 1f 8b). */
export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === GZIP_MAGIC_0 && bytes[1] === GZIP_MAGIC_1;
}

/**
 * An idx file's bytes, gunzipped when they start with gzip's magic, as they arrive: the source's
 * chunks go through `DecompressionStream('gzip')` (Node 20, workerd and browsers have it) and come
 * out in the decompressor's chunks; plain bytes pass through untouched. A corrupt gzip stream
 * rejects with an `IdxFormatError` naming `what`.
 */
export async function* idxPlainBytes(
  source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  what = 'idx file',
): AsyncGenerator<Uint8Array> {
  const it = (
    Symbol.asyncIterator in source ? source[Symbol.asyncIterator]() : toAsync(source)
  ) as AsyncIterator<Uint8Array>;
  // Peek until two bytes decide: gzip or not.
  const head: Uint8Array[] = [];
  let headBytes = 0;
  let ended = false;
  while (headBytes < 2) {
    const next = await it.next();
    if (next.done) {
      ended = true;
      break;
    }
    if (next.value.length === 0) continue;
    head.push(next.value);
    headBytes += next.value.length;
  }
  const first = head.length === 1 ? head[0] : concatBytes(head, headBytes);
  if (!isGzip(first)) {
    try {
      if (first.length > 0) yield first;
      if (ended) return;
      for (;;) {
        const next = await it.next();
        if (next.done) return;
        yield next.value;
      }
    } finally {
      if (!ended) await it.return?.(); // the consumer stopped early: release the source
    }
  }
  const inflate = new DecompressionStream('gzip');
  const writer = inflate.writable.getWriter();
  const reader = inflate.readable.getReader();
  const writing = (async () => {
    await writer.write(first);
    if (!ended) {
      for (;;) {
        const next = await it.next();
        if (next.done) break;
        await writer.write(next.value);
      }
    }
    await writer.close();
  })();
  writing.catch(() => {}); // its failure surfaces on the reader (the same stream), reported below
  try {
    for (;;) {
      let next: ReadableStreamReadResult<Uint8Array>;
      try {
        next = await reader.read();
      } catch (e) {
        throw new IdxFormatError(`${what}: the gzip data is corrupt or truncated (${(e as Error).message})`);
      }
      if (next.done) break;
      yield next.value;
    }
    await writing;
  } finally {
    // Stops decompressing when the consumer gives up early (e.g. a header error).
    await reader.cancel().catch(() => {});
    await writer.abort().catch(() => {});
    await it.return?.();
  }
}

async function* toAsync<T>(items: Iterable<T>): AsyncGenerator<T> {
  yield* items;
}

function concatBytes(chunks: readonly Uint8Array[], total: number): Uint8Array {
  const out = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

/**
 * An idx upload (plain bytes; see `idxPlainBytes`) read as it arrives: `push` returns the whole
 * items completed so far (images or labels, back to back, a copy), `end` checks the length. Any
 * image size within `UPLOAD_LIMITS`; uint8 only. The header decides the body size, so trailing bytes
 * are refused as soon as they arrive rather than after reading a decompression bomb.
 */
export class IdxStreamReader {
  private readonly ndims: number;
  private headerBuf = new Uint8Array(16);
  private headerHave = 0;
  private parsed: IdxHeader | null = null;
  /** Part of an item left over from the previous chunk. */
  private partial: Uint8Array = new Uint8Array(0);
  private partialHave = 0;
  private bodyHave = 0;
  private total = 0;

  constructor(
    readonly kind: 'images' | 'labels',
    private readonly what = kind === 'images' ? 'idx images' : 'idx labels',
  ) {
    this.ndims = kind === 'images' ? 3 : 1;
  }

  /** The header, once its bytes have arrived (null before). */
  get header(): IdxHeader | null {
    return this.parsed;
  }

  push(chunk: Uint8Array): Uint8Array {
    this.total += chunk.length;
    let at = 0;
    if (this.parsed === null) {
      const headerBytes = 4 + 4 * this.ndims;
      const take = Math.min(chunk.length, headerBytes - this.headerHave);
      this.headerBuf.set(chunk.subarray(0, take), this.headerHave);
      this.headerHave += take;
      at = take;
      // The magic is checked as soon as 4 bytes are in, so a wrong file fails on its first chunk.
      if (this.headerHave < headerBytes) {
        if (this.headerHave >= 4) readHeader(this.headerBuf.subarray(0, 4), this.ndims, this.what, true);
        return new Uint8Array(0);
      }
      this.parsed = this.checkHeader(
        readHeader(this.headerBuf.subarray(0, headerBytes), this.ndims, this.what),
      );
      this.partial = new Uint8Array(this.parsed.itemBytes);
    }
    const { itemBytes, count } = this.parsed;
    const body = chunk.subarray(at);
    const expected = count * itemBytes;
    if (this.bodyHave + body.length > expected) {
      throw new IdxFormatError(
        `${this.what}: unexpected trailing bytes: the header says ${describe(this.parsed)}, so the body ` +
          `should be ${expected} bytes, but more arrived`,
      );
    }
    this.bodyHave += body.length;
    const items = Math.floor((this.partialHave + body.length) / itemBytes);
    const out = new Uint8Array(items * itemBytes);
    let o = 0;
    let b = 0;
    if (this.partialHave > 0 && items > 0) {
      b = itemBytes - this.partialHave;
      out.set(this.partial.subarray(0, this.partialHave), 0);
      out.set(body.subarray(0, b), this.partialHave);
      o = itemBytes;
      this.partialHave = 0;
    }
    const whole = out.length - o;
    out.set(body.subarray(b, b + whole), o);
    b += whole;
    const rest = body.length - b;
    if (rest > 0) {
      this.partial.set(body.subarray(b), this.partialHave);
      this.partialHave += rest;
    }
    return out;
  }

  /** The input has ended: the header and body must be complete. Returns the header. */
  end(): IdxHeader {
    if (this.total === 0) throw new IdxFormatError(`${this.what}: empty file`);
    if (this.parsed === null) {
      readHeader(this.headerBuf.subarray(0, this.headerHave), this.ndims, this.what);
      throw new IdxFormatError(`${this.what}: truncated header`); // unreachable: readHeader throws
    }
    const expected = this.parsed.count * this.parsed.itemBytes;
    if (this.bodyHave < expected) {
      throw new IdxFormatError(
        `${this.what}: truncated body: the header says ${describe(this.parsed)}, so the body should be ` +
          `${expected} bytes, but it is ${this.bodyHave} bytes`,
      );
    }
    return this.parsed;
  }

  private checkHeader(dims: number[]): IdxHeader {
    const [count, rows = 0, cols = 0] = dims;
    const itemBytes = this.kind === 'images' ? rows * cols : 1;
    if (count === 0)
      throw new IdxFormatError(`${this.what}: the header says 0 ${this.kind}; the file holds no data`);
    if (count > UPLOAD_LIMITS.maxRows) {
      throw new IdxFormatError(
        `${this.what}: too many ${this.kind}: ${count}; the limit is ${formatCount(UPLOAD_LIMITS.maxRows)}`,
      );
    }
    if (this.kind === 'images' && (itemBytes === 0 || itemBytes > UPLOAD_LIMITS.maxImagePixels)) {
      throw new IdxFormatError(
        `${this.what}: image size ${rows}×${cols} is ${itemBytes === 0 ? 'empty' : 'too large'}; ` +
          `at most ${formatCount(UPLOAD_LIMITS.maxImagePixels)} pixels per image`,
      );
    }
    return { kind: this.kind, count, rows, cols, itemBytes };
  }
}

function describe(h: IdxHeader): string {
  return h.kind === 'images' ? `${h.count} images of ${h.rows}×${h.cols}` : `${h.count} labels`;
}

/** Reads a whole idx image upload (gzipped or plain) into memory: for sizes a Worker can hold. */
export async function readIdxImages(
  source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  what = 'idx images',
): Promise<IdxImages> {
  const reader = new IdxStreamReader('images', what);
  const parts: Uint8Array[] = [];
  let bytes = 0;
  for await (const chunk of idxPlainBytes(source, what)) {
    const items = reader.push(chunk);
    if (items.length > 0) {
      parts.push(items);
      bytes += items.length;
    }
  }
  const { count, rows, cols } = reader.end();
  return { count, rows, cols, pixels: concatBytes(parts, bytes) };
}

/** Reads a whole idx label upload (gzipped or plain). */
export async function readIdxLabels(
  source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  what = 'idx labels',
): Promise<IdxLabels> {
  const reader = new IdxStreamReader('labels', what);
  const parts: Uint8Array[] = [];
  let bytes = 0;
  for await (const chunk of idxPlainBytes(source, what)) {
    const items = reader.push(chunk);
    if (items.length > 0) {
      parts.push(items);
      bytes += items.length;
    }
  }
  const { count } = reader.end();
  return { count, labels: concatBytes(parts, bytes) };
}

/** The classes of an idx label set: the distinct label values, ascending; names are the values. */
export interface IdxClasses {
  /** Class names (`String(value)`), in class-index order. */
  readonly classes: readonly string[];
  /** Label value → class index (255 entries past the last value: -1). */
  readonly indexOf: Int16Array;
  /** Rows per class. */
  readonly counts: readonly number[];
}

/**
 * Checks an image/label pair and names its classes: the counts must match, and there must be at
 * least 2 and at most `maxClasses` distinct labels. Class indices follow the label values'
 * order, so MNIST's labels 0–9 are classes 0–9 unchanged.
 */
export function idxClasses(
  imageCount: number,
  labels: Uint8Array,
  maxClasses: number = UPLOAD_LIMITS.maxClasses,
  what = 'idx upload',
): IdxClasses {
  if (imageCount !== labels.length) {
    throw new IdxFormatError(
      `${what}: image/label count mismatch: ${imageCount} images but ${labels.length} labels`,
    );
  }
  const histogram = new Float64Array(256);
  for (let i = 0; i < labels.length; i++) histogram[labels[i]]++;
  const classes: string[] = [];
  const counts: number[] = [];
  const indexOf = new Int16Array(256).fill(-1);
  for (let v = 0; v < 256; v++) {
    if (histogram[v] === 0) continue;
    indexOf[v] = classes.length;
    classes.push(String(v));
    counts.push(histogram[v]);
  }
  if (classes.length < 2) {
    throw new IdxFormatError(
      `${what}: one class only: every label is ${classes[0] ?? '(none)'}; a classifier needs at least 2 classes`,
    );
  }
  if (classes.length > maxClasses) {
    throw new IdxFormatError(`${what}: too many classes: ${classes.length}; the limit is ${maxClasses}`);
  }
  return { classes, indexOf, counts };
}
