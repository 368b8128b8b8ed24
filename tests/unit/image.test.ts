import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { deskewImage, imageSkew, preprocessGrayImage, resizeBilinear } from '../../src/data/image';
import { deskew16, preprocessImage, resize28to16, skew16 } from '../../src/data/preprocess';

// Real digits (the OpenCV fixture's raw images): the generic path must equal MNIST's bit for bit.
const fixture: { images: Array<{ raw: string }> } = JSON.parse(
  readFileSync(new URL('../fixtures/opencv-preprocess.json', import.meta.url), 'utf8'),
);
const digits = fixture.images.map((im) => new Uint8Array(Buffer.from(im.raw, 'base64')));

const unit = (bytes: Uint8Array) => Float64Array.from(bytes, (v) => v / 255);

describe('generic image preprocessing', () => {
  it('has digits to compare with', () => {
    expect(digits.length).toBeGreaterThanOrEqual(48);
    expect(digits[0].length).toBe(784);
  });

  it('resizes 28 → 16 exactly as MNIST resize28to16', () => {
    for (const d of digits) {
      const generic = Float32Array.from(resizeBilinear(unit(d), 28, 28, 16, 16));
      expect(generic).toEqual(resize28to16(d));
    }
  });

  it('deskews 16×16 exactly as deskew16, and its skew is skew16', () => {
    for (const d of digits) {
      const resized = resizeBilinear(unit(d), 28, 28, 16, 16);
      expect(imageSkew(resized, 16, 16)).toBe(skew16(resized));
      expect(Float32Array.from(deskewImage(resized, 16, 16))).toEqual(deskew16(resized));
    }
  });

  it('preprocessGrayImage(28×28 → 16×16, deskew) equals preprocessImage', () => {
    for (const d of digits) {
      expect(preprocessGrayImage(d, 28, 28, { width: 16, height: 16, deskew: true })).toEqual(
        preprocessImage(d),
      );
    }
    // Without deskew it is the plain resize (Fashion-MNIST's path).
    expect(preprocessGrayImage(digits[0], 28, 28, { width: 16, height: 16, deskew: false })).toEqual(
      resize28to16(digits[0]),
    );
  });

  it('interpolates like cv2.resize INTER_LINEAR at the edges (half-pixel centres, clamped taps)', () => {
    // Upscaling 2 → 4: [a, ¾a + ¼b, ¼a + ¾b, b] (the outer taps clamp to the edge pixels).
    expect(Array.from(resizeBilinear(Float64Array.from([0.2, 1]), 2, 1, 4, 1))).toEqual([
      0.2,
      0.2 * 0.75 + 1 * 0.25,
      0.2 * 0.25 + 1 * 0.75,
      1,
    ]);
    // Downscaling 4 → 2: each output is the mean of two neighbours (bilinear at the midpoint).
    expect(Array.from(resizeBilinear(Float64Array.from([0, 1, 0.5, 0.25]), 4, 1, 2, 1))).toEqual([
      0.5, 0.375,
    ]);
    // The same along the vertical axis.
    expect(Array.from(resizeBilinear(Float64Array.from([0.2, 1]), 1, 2, 1, 4))).toEqual([
      0.2,
      0.2 * 0.75 + 1 * 0.25,
      0.2 * 0.25 + 1 * 0.75,
      1,
    ]);
    // A constant image stays constant at any size (to float32 weight rounding: OpenCV's
    // fround(1 − frac) + frac is not always exactly 1), and the same size is a copy.
    const grey = new Float64Array(7 * 5).fill(0.4);
    expect(resizeBilinear(grey, 7, 5, 13, 3).every((v) => Math.abs(v - 0.4) < 1e-7)).toBe(true);
    const noise = Float64Array.from({ length: 12 }, (_, i) => ((i * 37) % 11) / 11);
    expect(resizeBilinear(noise, 4, 3, 4, 3)).toEqual(noise);
  });

  it('handles non-square sizes and leaves a blank image blank', () => {
    const img = Uint8Array.from({ length: 40 * 30 }, (_, i) => (i * 13) & 0xff);
    const out = preprocessGrayImage(img, 40, 30, { width: 10, height: 12, deskew: true });
    expect(out).toHaveLength(120);
    expect(out.every((v) => v >= 0 && v <= 1)).toBe(true);
    const blank = preprocessGrayImage(new Uint8Array(64), 8, 8, { width: 4, height: 4, deskew: true });
    expect(Array.from(blank)).toEqual(new Array(16).fill(0));
    expect(imageSkew(new Float64Array(16), 4, 4)).toBeNull();
  });

  it('refuses bad sizes', () => {
    expect(() =>
      preprocessGrayImage(new Uint8Array(10), 4, 3, { width: 2, height: 2, deskew: false }),
    ).toThrow(/must have 4×3 = 12 bytes, got 10/);
    expect(() =>
      preprocessGrayImage(new Uint8Array(4), 2, 2, { width: 65, height: 64, deskew: false }),
    ).toThrow(/65×64 is more than 4096 inputs/);
    expect(() => resizeBilinear(new Float64Array(4), 2, 2, 0, 3)).toThrow(
      /target size must be positive integers/,
    );
  });
});
