import { describe, expect, it } from 'vitest';
import { stream } from '../../src/random';
import {
  ACTIVATION_MAX_ERROR,
  activationParity,
  applyActivation,
  applyActivation2,
  applyActivation32,
  applyActivationFast,
  applyActivationMirrored,
  applyActivationReference,
  EXP32_MIN,
  exp32,
  FAST_EXP_MAX_REL_ERROR,
  fastExp,
  PARITY_EVEN,
  PARITY_MIRRORED,
  PARITY_ODD,
} from '../../src/wann/activations';

const IDS = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11];
const ULP1 = 2 ** -52;

/** Sample points: dense near 0, moderate, large, tiny, and awkward values (integers, halves). */
function samples(): number[] {
  const rng = stream(1, 0, 'test', 0);
  const xs: number[] = [0, -0, 0.5, -0.5, 1, -1, 1.5, 2, 2.5, 1e-300, -1e-300, 5e-324, 1e-8, -1e-8];
  for (let i = 0; i < 4000; i++) xs.push((rng.float() - 0.5) * 8);
  for (let i = 0; i < 2000; i++) xs.push((rng.float() - 0.5) * 100);
  for (let i = 0; i < 500; i++) xs.push((rng.float() - 0.5) * 2e4);
  for (let k = -40; k <= 40; k++) xs.push(k / 4, k / 4 + 1e-12, k / 4 - 1e-12);
  return xs;
}

/** Tolerance: the documented bound plus the reference's own rounding (Math.* within ~1 ulp). */
function tolerance(id: number, x: number, ref: number): number {
  const bound = ACTIVATION_MAX_ERROR[id];
  let tol = bound.abs + bound.rel * Math.abs(ref) + 2 * ULP1 * Math.abs(ref);
  // Math.sin(Math.PI * x) rounds π·x first: its own error grows like |x|·π·2^-53.
  if (id === 3 || id === 10) tol += Math.abs(x) * Math.PI * 2 ** -52;
  return tol;
}

describe('reference activations', () => {
  it('follow the formulas of WANN.md', () => {
    const f = applyActivationReference;
    expect(f(1, -3.5)).toBe(-3.5);
    expect([f(2, 0.1), f(2, 0), f(2, -0.1)]).toEqual([1, 0, 0]);
    expect(f(3, 0.5)).toBeCloseTo(1, 15);
    expect(f(3, 1)).toBeCloseTo(0, 15);
    expect(f(4, 0)).toBe(1);
    expect(f(4, 2)).toBeCloseTo(Math.exp(-2), 15);
    expect(f(5, 0.3)).toBeCloseTo(Math.tanh(0.3), 15);
    expect(f(6, 0)).toBe(0.5);
    expect(f(6, 2)).toBeCloseTo(1 / (1 + Math.exp(-2)), 15);
    expect(f(7, 2)).toBe(-2);
    expect(f(8, -2)).toBe(2);
    expect([f(9, -2), f(9, 3)]).toEqual([0, 3]);
    expect(f(10, 0)).toBe(1);
    expect(f(10, 1)).toBe(-1);
    expect(f(11, -3)).toBe(9);
    expect(() => f(0, 1)).toThrow(RangeError);
    expect(() => f(12, 1)).toThrow(RangeError);
  });
});

describe('fast activations', () => {
  const xs = samples();

  for (const id of IDS) {
    it(`activation ${id} matches its reference within the documented error`, () => {
      let worst = 0;
      for (const x of xs) {
        const ref = applyActivationReference(id, x);
        const fast = applyActivationFast(id, x);
        const err = Math.abs(fast - ref);
        if (!(err <= tolerance(id, x, ref))) {
          throw new Error(`act ${id}(${x}) = ${fast}, reference ${ref}, error ${err}`);
        }
        if (Math.abs(x) <= 4) worst = Math.max(worst, err);
      }
      // Near the origin, where Math.* is itself accurate: a few units in the last place at most.
      expect(worst).toBeLessThan(2e-15);
    });
  }

  it('step, abs, relu, linear, inverse and squared are exact', () => {
    for (const id of [1, 2, 7, 8, 9, 11]) {
      for (const x of xs) expect(applyActivationFast(id, x)).toBe(applyActivationReference(id, x));
    }
  });

  it('never turn a finite input into NaN, and saturate correctly at extremes', () => {
    const extremes = [
      1e300,
      -1e300,
      1.7976931348623157e308,
      -1.7976931348623157e308,
      1e20,
      -1e20,
      2 ** 53 + 2,
    ];
    for (const id of IDS) {
      for (const x of extremes) {
        const v = applyActivationFast(id, x);
        expect(Number.isNaN(v), `act ${id}(${x})`).toBe(false);
      }
    }
    expect(applyActivationFast(5, 1e300)).toBe(1);
    expect(applyActivationFast(5, -1e300)).toBe(-1);
    expect(applyActivationFast(5, 25)).toBe(1);
    expect(applyActivationFast(6, 1e300)).toBe(1);
    expect(applyActivationFast(6, -1e300)).toBeLessThan(1e-300);
    expect(applyActivationFast(4, 1e300)).toBeLessThan(1e-323);
    expect(applyActivationFast(4, Number.POSITIVE_INFINITY)).toBeLessThan(1e-323);
    // sin/cos of a huge (hence even integer) argument: exactly 0 and 1.
    expect(applyActivationFast(3, 1e300)).toBe(0);
    expect(applyActivationFast(10, 1e300)).toBe(1);
    expect(applyActivationFast(10, 2 ** 52 + 1)).toBe(-1);
    expect(applyActivationFast(3, 1e9 + 0.5)).toBe(1);
    expect(applyActivationFast(3, -(1e9 + 0.5))).toBe(-1);
  });

  it('propagate NaN like the reference (and ±∞ where the reference is defined)', () => {
    for (const id of IDS) {
      for (const x of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]) {
        const ref = applyActivationReference(id, x);
        const fast = applyActivationFast(id, x);
        if (Number.isNaN(ref)) expect(Number.isNaN(fast), `act ${id}(${x})`).toBe(true);
        else expect(fast, `act ${id}(${x})`).toBeCloseTo(ref, 300);
      }
    }
  });

  it('the row kernel equals the scalar fast version element by element', () => {
    const rng = stream(2, 0, 'test', 0);
    const n = 257;
    const buf = new Float64Array(3 * n);
    for (let i = 0; i < n; i++) buf[5 + i] = (rng.float() - 0.5) * 20;
    for (const id of IDS) {
      for (const w of [-2, -0.5, 1, 1.7]) {
        applyActivation(id, w, buf, 5, buf, n + 9, n);
        for (let i = 0; i < n; i++) expect(buf[n + 9 + i]).toBe(applyActivationFast(id, w * buf[5 + i]));
      }
    }
    expect(() => applyActivation(0, 1, buf, 0, buf, n, 1)).toThrow(RangeError);
  });

  it('the two-source kernel equals act(w · (x + s·y)) element by element', () => {
    const rng = stream(4, 0, 'test', 0);
    const n = 131;
    const buf = new Float64Array(4 * n);
    for (let i = 0; i < 2 * n; i++) buf[i] = (rng.float() - 0.5) * 20;
    for (const id of IDS) {
      for (const w of [-2, 0.5, 1.3]) {
        for (const sign of [1, -1]) {
          applyActivation2(id, w, buf, 0, n, sign, buf, 2 * n + 3, n);
          for (let i = 0; i < n; i++) {
            expect(buf[2 * n + 3 + i]).toBe(applyActivationFast(id, w * (buf[i] + sign * buf[n + i])));
          }
        }
      }
    }
    expect(() => applyActivation2(12, 1, buf, 0, n, 1, buf, 2 * n, 1)).toThrow(RangeError);
  });

  it('declares the right parity, and the mirrored kernel gives act(−w·x)', () => {
    const xs2 = samples().slice(0, 2000);
    for (const id of IDS) {
      const parity = activationParity(id);
      for (const x of xs2) {
        const f = applyActivationReference(id, x);
        const g = applyActivationReference(id, -x);
        if (parity === PARITY_EVEN)
          expect(Math.abs(g - f)).toBeLessThanOrEqual(4 * ULP1 * Math.max(1, Math.abs(f)));
        else if (parity === PARITY_ODD)
          expect(Math.abs(g + f)).toBeLessThanOrEqual(4 * ULP1 * Math.max(1, Math.abs(f)));
      }
      if (parity !== PARITY_MIRRORED) continue;
      const n = xs2.length;
      const x = Float64Array.from(xs2);
      const out = new Float64Array(n);
      const mirror = new Float64Array(n);
      const y = Float64Array.from(x, (v, i) => v * ((i % 7) - 3));
      const xy = new Float64Array(2 * n);
      xy.set(x);
      xy.set(y, n);
      for (const w of [2, -1, 0.5]) {
        applyActivationMirrored(id, w, x, 0, -1, 1, out, 0, mirror, 0, n);
        for (let i = 0; i < n; i++) {
          expect(out[i]).toBe(applyActivationFast(id, w * x[i]));
          expect(Math.abs(mirror[i] - applyActivationReference(id, -w * x[i]))).toBeLessThanOrEqual(5e-16);
        }
        // Two sources: y = w · (x + s·y).
        for (const sign of [1, -1]) {
          applyActivationMirrored(id, w, xy, 0, n, sign, out, 0, mirror, 0, n);
          for (let i = 0; i < n; i++) {
            const pre = w * (x[i] + sign * y[i]);
            expect(out[i]).toBe(applyActivationFast(id, pre));
            expect(Math.abs(mirror[i] - applyActivationReference(id, -pre))).toBeLessThanOrEqual(5e-16);
          }
        }
      }
    }
    expect([2, 6, 9].map(activationParity)).toEqual([PARITY_MIRRORED, PARITY_MIRRORED, PARITY_MIRRORED]);
    const one = new Float64Array(2);
    expect(() => applyActivationMirrored(5, 1, one, 0, -1, 1, one, 1, one, 1, 1)).toThrow(RangeError);
    expect(() => applyActivationMirrored(5, 1, one, 0, 1, 1, one, 1, one, 1, 1)).toThrow(RangeError);
  });
});

describe('fastExp', () => {
  it('has relative error within the documented bound over the whole normal range', () => {
    const rng = stream(3, 0, 'test', 0);
    let worst = 0;
    for (let i = 0; i < 20000; i++) {
      const x = i < 10000 ? (rng.float() - 0.5) * 60 : -708 + rng.float() * 1417;
      const ref = Math.exp(x);
      const rel = Math.abs(fastExp(x) - ref) / ref;
      worst = Math.max(worst, rel);
    }
    // Math.exp is itself within ~1 ulp.
    expect(worst).toBeLessThanOrEqual(FAST_EXP_MAX_REL_ERROR + 2 * ULP1);
  });

  it('is exact where it must be and saturates', () => {
    expect(fastExp(0)).toBe(1);
    expect(fastExp(-0)).toBe(1);
    expect(fastExp(-746)).toBe(0);
    expect(fastExp(-1e300)).toBe(0);
    expect(fastExp(Number.NEGATIVE_INFINITY)).toBe(0);
    expect(fastExp(710)).toBe(Number.POSITIVE_INFINITY);
    expect(fastExp(709.5)).toBe(Math.exp(709.5));
    expect(fastExp(Number.POSITIVE_INFINITY)).toBe(Number.POSITIVE_INFINITY);
    expect(Number.isNaN(fastExp(Number.NaN))).toBe(true);
    // Subnormal results: within 1e-323 absolute.
    for (const x of [-708.5, -720, -740, -745])
      expect(Math.abs(fastExp(x) - Math.exp(x))).toBeLessThan(1e-323);
  });
});

describe("float32 search numerics (the model of the kernel's float32 rows)", () => {
  const f = Math.fround;
  it('exp32: relative error ≤ 1.2e-7 over the float32 range, 0 below EXP32_MIN, NaN → NaN', () => {
    const rng = stream(4, 0, 'test', 0);
    let worst = 0;
    for (let i = 0; i < 20000; i++) {
      const x = f(i < 10000 ? (rng.float() - 0.5) * 30 : -87.29 + rng.float() * 175.2);
      const got = exp32(x);
      expect(f(got)).toBe(got); // a float32 value
      worst = Math.max(worst, Math.abs(got - Math.exp(x)) / Math.exp(x));
    }
    expect(worst).toBeLessThanOrEqual(1.2e-7);
    expect(worst).toBeGreaterThan(1e-9); // float32, not float64
    expect(exp32(0)).toBe(1);
    expect(exp32(EXP32_MIN - 0.01)).toBe(0);
    expect(exp32(-1e300)).toBe(0);
    expect(exp32(Number.NEGATIVE_INFINITY)).toBe(0);
    expect(Number.isNaN(exp32(Number.NaN))).toBe(true);
  });

  it('activations: float32 values within the documented bounds of the exact functions', () => {
    const bounds: Record<number, number> = { 3: 2.5e-7, 4: 1.5e-7, 5: 2e-7, 6: 2e-7, 10: 2.5e-7 };
    for (const id of IDS) {
      let worst = 0;
      for (const x of samples()) {
        const y = f(x);
        if (Math.abs(y) > 1e4) continue;
        const got = applyActivation32(id, y);
        expect(f(got), `act ${id}(${y})`).toBe(got);
        const ref = applyActivationReference(id, y);
        const exact = id === 1 || id === 11 ? Math.abs(ref) * 2 ** -24 : 0; // output rounding
        worst = Math.max(worst, Math.abs(got - ref) - exact);
      }
      expect(worst, `act ${id}`).toBeLessThanOrEqual(bounds[id] ?? 0);
    }
    // Exact where the float64 versions are: sin/cos at integers and half-integers, saturation.
    for (let k = -8; k <= 8; k++) {
      expect(Math.abs(applyActivation32(3, k))).toBe(0);
      expect(Math.abs(applyActivation32(10, k + 0.5))).toBe(0);
    }
    expect(applyActivation32(5, 50)).toBe(1);
    expect(applyActivation32(5, -50)).toBe(-1);
    expect(applyActivation32(6, -1e30)).toBeLessThan(1e-37);
    expect(applyActivation32(4, 1e30)).toBe(0);
    for (const id of IDS) {
      if (id === 2) continue; // step(NaN) = 0, as the reference
      expect(Number.isNaN(applyActivation32(id, Number.NaN)), `act ${id}(NaN)`).toBe(true);
    }
  });
});
