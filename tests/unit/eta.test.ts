/**
 * The ETA model (src/wann/eta.ts) on synthetic searches shaped like the recorded ones (time per
 * generation = a pace × the calibrated growth shape, noise and slow outliers from a seeded stream):
 * the range holds the truth and narrows as the run goes; a steady run's time left is its rate × the
 * generations left; the estimate is a pure function of the history; the pre-start estimate grows
 * with the config's size and holds the recorded runs it was calibrated on.
 */
import { describe, expect, it } from 'vitest';
import {
  ETA_CALIBRATION,
  type EtaCalibration,
  type EtaSample,
  estimateRemaining,
  estimateRun,
  formatRange,
  formatSeconds,
  growthShape,
  shapeSum,
} from '../../src/wann/eta';

/** mulberry32: a small seeded stream for reproducible noise. */
function stream(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Search {
  samples: EtaSample[];
  /** Seconds from the end of generation `g` to the end of the run. */
  remainingAfter(g: number): number;
}

/**
 * A search of `total` generations taking `paceMs × shape(g)` each (shape: the calibrated growth,
 * or another one), ×(1 ± noise) per generation, and one generation in 50 three times slower (a
 * retried slice).
 */
function search(total: number, seed: number, paceMs = 330, shape = growthShape, noise = 0.15): Search {
  const next = stream(seed);
  const samples: EtaSample[] = [];
  for (let gen = 0; gen < total; gen++) {
    let ms = paceMs * shape(gen) * (1 + (next() * 2 - 1) * noise);
    if (next() < 0.02) ms *= 3;
    samples.push({ gen, durationMs: Math.round(ms), meanConnections: 128 });
  }
  const suffix = new Float64Array(total + 1);
  for (let g = total - 1; g >= 0; g--) suffix[g] = suffix[g + 1] + samples[g].durationMs / 1000;
  return { samples, remainingAfter: (g) => suffix[g + 1] };
}

const width = (r: { lowS: number; highS: number }) => r.highS / r.lowS;
const steadyCalibration: EtaCalibration = { ...ETA_CALIBRATION, growth: { ...ETA_CALIBRATION.growth, k: 0 } };

describe('estimateRemaining', () => {
  const total = 4096;

  it.each([100, 400, 1000, 2000, 3500])(
    'holds the true time left after %i generations of a search growing as calibrated',
    (seen) => {
      const s = search(total, seen);
      const truth = s.remainingAfter(seen - 1);
      const eta = estimateRemaining(s.samples.slice(0, seen), total)!;
      expect(eta.lowS).toBeLessThanOrEqual(eta.midS);
      expect(eta.midS).toBeLessThanOrEqual(eta.highS);
      expect(truth).toBeGreaterThanOrEqual(eta.lowS);
      expect(truth).toBeLessThanOrEqual(eta.highS);
      expect(Math.abs(eta.midS - truth) / truth).toBeLessThan(0.08);
    },
  );

  it('narrows as the run goes', () => {
    const s = search(total, 3);
    const widths = [50, 200, 800, 2000, 3500].map((seen) =>
      width(estimateRemaining(s.samples.slice(0, seen), total)!),
    );
    for (let i = 1; i < widths.length; i++) expect(widths[i]).toBeLessThan(widths[i - 1]);
    // At the start the range is about the calibrated drift; near the end a few per cent.
    expect(widths[0]).toBeGreaterThan(1.2);
    expect(widths[widths.length - 1]).toBeLessThan(1.05);
  });

  it('predicts the time left of a run at a steady rate from that rate', () => {
    const steady = (n: number) => Array.from({ length: n }, (_, gen) => ({ gen, durationMs: 500 }));
    // Without growth: exactly 0.5 s × the generations left.
    expect(estimateRemaining(steady(200), 1000, steadyCalibration)!.midS).toBeCloseTo(0.5 * 800, 6);
    // With the calibrated growth: the rate carried along the shape, a little more than flat, and no
    // more than the calibrated shape alone would add (the run's own flat growth pulls k down).
    const grown = estimateRemaining(steady(200), 1000)!;
    const flat = 0.5 * 800;
    const calibratedShape = 0.5 * (shapeSum(200, 1000) / shapeSum(100, 200)) * 100;
    expect(grown.midS).toBeGreaterThan(flat);
    expect(grown.midS).toBeLessThanOrEqual(calibratedShape);
    expect(grown.lowS).toBeLessThan(grown.midS);
    expect(grown.highS).toBeGreaterThan(grown.midS);
    // The longer it has been steady, the more its own growth counts: closer to flat.
    const excess = (seen: number, total: number) =>
      estimateRemaining(steady(seen), total)!.midS / (0.5 * (total - seen)) - 1;
    expect(excess(4000, 5000)).toBeLessThan(excess(200, 1200));
    expect(excess(4000, 5000)).toBeLessThan(0.01);
  });

  it('holds the truth at half way when a run grows faster or slower than calibrated (the drift range)', () => {
    const k = ETA_CALIBRATION.growth.k;
    for (const factor of [0.5, 1.5]) {
      const shape = (g: number) => 1 + k * factor * Math.log1p(g / ETA_CALIBRATION.growth.tau);
      const s = search(total, 9, 330, shape, 0.05);
      const eta = estimateRemaining(s.samples.slice(0, total / 2), total)!;
      const truth = s.remainingAfter(total / 2 - 1);
      expect(truth, `growth ×${factor}`).toBeGreaterThanOrEqual(eta.lowS);
      expect(truth, `growth ×${factor}`).toBeLessThanOrEqual(eta.highS);
    }
  });

  it('is not thrown by a slow outlier in a short history', () => {
    // 30 generations of ~300 ms, one of them a 28 s hiccup.
    const next = stream(21);
    const seen: EtaSample[] = Array.from({ length: 30 }, (_, gen) => ({
      gen,
      durationMs: gen === 13 ? 28_000 : Math.round(300 * (1 + (next() - 0.5) * 0.2)),
    }));
    const eta = estimateRemaining(seen, 5000)!;
    const left = 5000 - 30;
    // At least ~the typical time per generation for what is left.
    expect(eta.lowS).toBeGreaterThan(0.8 * 0.3 * left);
    // The outlier counts for its share of the time, not as a trend.
    expect(eta.midS).toBeLessThan(((28 + 29 * 0.3) / 30) * left * 1.5);
  });

  it('gives the same answer for the same history, whatever the order (a reload)', () => {
    const seen = search(total, 11).samples.slice(0, 700);
    const first = estimateRemaining(seen, total);
    const again = estimateRemaining(
      seen.map((r) => ({ ...r })),
      total,
    );
    const shuffled = [...seen].reverse();
    expect(again).toEqual(first);
    expect(estimateRemaining(shuffled, total)).toEqual(first);
  });

  it('moves little from one generation to the next', () => {
    const s = search(total, 5);
    const a = estimateRemaining(s.samples.slice(0, 800), total)!;
    const b = estimateRemaining(s.samples.slice(0, 801), total)!;
    expect(Math.abs(b.midS - a.midS) / a.midS).toBeLessThan(0.03);
  });

  it('answers null with no history, zero when done, and ignores non-finite rows', () => {
    expect(estimateRemaining([], 100)).toBeNull();
    const s = search(50, 1).samples;
    expect(estimateRemaining(s, 50)).toEqual({ lowS: 0, midS: 0, highS: 0 });
    const withBad = [...s.slice(0, 30), { gen: 30, durationMs: Number.NaN, meanConnections: 120 }];
    expect(estimateRemaining(withBad, 50)).toEqual(estimateRemaining(s.slice(0, 30), 50));
    // One generation: a range around its time × generations left (carried along the growth shape).
    const one = estimateRemaining([{ gen: 0, durationMs: 1000, meanConnections: 128 }], 11)!;
    expect(one.midS).toBeGreaterThanOrEqual(10);
    expect(one.midS).toBeLessThan(10.1);
    expect(one.lowS).toBeLessThan(10);
    expect(one.highS).toBeGreaterThan(10.1);
  });
});

describe('estimateRun', () => {
  const base = { population: 960, generations: 4096 };

  it('contains its likely value and grows with population, generations, weights and first networks', () => {
    const e = estimateRun(base, 2);
    expect(e.lowS).toBeLessThan(e.midS);
    expect(e.midS).toBeLessThan(e.highS);
    const more = [
      estimateRun({ ...base, population: 1920 }, 2),
      estimateRun({ ...base, generations: 8192 }, 2),
      estimateRun({ ...base, weights: [1, 2, 3, 4, 5, 6, 7, 8] }, 2),
      estimateRun({ ...base, initEnableProb: 0.2 }, 2),
      // A dataset of 784 features (28×28) starts with bigger networks than MNIST's 256.
      estimateRun({ ...base, inputs: 784 }, 2),
    ];
    for (const m of more) {
      expect(m.lowS).toBeGreaterThan(e.lowS);
      expect(m.midS).toBeGreaterThan(e.midS);
      expect(m.highS).toBeGreaterThan(e.highS);
    }
    // More evaluators: faster, not twice as fast (generation.json: 2 threads ×1.74).
    const four = estimateRun(base, 4);
    expect(four.midS).toBeLessThan(e.midS);
    expect(four.midS).toBeGreaterThan(e.midS / 2);
    // Generations cost more as they grow: twice the generations, more than twice the time.
    const node = { platform: false };
    expect(estimateRun({ ...base, generations: 8192 }, 2, node).midS).toBeGreaterThan(
      2 * estimateRun(base, 2, node).midS,
    );
  });

  it('holds the recorded runs it was calibrated on, and is no longer a factor of 15 wide', () => {
    // bench/results/search.json: 1,630 generations of population 960 in 600 s on 2 threads (its
    // minute-10 checkpoint) and 8,742 in 3,601 s (a Node search: no platform overhead).
    for (const [generations, seconds] of [
      [1630, 600],
      [8742, 3601],
    ]) {
      const e = estimateRun({ population: 960, generations }, 2, { platform: false });
      expect(e.lowS).toBeLessThan(seconds);
      expect(e.highS).toBeGreaterThan(seconds);
    }
    // Issue 19: the defaults read "31 m – 7 h 36 m"; a 96 × 40 run on the platform took 8 s.
    const defaults = estimateRun(base, 2);
    expect(width(defaults)).toBeLessThan(2.5);
    const small = estimateRun({ population: 96, generations: 40 }, 2);
    expect(small.lowS).toBeLessThan(8);
    expect(small.highS).toBeGreaterThan(8);
  });
});

describe('formatting', () => {
  it('prints durations and ranges', () => {
    expect(formatSeconds(42)).toBe('42 s');
    expect(formatSeconds(600)).toBe('10 m');
    expect(formatSeconds(6000)).toBe('1 h 40 m');
    expect(formatRange({ lowS: 6000, midS: 7000, highS: 7800 })).toBe('1 h 40 m – 2 h 10 m');
    expect(formatRange({ lowS: 59.6, midS: 60, highS: 60.2 })).toBe('1 m');
  });
});
