import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  deskew16,
  PREPROCESSED_FEATURES,
  preprocessImage,
  preprocessImages,
  resize28to16,
  skew16,
} from '../../src/data/preprocess';

// Golden values from OpenCV 4.6 itself (scripts/make-opencv-fixture.py), rounded to 7 decimals.
interface FixtureImage {
  name: string;
  index: number;
  skew: number | null;
  raw: string;
  resized: number[];
  deskewed: number[];
}
const fixture: { source: string; images: FixtureImage[] } = JSON.parse(
  readFileSync(new URL('../fixtures/opencv-preprocess.json', import.meta.url), 'utf8'),
);
const rawOf = (im: FixtureImage) => new Uint8Array(Buffer.from(im.raw, 'base64'));
const byName = (name: string) => fixture.images.find((im) => im.name === name)!;

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

// The implementation mirrors OpenCV's arithmetic, so the only differences are the fixture's
// 7-decimal rounding and float32 output (≤ 1e-7); one grey level is 1/255 ≈ 0.0039.
const TOLERANCE = 1e-6;

describe('preprocessing matches OpenCV (reference classify_gym.py)', () => {
  it('has a meaningful fixture', () => {
    expect(fixture.images.length).toBeGreaterThanOrEqual(48);
    expect(fixture.images.filter((im) => im.skew !== null).length).toBeGreaterThan(40);
  });

  it('resize28to16 equals cv2.resize(x / 255, (16, 16))', () => {
    let worst = 0;
    for (const im of fixture.images) worst = Math.max(worst, maxAbsDiff(resize28to16(rawOf(im)), im.resized));
    expect(worst).toBeLessThan(TOLERANCE);
  });

  it('skew16 equals mu11 / mu02 of cv2.moments, null where the reference skips', () => {
    for (const im of fixture.images) {
      const skew = skew16(resize28to16(rawOf(im), new Float64Array(PREPROCESSED_FEATURES)));
      if (im.skew === null) expect(skew, im.name).toBeNull();
      else expect(skew, im.name).toBeCloseTo(im.skew, 12);
    }
  });

  it('preprocessImage (resize + deskew) equals the reference deskew', () => {
    let worst = 0;
    for (const im of fixture.images)
      worst = Math.max(worst, maxAbsDiff(preprocessImage(rawOf(im)), im.deskewed));
    expect(worst).toBeLessThan(TOLERANCE);
  });

  it('deskew16 of a double-precision resize equals the reference deskew', () => {
    let worst = 0;
    for (const im of fixture.images) {
      const resized = resize28to16(rawOf(im), new Float64Array(PREPROCESSED_FEATURES));
      worst = Math.max(worst, maxAbsDiff(deskew16(resized), im.deskewed));
    }
    expect(worst).toBeLessThan(TOLERANCE);
  });

  it('accepts float input already in [0, 1]', () => {
    let worst64 = 0;
    let worst32 = 0;
    for (const im of fixture.images) {
      const raw = rawOf(im);
      const unit64 = Float64Array.from(raw, (v) => v / 255);
      worst64 = Math.max(worst64, maxAbsDiff(preprocessImage(unit64), preprocessImage(raw)));
      worst32 = Math.max(worst32, maxAbsDiff(preprocessImage(Float32Array.from(unit64)), im.deskewed));
    }
    expect(worst64).toBe(0); // same doubles in, same result
    expect(worst32).toBeLessThan(1e-3); // float32 inputs carry ~1e-8 rounding into the skew
  });

  it('returns images with |mu02| < 0.01 unchanged', () => {
    const zeros = new Float32Array(PREPROCESSED_FEATURES);
    expect(skew16(zeros)).toBeNull();
    const out = deskew16(zeros);
    expect(out).not.toBe(zeros);
    expect(Array.from(out)).toEqual(Array.from(zeros));

    // A non-empty image on a single row has mu02 = 0: copied as is, not warped.
    const bar = new Float32Array(PREPROCESSED_FEATURES);
    for (let x = 3; x < 13; x++) bar[8 * 16 + x] = x / 16;
    expect(skew16(bar)).toBeNull();
    expect(Array.from(deskew16(bar))).toEqual(Array.from(bar));

    for (const name of ['zeros', 'horizontal-bar']) {
      const im = byName(name);
      expect(maxAbsDiff(preprocessImage(rawOf(im)), im.resized)).toBeLessThan(TOLERANCE);
    }
  });

  it('preprocessImages equals preprocessImage per image, image-major', () => {
    const images = fixture.images.slice(0, 5);
    const pixels = new Uint8Array(images.length * 784);
    for (const [i, im] of images.entries()) pixels.set(rawOf(im), i * 784);
    const all = preprocessImages(pixels, images.length);
    expect(all.length).toBe(images.length * PREPROCESSED_FEATURES);
    for (const [i, im] of images.entries()) {
      const one = all.subarray(i * PREPROCESSED_FEATURES, (i + 1) * PREPROCESSED_FEATURES);
      expect(Array.from(one)).toEqual(Array.from(preprocessImage(rawOf(im))));
    }
    expect(preprocessImages(pixels).length).toBe(all.length); // count defaults to all images
  });

  it('rejects wrong sizes and in-place deskew', () => {
    expect(() => preprocessImage(new Uint8Array(783))).toThrow(/784 values/);
    expect(() => resize28to16(new Uint8Array(784), new Float32Array(255))).toThrow(/256 values/);
    expect(() => preprocessImages(new Uint8Array(784), 2)).toThrow(/2 28×28 images/);
    const img = new Float32Array(PREPROCESSED_FEATURES);
    expect(() => deskew16(img, img)).toThrow(/in place/);
  });
});
