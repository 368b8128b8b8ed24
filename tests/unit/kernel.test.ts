import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { stream } from '../../src/random';
import {
  ACTIVATION_MAX_ERROR,
  applyActivation32,
  applyActivationFast,
  applyActivationReference,
  EXP32_MIN,
  exp32,
  expFast32,
  fastExp,
} from '../../src/wann/activations';
import { compileKernel, Kernel } from '../../src/wann/kernel/kernel';

const module = compileKernel(readFileSync(new URL('../../src/wann/kernel/kernel.wasm', import.meta.url)));

/** Points as in activations.test.ts: near 0, moderate, large, awkward, non-finite. */
function samples(n: number): number[] {
  const rng = stream(31, 0, 'test', 0);
  const xs = [0, -0, 0.5, -0.5, 1, 2.5, 1e-300, 5e-324, 1e300, -1e300, 2 ** 52 + 1, 1e9 + 0.5];
  xs.push(Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY);
  while (xs.length < n) {
    const scale = [8, 100, 2e4, 1500][xs.length % 4];
    xs.push((rng.float() - 0.5) * scale);
  }
  return xs;
}

describe('WebAssembly kernel rows', () => {
  const k = new Kernel(module);
  const n = 4001; // odd: the kernel pads to even
  const buf = k.view(4 * n + 16);
  const xs = samples(n);

  it('activation rows equal the JS fast activations (exp-based ones within ~1e-15)', () => {
    buf.set(xs, 0);
    for (let id = 1; id <= 11; id++) {
      for (const w of [1, -2, 0.37]) {
        k.act[id](w, 0, n + 1, n);
        for (let i = 0; i < n; i++) {
          const y = w * xs[i];
          const got = buf[n + 1 + i];
          const fast = applyActivationFast(id, y);
          if (Number.isNaN(fast)) {
            expect(Number.isNaN(got), `act ${id}(${y})`).toBe(true);
            continue;
          }
          // Exact for all but gaussian/tanh/sigmoid: two exps each within 5e-16 relative (and
          // differences below 1e-300 where JS gives a subnormal and the kernel another).
          const tol = id === 4 ? 1e-15 * Math.abs(fast) + 1e-300 : id === 5 || id === 6 ? 1e-15 : 0;
          const ok = got === fast || Math.abs(got - fast) <= tol;
          expect(ok, `act ${id}(${y}) = ${got}, JS ${fast}`).toBe(true);
          if ((id === 4 || id === 5 || id === 6) && Math.abs(y) < 30) {
            // Against the Math.* formulas: the documented bound of the JS version, plus 2 ulp.
            const ref = applyActivationReference(id, y);
            expect(Math.abs(got - ref)).toBeLessThanOrEqual(ACTIVATION_MAX_ERROR[id].abs + 4.5e-16);
          }
        }
      }
    }
  });

  it('mirrored rows give act(y) and act(−y) for step, sigmoid, relu', () => {
    buf.set(xs, 0);
    for (const id of [2, 6, 9]) {
      k.mirror[id](1.5, 0, n + 1, 2 * n + 2, n);
      for (let i = 0; i < n; i++) {
        const y = 1.5 * xs[i];
        if (!Number.isFinite(y)) continue; // relu(−∞) by the identity is ∞ − ∞, as in the JS path
        const near = (a: number, b: number, tol: number) => a === b || Math.abs(a - b) <= tol;
        expect(near(buf[n + 1 + i], applyActivationFast(id, y), 3e-16), `${id}(${y})`).toBe(true);
        expect(near(buf[2 * n + 2 + i], applyActivationReference(id, -y), 5e-16), `${id}(${-y})`).toBe(true);
      }
    }
  });

  it('sums signed rows and float32 input rows left to right, and exp sums match fastExp', () => {
    const rng = stream(32, 0, 'test', 0);
    const len = 101;
    for (let i = 0; i < 9 * len; i++) buf[i] = (rng.float() - 0.5) * 10;
    const list = 10 * len;
    for (const terms of [1, 2, 4, 5, 9]) {
      for (const signed of [0, 1]) {
        for (let t = 0; t < terms; t++) {
          buf[list + 2 * t] = t * len;
          buf[list + 2 * t + 1] = signed && t % 2 ? -1 : 1;
        }
        k.sum(9 * len, list, terms, signed, len);
        for (let i = 0; i < len; i++) {
          let s = buf[list + 1] * buf[i];
          for (let t = 1; t < terms; t++) s += buf[list + 2 * t + 1] * buf[t * len + i];
          expect(buf[9 * len + i]).toBe(s);
        }
      }
    }
    // Input sums from float32 rows (the evaluator's per-tile input sums): bias + x_1 + … + x_n,
    // left to right, bit-identical to the JS path; odd lengths and a tile offset t0.
    const count = 53;
    const features = 11;
    const xByte = 1024 + 13000 * 8;
    const x = new Float32Array(k.buffer, xByte, features * count + 4);
    for (let q = 0; q < features * count; q++) x[q] = rng.chance(0.3) ? 0 : rng.float();
    const prog = new Int32Array(k.buffer, 1024 + 12000 * 8, 400);
    const rows: { bias: number; srcs: number[] }[] = [];
    let o = 0;
    for (const n of [0, 1, 2, 3, 4, 5, 8, 9, 13]) {
      const bias = rng.int(4);
      const srcs = Array.from({ length: n }, () => rng.int(features));
      prog[o++] = rows.length * 64;
      prog[o++] = bias;
      prog[o++] = n;
      for (const src of srcs) prog[o++] = src * count * 4;
      rows.push({ bias, srcs });
    }
    for (const t0 of [0, 4, 17]) {
      const n = count - t0;
      k.insums(1024 + 12000 * 8, rows.length, xByte + 4 * t0, n);
      rows.forEach(({ bias, srcs }, r) => {
        for (let i = 0; i < n; i++) {
          let s = bias;
          for (const src of srcs) s += x[src * count + t0 + i];
          expect(buf[r * 64 + i], `row ${r} t0 ${t0} example ${i}`).toBe(s);
        }
      });
    }
    // Softmax sums: 7 logit rows of a tile of 102, max row, sum and Σ 1/exp rows.
    const tile = 102;
    for (let j = 0; j < 7; j++) for (let i = 0; i < len; i++) buf[j * tile + i] = (rng.float() - 0.5) * 60;
    const max = 7 * tile;
    for (let i = 0; i < len; i++) {
      let m = -Infinity;
      for (let j = 0; j < 7; j++) m = Math.max(m, buf[j * tile + i]);
      buf[max + i] = m;
    }
    k.expsums(0, tile, max, max + tile, max + 2 * tile, 7, len);
    for (let i = 0; i < len; i++) {
      let s = 0;
      let r = 0;
      for (let j = 0; j < 7; j++) {
        const e = fastExp(buf[j * tile + i] - buf[max + i]);
        s += e;
        r += 1 / e;
      }
      expect(Math.abs(buf[max + tile + i] - s) / s).toBeLessThan(2e-15);
      expect(Math.abs(buf[max + 2 * tile + i] - r) / r).toBeLessThan(2e-15);
    }
  });
});

/** Same float32 value, NaN matching NaN (payloads aside) and +0 ≠ −0 not required. */
const sameF32 = (a: number, b: number) => a === b || (Number.isNaN(a) && Number.isNaN(b));

describe('WebAssembly kernel float32 search numerics', () => {
  // The float32 rows must be plain IEEE-754 float32 arithmetic (the same bits on every engine):
  // the kernel is checked bit for bit against the Math.fround model in activations.ts.
  const k = new Kernel(module);
  const n = 4001; // not a multiple of 4: the kernel pads to 4
  k.view(8 * n + 64);
  const xs = samples(n);
  const f = Math.fround;

  it('activation rows equal the float32 model bit for bit, and stay close to the exact functions', () => {
    const b32 = k.view32();
    b32.set(xs, 0);
    const x32 = b32.slice(0, n);
    // Mismatches collected (one expect per check: 176,000 points).
    const bad: string[] = [];
    let checked = 0;
    for (let id = 1; id <= 11; id++) {
      for (const w of [1, -2, 0.37, 0.5]) {
        k.act32[id](w, 0, n + 3, n);
        const out = k.view32();
        // Documented bounds (activations.ts "Float32 search numerics") plus the output's rounding.
        const tol = id === 3 || id === 10 ? 2.5e-7 : id >= 4 && id <= 6 ? 2e-7 : 0;
        for (let i = 0; i < n; i++) {
          const y = f(f(w) * x32[i]);
          const got = out[n + 3 + i];
          const model = applyActivation32(id, y);
          if (!sameF32(got, model)) bad.push(`act32 ${id}(${y}) = ${got}, model ${model}`);
          if (Number.isFinite(y) && Math.abs(y) < 1e4) {
            const ref = applyActivationReference(id, y);
            const round = id === 11 || id === 1 ? Math.abs(ref) * 2 ** -24 : 0;
            if (!(Math.abs(got - ref) <= tol + round)) bad.push(`act32 ${id}(${y}) = ${got}, exact ${ref}`);
            checked++;
          }
        }
      }
    }
    expect(bad.slice(0, 5)).toEqual([]);
    expect(checked).toBeGreaterThan(100_000);
  });

  it('mirrored rows give act(y) and act(−y) by the identities, in float32', () => {
    const b32 = k.view32();
    b32.set(xs, 0);
    const x32 = b32.slice(0, n);
    for (const id of [2, 6, 9]) {
      k.mirror32[id](1.5, 0, n + 3, 2 * n + 6, n);
      const out = k.view32();
      for (let i = 0; i < n; i++) {
        const y = f(1.5 * x32[i]);
        const v = applyActivation32(id, y);
        const m = id === 2 ? (y < 0 ? 1 : 0) : id === 6 ? f(1 - v) : f(v - y);
        expect(sameF32(out[n + 3 + i], v), `${id}(${y})`).toBe(true);
        expect(sameF32(out[2 * n + 6 + i], m), `${id}(${-y})`).toBe(true);
      }
    }
  });

  it('sums float32 rows and input rows left to right in float32; exp sums use exp32', () => {
    const rng = stream(33, 0, 'test', 0);
    const len = 101;
    const b32 = k.view32();
    for (let i = 0; i < 9 * len; i++) b32[i] = (rng.float() - 0.5) * 10;
    const buf = k.view(0);
    const list = 10 * len; // float64 index: the term list stays float64
    for (const terms of [1, 2, 4, 5, 9]) {
      for (const signed of [0, 1]) {
        for (let t = 0; t < terms; t++) {
          buf[list + 2 * t] = t * len;
          buf[list + 2 * t + 1] = signed && t % 2 ? -1 : 1;
        }
        k.sum32(9 * len, list, terms, signed, len);
        for (let i = 0; i < len; i++) {
          let s = f(buf[list + 1] * b32[i]);
          for (let t = 1; t < terms; t++) s = f(s + f(buf[list + 2 * t + 1] * b32[t * len + i]));
          expect(b32[9 * len + i]).toBe(s);
        }
      }
    }
    // Input sums: bias + x_1 + … + x_n, each addition rounded to float32; a tile offset t0.
    const count = 53;
    const features = 11;
    const xByte = 1024 + 13000 * 8;
    const x = new Float32Array(k.buffer, xByte, features * count + 4);
    for (let q = 0; q < features * count; q++) x[q] = rng.chance(0.3) ? 0 : rng.float() * 3;
    const prog = new Int32Array(k.buffer, 1024 + 12000 * 8, 400);
    const rows: { bias: number; srcs: number[] }[] = [];
    let o = 0;
    for (const nn of [0, 1, 2, 3, 4, 5, 8, 9, 13]) {
      const bias = rng.int(4);
      const srcs = Array.from({ length: nn }, () => rng.int(features));
      prog[o++] = rows.length * 64;
      prog[o++] = bias;
      prog[o++] = nn;
      for (const src of srcs) prog[o++] = src * count * 4;
      rows.push({ bias, srcs });
    }
    for (const t0 of [0, 4, 17]) {
      const m = count - t0;
      k.insums32(1024 + 12000 * 8, rows.length, xByte + 4 * t0, m);
      const out = k.view32();
      rows.forEach(({ bias, srcs }, r) => {
        for (let i = 0; i < m; i++) {
          let s = bias;
          for (const src of srcs) s = f(s + x[src * count + t0 + i]);
          expect(out[r * 64 + i], `row ${r} t0 ${t0} example ${i}`).toBe(s);
        }
      });
    }
    // Softmax sums from float64 logits: Σ_j exp32(l_j − max) and Σ 1/exp32 in float64, j in order.
    const tile = 104;
    for (let j = 0; j < 7; j++) for (let i = 0; i < len; i++) buf[j * tile + i] = (rng.float() - 0.5) * 60;
    buf[3 * tile + 5] = -1e300; // far below the max: exp32 gives 0
    const max = 7 * tile;
    for (let i = 0; i < len; i++) {
      let mx = -Infinity;
      for (let j = 0; j < 7; j++) mx = Math.max(mx, buf[j * tile + i]);
      buf[max + i] = mx;
    }
    const exps = max + 3 * tile;
    k.expsums32(0, tile, max, max + tile, max + 2 * tile, exps, 7, len);
    for (let i = 0; i < len; i++) {
      let s = 0;
      let r = 0;
      for (let j = 0; j < 7; j++) {
        const e = exp32(buf[j * tile + i] - buf[max + i]);
        expect(buf[exps + j * tile + i]).toBe(e);
        s += e;
        r += 1 / e;
      }
      expect(buf[max + tile + i]).toBe(s);
      expect(buf[max + 2 * tile + i]).toBe(r);
    }
    // The `fastExp` option's sums: the same, with expFast32's exps.
    k.expsums32fast(0, tile, max, max + tile, max + 2 * tile, exps, 7, len);
    for (let i = 0; i < len; i++) {
      let s = 0;
      let r = 0;
      for (let j = 0; j < 7; j++) {
        const e = expFast32(buf[j * tile + i] - buf[max + i]);
        expect(buf[exps + j * tile + i]).toBe(e);
        s += e;
        r += 1 / e;
      }
      expect(buf[max + tile + i]).toBe(s);
      expect(buf[max + 2 * tile + i]).toBe(r);
    }
  });

  it('expFast32 (the fastExp option) stays within 1e-5 relative of e^x on the softmax range', () => {
    // The softmax's arguments are logit − max: [EXP32_MIN, 0] (below: 0, as exp32). A dense grid
    // (every ~4e-5), every float32 on [−1, 0] near a multiple of 1/64, and the ends.
    let worst = 0;
    let worstExp32 = 0;
    const check = (x: number) => {
      const t = f(x);
      if (t < f(EXP32_MIN)) return;
      const exact = Math.exp(t);
      worst = Math.max(worst, Math.abs(expFast32(t) - exact) / exact);
      worstExp32 = Math.max(worstExp32, Math.abs(exp32(t) - exact) / exact);
    };
    const steps = 2_000_000;
    for (let q = 0; q <= steps; q++) check((EXP32_MIN * q) / steps);
    for (let m = 0; m <= 64; m++) {
      const c = f(-m / 64);
      let x = c;
      for (let u = 0; u < 64; u++) {
        check(x);
        x = f(x * (1 + 2 ** -23)); // the next float32s below
      }
    }
    check(f(EXP32_MIN));
    check(-0);
    expect(expFast32(0)).toBeCloseTo(1, 5);
    expect(expFast32(EXP32_MIN - 1)).toBe(0);
    expect(worst).toBeLessThan(1e-5);
    expect(worst).toBeGreaterThan(worstExp32); // coarser than exp32: the test measures something
  });
});
