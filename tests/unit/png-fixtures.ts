/**
 * Hand-built PNG files for tests: honest ones, malformed ones and decompression bombs. Web APIs
 * only (CompressionStream, no node:zlib), so the same builders run in Node and in workerd.
 */

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of bytes) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

const SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

/** One chunk: length, type, data, CRC. */
export function chunk(type: string, data: Uint8Array = new Uint8Array(0)): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, data.length);
  for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i);
  out.set(data, 8);
  view.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)));
  return out;
}

/** The 13 bytes of an IHDR chunk's data. */
export function ihdr(width: number, height: number, depth = 8, colourType = 0, interlace = 0): Uint8Array {
  const data = new Uint8Array(13);
  const view = new DataView(data.buffer);
  view.setUint32(0, width);
  view.setUint32(4, height);
  data.set([depth, colourType, 0, 0, interlace], 8);
  return data;
}

/** The signature followed by the given chunks. */
export function png(...chunks: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(8 + chunks.reduce((s, c) => s + c.length, 0));
  out.set(SIGNATURE);
  let o = 8;
  for (const c of chunks) {
    out.set(c, o);
    o += c.length;
  }
  return out;
}

/** zlib-compress (`deflate` format) `data`, or `zeros` zero bytes without allocating them. */
export async function zlib(input: Uint8Array | { zeros: number }): Promise<Uint8Array> {
  const stream = new CompressionStream('deflate');
  const writer = stream.writable.getWriter();
  const writing = (async () => {
    if (input instanceof Uint8Array) {
      await writer.write(input);
    } else {
      const block = new Uint8Array(1024 * 1024);
      for (let left = input.zeros; left > 0; left -= block.length) {
        await writer.write(left >= block.length ? block : block.subarray(0, left));
      }
    }
    await writer.close();
  })();
  const parts: Uint8Array[] = [];
  const reader = stream.readable.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    parts.push(value);
  }
  await writing;
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/**
 * The hidden bomb: a header that declares a small grey image (28×28: 812 bytes of image data)
 * and image data that inflates to `inflatedBytes` zero bytes.
 */
export async function hiddenBomb(inflatedBytes: number, width = 28, height = 28): Promise<Uint8Array> {
  return png(
    chunk('IHDR', ihdr(width, height)),
    chunk('IDAT', await zlib({ zeros: inflatedBytes })),
    chunk('IEND'),
  );
}

/** A 28×28 grey 8-bit PNG of `pixels` (784 bytes), with extra chunks after IHDR. */
export async function greyPng(pixels: Uint8Array, ...extra: Uint8Array[]): Promise<Uint8Array> {
  const width = 28;
  const raw = new Uint8Array(28 * 29);
  for (let y = 0; y < 28; y++) raw.set(pixels.subarray(y * width, (y + 1) * width), y * 29 + 1);
  return png(chunk('IHDR', ihdr(28, 28)), ...extra, chunk('IDAT', await zlib(raw)), chunk('IEND'));
}

/** An iCCP chunk whose compressed profile inflates to `inflatedBytes` (a bomb in an ancillary chunk). */
export async function iccpBomb(inflatedBytes: number): Promise<Uint8Array> {
  const name = new TextEncoder().encode('bomb');
  const profile = await zlib({ zeros: inflatedBytes });
  const data = new Uint8Array(name.length + 2 + profile.length);
  data.set(name);
  data.set(profile, name.length + 2); // a NUL after the name, then compression method 0
  return chunk('iCCP', data);
}

/** A 28×28 test digit (a vertical bar: a "1"), light on dark. */
export function digitOne(): Uint8Array {
  const bytes = new Uint8Array(784);
  for (let y = 6; y < 22; y++) for (let x = 12; x < 16; x++) bytes[y * 28 + x] = 255;
  return bytes;
}
