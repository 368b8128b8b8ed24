import { encode } from 'fast-png';
import { describe, expect, it } from 'vitest';
import {
  inflatedSize,
  MAX_PNG_DECODED_BYTES,
  MAX_PNG_FILE_BYTES,
  MAX_PNG_PIXELS,
  PngImageError,
  pngToImage28,
} from '../../src/data/png';
import { chunk, digitOne, greyPng, hiddenBomb, iccpBomb, ihdr, png, zlib } from './png-fixtures';

async function failure(bytes: Uint8Array): Promise<PngImageError> {
  try {
    await pngToImage28(bytes);
  } catch (e) {
    if (e instanceof PngImageError) return e;
    throw e;
  }
  throw new Error('decoded');
}

const digit = digitOne();
const expected = Array.from(digit, (b) => b / 255);

describe('pngToImage28: honest PNGs', () => {
  it('a 28×28 grey 8-bit PNG gives exactly byte / 255', async () => {
    const image = await pngToImage28(encode({ width: 28, height: 28, data: digit, channels: 1, depth: 8 }));
    expect(Array.from(image)).toEqual(expected);
  });

  it('Adam7-interlaced, 16-bit, RGB and palette versions of the same digit agree', async () => {
    const rgb = new Uint8Array(784 * 3);
    for (let i = 0; i < 784; i++) rgb.fill(digit[i], i * 3, i * 3 + 3);
    const grey16 = new Uint16Array(784);
    for (let i = 0; i < 784; i++) grey16[i] = digit[i] * 257;
    const variants = [
      encode({ width: 28, height: 28, data: digit, channels: 1, depth: 8 }, { interlace: 'Adam7' }),
      encode({ width: 28, height: 28, data: grey16, channels: 1, depth: 16 }),
      encode({ width: 28, height: 28, data: rgb, channels: 3, depth: 8 }),
      encode({
        width: 28,
        height: 28,
        data: Uint8Array.from(digit, (b) => (b ? 1 : 0)),
        channels: 1,
        depth: 8,
        palette: [
          [0, 0, 0],
          [255, 255, 255],
        ],
      }),
    ];
    for (const bytes of variants) {
      const image = await pngToImage28(bytes);
      for (let i = 0; i < 784; i++) expect(image[i]).toBeCloseTo(expected[i], 12);
    }
  });

  it('a dark digit on a light, larger RGBA canvas is inverted and resized', async () => {
    const big = new Uint8Array(56 * 56 * 4).fill(255);
    for (let y = 12; y < 44; y++)
      for (let x = 24; x < 32; x++) big.fill(0, (y * 56 + x) * 4, (y * 56 + x) * 4 + 3);
    const image = await pngToImage28(encode({ width: 56, height: 56, data: big, channels: 4, depth: 8 }));
    expect(Array.from(image)).toEqual(expected);
  });

  it('ancillary chunks are dropped unread, even a compressed one that inflates to 64 MB', async () => {
    const bytes = await greyPng(
      digit,
      await iccpBomb(64 * 1024 * 1024),
      chunk('tEXt', new TextEncoder().encode('a\0b')),
    );
    expect(Array.from(await pngToImage28(bytes))).toEqual(expected);
  });

  it('inflatedSize: rows with their filter byte; Adam7 passes of a 3×3 image', () => {
    const header = { width: 28, height: 28, depth: 8, colourType: 0, channels: 1, interlaced: false };
    expect(inflatedSize(header)).toBe(28 * 29);
    expect(inflatedSize({ ...header, width: 3, height: 3, depth: 1 })).toBe(3 * 2);
    // Adam7 on 3×3: passes 1 (1×1), 4 (1×1: x=2), 5 (2×1: y=2), 6 (1×2: x=1), 7 (3×1: y=1).
    expect(inflatedSize({ ...header, width: 3, height: 3, interlaced: true })).toBe(2 + 2 + 3 + 2 * 2 + 4);
  });
});

describe('pngToImage28: refused', () => {
  it('the hidden bomb: 28×28 declared, 64 MB of image data → 400 before inflating it all', async () => {
    const bomb = await hiddenBomb(64 * 1024 * 1024);
    expect(bomb.length).toBeLessThan(100 * 1024);
    const e = await failure(bomb);
    expect(e.status).toBe(400);
    expect(e.message).toMatch(/more than the 812 bytes its header implies/);
  });

  it.each<[string, () => Promise<Uint8Array> | Uint8Array, 400 | 413, RegExp]>([
    ['not a PNG', () => new TextEncoder().encode('hello, this is not a png file at all'), 400, /not a PNG/],
    ['a JPEG signature', () => new Uint8Array([0xff, 0xd8, 0xff, 0xe0, 0, 0, 0, 0, 0, 0]), 400, /not a PNG/],
    ['the signature only', () => png(), 400, /no IHDR/],
    ['giant dimensions', () => png(chunk('IHDR', ihdr(100_000, 100_000)), chunk('IEND')), 413, /at most/],
    [
      'one row too long',
      () => png(chunk('IHDR', ihdr(MAX_PNG_PIXELS + 1, 1)), chunk('IEND')),
      413,
      /at most/,
    ],
    [
      '1024×1024 RGBA at 16 bits',
      () => png(chunk('IHDR', ihdr(1024, 1024, 16, 6)), chunk('IEND')),
      413,
      new RegExp(`${MAX_PNG_DECODED_BYTES}`),
    ],
    ['zero width', () => png(chunk('IHDR', ihdr(0, 28)), chunk('IEND')), 400, /empty/],
    ['bit depth 3', () => png(chunk('IHDR', ihdr(28, 28, 3, 0)), chunk('IEND')), 400, /bit depth/],
    ['RGB at 4 bits', () => png(chunk('IHDR', ihdr(28, 28, 4, 2)), chunk('IEND')), 400, /bit depth/],
    ['colour type 5', () => png(chunk('IHDR', ihdr(28, 28, 8, 5)), chunk('IEND')), 400, /colour type/],
    ['interlace method 2', () => png(chunk('IHDR', ihdr(28, 28, 8, 0, 2)), chunk('IEND')), 400, /interlace/],
    ['no IEND', () => png(chunk('IHDR', ihdr(28, 28))), 400, /IEND/],
    ['no IDAT', () => png(chunk('IHDR', ihdr(28, 28)), chunk('IEND')), 400, /no image data/],
    [
      'a chunk longer than the file',
      () => {
        const c = chunk('IDAT', new Uint8Array(10));
        new DataView(c.buffer).setUint32(0, 1e6);
        return png(chunk('IHDR', ihdr(28, 28)), c, chunk('IEND'));
      },
      400,
      /runs past the end/,
    ],
    [
      'indexed without a palette',
      async () =>
        png(chunk('IHDR', ihdr(28, 28, 8, 3)), chunk('IDAT', await zlib(new Uint8Array(812))), chunk('IEND')),
      400,
      /no palette/,
    ],
    [
      'truncated image data',
      async () =>
        png(chunk('IHDR', ihdr(28, 28)), chunk('IDAT', await zlib(new Uint8Array(500))), chunk('IEND')),
      400,
      /inflates to 500 bytes; its header implies 812/,
    ],
    [
      'image data that is not zlib',
      () => png(chunk('IHDR', ihdr(28, 28)), chunk('IDAT', new Uint8Array(100).fill(7)), chunk('IEND')),
      400,
      /could not be inflated/,
    ],
    [
      'a bad filter type',
      async () =>
        png(
          chunk('IHDR', ihdr(28, 28)),
          chunk('IDAT', await zlib(new Uint8Array(812).fill(9))),
          chunk('IEND'),
        ),
      400,
      /could not be decoded/,
    ],
    ['a file over the size limit', () => new Uint8Array(MAX_PNG_FILE_BYTES + 1), 413, /limited/],
  ])('%s → %i', async (_name, make, status, message) => {
    const e = await failure(await make());
    expect(e.status).toBe(status);
    expect(e.message).toMatch(message);
  });
});
