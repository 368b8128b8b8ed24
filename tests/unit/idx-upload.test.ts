import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import {
  IdxFormatError,
  IdxStreamReader,
  idxClasses,
  idxPlainBytes,
  isGzip,
  readIdxImages,
  readIdxLabels,
} from '../../src/data/idx';

function idx(dims: number[], body?: Uint8Array): Uint8Array {
  const n = dims.reduce((a, b) => a * b, 1);
  const bytes = new Uint8Array(4 + 4 * dims.length + (body ? body.length : n));
  bytes.set([0, 0, 0x08, dims.length]);
  const view = new DataView(bytes.buffer);
  for (const [i, d] of dims.entries()) view.setUint32(4 + 4 * i, d, false);
  const start = 4 + 4 * dims.length;
  if (body) bytes.set(body, start);
  else for (let i = start; i < bytes.length; i++) bytes[i] = (i * 7) & 0xff;
  return bytes;
}

/** `bytes` cut into chunks of `size`. */
function chunks(bytes: Uint8Array, size: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let i = 0; i < bytes.length; i += size) out.push(bytes.slice(i, i + size));
  return out;
}

async function collect(source: AsyncIterable<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for await (const c of source) parts.push(c);
  return new Uint8Array(Buffer.concat(parts));
}

describe('idx uploads', () => {
  const images = idx([5, 3, 7]); // 5 images of 3 rows × 7 columns: not MNIST's size
  const labels = idx([5], new Uint8Array([3, 1, 3, 9, 1]));

  it.each([1, 2, 5, 16, 17, 21, 1000])('reads any image size, plain, in chunks of %s bytes', async (size) => {
    const read = await readIdxImages(chunks(images, size));
    expect(read).toMatchObject({ count: 5, rows: 3, cols: 7 });
    expect(read.pixels).toEqual(images.subarray(16));
    expect((await readIdxLabels(chunks(labels, size))).labels).toEqual(new Uint8Array([3, 1, 3, 9, 1]));
  });

  it.each([1, 3, 64, 100_000])('gunzips gzipped uploads as they stream, chunks of %s bytes', async (size) => {
    const gz = new Uint8Array(gzipSync(images));
    expect(isGzip(gz)).toBe(true);
    expect(isGzip(images)).toBe(false);
    expect(await collect(idxPlainBytes(chunks(gz, size)))).toEqual(images);
    const read = await readIdxImages(chunks(gz, size));
    expect(read.pixels).toEqual(images.subarray(16));
    expect((await readIdxLabels(chunks(new Uint8Array(gzipSync(labels)), size))).count).toBe(5);
  });

  it('reads a large gzipped MNIST-sized file from an async stream', async () => {
    const big = idx([1000, 28, 28]);
    async function* source() {
      for (const c of chunks(new Uint8Array(gzipSync(big)), 4096)) yield c;
    }
    const read = await readIdxImages(source());
    expect(read).toMatchObject({ count: 1000, rows: 28, cols: 28 });
    expect(read.pixels).toEqual(big.subarray(16));
  });

  it('hands whole items over as they complete', () => {
    const reader = new IdxStreamReader('images');
    expect(reader.push(images.subarray(0, 10))).toHaveLength(0);
    expect(reader.header).toBeNull();
    expect(reader.push(images.subarray(10, 16 + 30))).toHaveLength(21); // one image of 21, 9 bytes left over
    expect(reader.header).toEqual({ kind: 'images', count: 5, rows: 3, cols: 7, itemBytes: 21 });
    const rest = reader.push(images.subarray(46));
    expect(rest).toHaveLength(4 * 21);
    expect(rest).toEqual(images.subarray(16 + 21));
    expect(reader.end().count).toBe(5);
  });

  // The corpus of bad idx uploads, each read plain and gzipped, in small chunks.
  const truncatedGzip = new Uint8Array(gzipSync(images)).subarray(0, 20);
  it.each([
    ['an empty file', new Uint8Array(0), 'images', /^idx images: empty file$/],
    [
      'a bad magic',
      new Uint8Array([0x50, 0x4b, 3, 4, 0, 0, 0, 0]),
      'images',
      /^idx images: not an IDX file \(magic 0x504b0304/,
    ],
    ['a label file as images', labels, 'images', /expected 3 dimensions.*looks like a label file/],
    ['an image file as labels', images, 'labels', /expected 1 dimension .*looks like an image file/],
    [
      'int32 elements',
      new Uint8Array([0, 0, 0x0c, 1, 0, 0, 0, 1, 0, 0, 0, 1]),
      'labels',
      /element type 0x0c \(int32\) is not supported/,
    ],
    ['a truncated header', images.subarray(0, 9), 'images', /truncated header: expected 16 bytes, got 9/],
    [
      'a truncated body',
      images.subarray(0, images.length - 1),
      'images',
      /^idx images: truncated body: the header says 5 images of 3×7, so the body should be 105 bytes, but it is 104 bytes$/,
    ],
    [
      'trailing bytes',
      new Uint8Array([...labels, 0]),
      'labels',
      /^idx labels: unexpected trailing bytes: the header says 5 labels, so the body should be 5 bytes/,
    ],
    ['no images', idx([0, 28, 28]), 'images', /the header says 0 images; the file holds no data/],
    ['an empty image size', idx([3, 0, 28]), 'images', /image size 0×28 is empty/],
    [
      'a too large image',
      idx([1, 600, 600], new Uint8Array(0)),
      'images',
      /image size 600×600 is too large; at most 262,144 pixels per image/,
    ],
    [
      'too many images',
      idx([1_000_001, 1, 1], new Uint8Array(0)),
      'images',
      /too many images: 1000001; the limit is 1,000,000/,
    ],
  ] as const)('rejects %s', async (_, bytes, kind, message) => {
    const read = kind === 'images' ? readIdxImages : readIdxLabels;
    for (const form of [bytes, new Uint8Array(gzipSync(bytes))]) {
      for (const size of [3, 1 << 20]) {
        const error = await read(chunks(form, size)).catch((e: unknown) => e);
        expect(error).toBeInstanceOf(IdxFormatError);
        expect((error as Error).message).toMatch(message);
      }
    }
  });

  it('rejects corrupt or truncated gzip data', async () => {
    await expect(readIdxImages([truncatedGzip])).rejects.toThrow(
      /idx images: the gzip data is corrupt or truncated/,
    );
    const corrupt = new Uint8Array(gzipSync(images));
    corrupt[12] ^= 0xff;
    await expect(readIdxImages([corrupt])).rejects.toThrow(IdxFormatError);
  });

  it('idxClasses: matching counts, 2 … limit classes, indices in label order', () => {
    const { classes, indexOf, counts } = idxClasses(5, new Uint8Array([3, 1, 3, 9, 1]));
    expect(classes).toEqual(['1', '3', '9']);
    expect(counts).toEqual([2, 2, 1]);
    expect([indexOf[1], indexOf[3], indexOf[9], indexOf[0]]).toEqual([0, 1, 2, -1]);
    // MNIST's labels keep their values as class indices.
    const digits = Uint8Array.from({ length: 30 }, (_, i) => i % 10);
    expect(Array.from({ length: 10 }, (_, v) => idxClasses(30, digits).indexOf[v])).toEqual([
      0, 1, 2, 3, 4, 5, 6, 7, 8, 9,
    ]);

    expect(() => idxClasses(6, new Uint8Array([1, 2]))).toThrow(
      /^idx upload: image\/label count mismatch: 6 images but 2 labels$/,
    );
    expect(() => idxClasses(3, new Uint8Array([4, 4, 4]))).toThrow(/one class only: every label is 4/);
    expect(() => idxClasses(4, new Uint8Array([0, 1, 2, 3]), 3)).toThrow(
      /too many classes: 4; the limit is 3/,
    );
    expect(
      idxClasses(
        256,
        Uint8Array.from({ length: 256 }, (_, i) => i),
      ).classes,
    ).toHaveLength(256);
  });
});
