/**
 * The 11 WANN activation functions (ids as in WANN.md / `activation-ids.ts`).
 *
 * Two implementations:
 * - `applyActivationReference(id, x)`: the formulas written with `Math.*`, the ground truth the fast
 *   versions are tested against.
 * - Fast versions for the evaluation hot loop (`applyActivation` over a row of a batch, and scalar
 *   `fastExp`, `fastTanh`, `fastSigmoid`, `fastGaussian`, `fastSinPi`, `fastCosPi`). They use only
 *   `+ − × ÷`, comparisons and constant tables, so V8 inlines them into the loops (no calls into the
 *   runtime: `Math.tanh` costs ~30 ns here, `Math.exp` 13–19 ns) and, apart from `fastExp` above 709
 *   (deferred to `Math.exp`), they give bit-identical results on every IEEE-754 engine. They are accurate to a few units in the last place of a double, far
 *   below anything that could change a fitness (`ACTIVATION_MAX_ERROR` states the bounds, the unit
 *   tests check them):
 *   - exp: range reduction x = k·ln2/64 + r, |r| ≤ ln2/128, e^x = 2^(k/64)·p(r) with a table of the
 *     64 values 2^(j/64) (correctly rounded literals), exact powers of two, and a degree-5 Taylor
 *     polynomial (truncation error < 4e-17). Relative error ≤ 4e-16 for normal results (measured 3.3e-16).
 *   - sin(πx), cos(πx): x = n + r with n the nearest integer, |r| ≤ ½ (exact in floating point), and
 *     sin(πx) = (−1)ⁿ·r·P(r²), P of degree 7 (minimax, fit error 1.2e-16 relative), cos(πx) =
 *     (−1)ⁿ·sin(π(½ − |r|)) with the same P. Reducing x itself, not πx, makes them exact where it
 *     matters (sin = 0 at integers, cos = 0 at half-integers, ±1 at the peaks, where
 *     `Math.sin(Math.PI)` is 1.2e-16: a `step` after them sees the true sign) and more accurate
 *     than `Math.sin(Math.PI * x)` for large |x|. Absolute error ≤ 8e-16 (measured 5.7e-16:
 *     Horner rounding near |sin| = 1).
 *   - tanh(x) = (1 − e)/(1 + e) with e = exp(−2x), x clamped to ±20 (tanh(20) = 1 − 8e-18 rounds to 1).
 *     Absolute error ≤ 4e-16, measured 2.5e-16 (relative error grows near 0, where only absolute error
 *     matters: ~1e-9 at x = 1e-8).
 *   - sigmoid(x) = 1/(1 + exp(−x)), x clamped to ±700. Absolute error ≤ 3e-16 (measured 1.7e-16).
 *   - gaussian(x) = exp(max(−x²/2, −745.2)). Absolute error ≤ 3e-16 (measured 2.1e-16).
 *   Measured = maximum over 900,000 points against 40-digit mpmath values.
 *
 * Robustness: every fast function maps finite input, however large, to a finite value (tanh(±huge)
 * = ±1, sigmoid → 0/1, gaussian → 0, sin/cos of a huge x, which is an integer, = 0/±1). NaN gives NaN
 * and ±∞ gives the same as the reference (NaN for sin/cos of ±∞, like `Math.sin`), except step/relu
 * which follow their reference definitions (step(NaN) = 0, relu(NaN) = NaN).
 */

import { ACTIVATION_COUNT, ACTIVATION_IDS, tableById } from './activation-ids';

/** Reference implementation: each activation exactly as its formula, with `Math.*`. */
export function applyActivationReference(id: number, x: number): number {
  switch (id) {
    case ACTIVATION_IDS.linear:
      return x;
    case ACTIVATION_IDS.step:
      return x > 0 ? 1 : 0;
    case ACTIVATION_IDS.sin:
      return Math.sin(Math.PI * x);
    case ACTIVATION_IDS.gaussian:
      return Math.exp((-x * x) / 2);
    case ACTIVATION_IDS.tanh:
      return Math.tanh(x);
    case ACTIVATION_IDS.sigmoid:
      return (Math.tanh(x / 2) + 1) / 2;
    case ACTIVATION_IDS.inverse:
      return -x;
    case ACTIVATION_IDS.abs:
      return Math.abs(x);
    case ACTIVATION_IDS.relu:
      return Math.max(0, x);
    case ACTIVATION_IDS.cos:
      return Math.cos(Math.PI * x);
    case ACTIVATION_IDS.squared:
      return x * x;
    default:
      throw new RangeError(`unknown activation id ${id} (1–${ACTIVATION_COUNT})`);
  }
}

/**
 * Documented maximum error of each fast activation against the exact function, as
 * `abs + rel·|exact|` (checked by tests/unit/activations.test.ts against the Math.* reference over
 * wide ranges; the Math.* functions themselves are within ~1 ulp). 0 = exact.
 */
export const ACTIVATION_MAX_ERROR: Readonly<Record<number, { abs: number; rel: number }>> = {
  [ACTIVATION_IDS.linear]: { abs: 0, rel: 0 },
  [ACTIVATION_IDS.step]: { abs: 0, rel: 0 },
  [ACTIVATION_IDS.sin]: { abs: 8e-16, rel: 0 },
  [ACTIVATION_IDS.gaussian]: { abs: 3e-16, rel: 0 },
  [ACTIVATION_IDS.tanh]: { abs: 4e-16, rel: 0 },
  [ACTIVATION_IDS.sigmoid]: { abs: 3e-16, rel: 0 },
  [ACTIVATION_IDS.inverse]: { abs: 0, rel: 0 },
  [ACTIVATION_IDS.abs]: { abs: 0, rel: 0 },
  [ACTIVATION_IDS.relu]: { abs: 0, rel: 0 },
  [ACTIVATION_IDS.cos]: { abs: 8e-16, rel: 0 },
  [ACTIVATION_IDS.squared]: { abs: 0, rel: 0 },
};
/** Documented relative error of `fastExp` for results ≥ 2.2e-308 (below: absolute error < 1e-323). */
export const FAST_EXP_MAX_REL_ERROR = 4e-16;

// ---------------------------------------------------------------------------------------------
// exp

/** Adding and subtracting 1.5·2^52 rounds a double of magnitude < 2^51 to the nearest integer. */
const ROUND_MAGIC = 6755399441055744;
const INV_LN2_64 = 64 / Math.LN2;
// fdlibm's split of ln 2: the high part has 21 trailing zero bits, so k·hi is exact for |k| < 2^21.
const LN2_64_HI = 0.6931471803691238 / 64;
const LN2_64_LO = 1.9082149292705877e-10 / 64;

/** 2^(j/64), j = 0..63, correctly rounded. */
const EXP2_FRACTION = new Float64Array([
  1.0,
  1.0108892860517005,
  1.0218971486541166,
  1.0330248790212284,
  1.0442737824274138,
  1.0556451783605572,
  1.0671404006768237,
  1.0787607977571199,
  1.0905077326652577,
  1.102382583307841,
  1.1143867425958924,
  1.1265216186082418,
  1.1387886347566916,
  1.1511892299529827,
  1.1637248587775775,
  1.1763969916502812,
  1.189207115002721,
  1.202156731452703,
  1.215247359980469,
  1.22848053610687,
  1.241857812073484,
  1.255380757024691,
  1.2690509571917332,
  1.2828700160787783,
  1.2968395546510096,
  1.3109612115247644,
  1.3252366431597413,
  1.339667524053303,
  1.3542555469368927,
  1.3690024229745905,
  1.383909881963832,
  1.3989796725383112,
  Math.SQRT2,
  1.42961333839197,
  1.4451808069770467,
  1.460917794180647,
  1.4768261459394993,
  1.4929077282912648,
  1.5091644275934228,
  1.5255981507445384,
  1.5422108254079407,
  1.559004400237837,
  1.5759808451078865,
  1.593142151342267,
  1.6104903319492543,
  1.6280274218573478,
  1.645755478153965,
  1.6636765803267364,
  1.681792830507429,
  1.7001063537185235,
  1.718619298122478,
  1.7373338352737062,
  1.7562521603732995,
  1.7753764925265212,
  1.7947090750031072,
  1.8142521755003989,
  1.8340080864093424,
  1.8539791250833855,
  1.8741676341103,
  1.8945759815869656,
  1.9152065613971474,
  1.9360617934922943,
  1.9571441241754002,
  1.978456026387951,
]);

/** 2^m for m = −1080..1023 at index m + POW2_BIAS (exact doubling/halving; below −1074 it is 0). */
const POW2_BIAS = 1080;
const POW2 = (() => {
  const t = new Float64Array(POW2_BIAS + 1024);
  let p = 1;
  for (let m = 0; m <= 1023; m++, p *= 2) t[m + POW2_BIAS] = p;
  p = 1;
  for (let m = 0; m >= -POW2_BIAS; m--, p /= 2) t[m + POW2_BIAS] = p;
  return t;
})();

/** Lowest argument the table path handles: below it e^x < 5e-324 and the result is 0. */
const EXP_ARG_MIN = -745.2;
/** Highest argument the table path handles (2^1023·2 would overflow the POW2 table). */
const EXP_ARG_MAX = 709;

/**
 * e^x for EXP_ARG_MIN ≤ x ≤ EXP_ARG_MAX, no range checks (callers clamp). Relative error ≤ 4e-16
 * while the result is a normal double (x ≥ −708.39); subnormal results are within 1e-323.
 */
function expCore(x: number): number {
  const k = x * INV_LN2_64 + ROUND_MAGIC - ROUND_MAGIC;
  const r = x - k * LN2_64_HI - k * LN2_64_LO;
  const ki = k | 0;
  const p = 1 + r * (1 + r * (0.5 + r * (1 / 6 + r * (1 / 24 + r * (1 / 120)))));
  return EXP2_FRACTION[ki & 63] * POW2[(ki >> 6) + POW2_BIAS] * p;
}

/** Fast e^x for any x: relative error ≤ 4e-16; 0 for x < −745.2; overflow → Infinity; NaN → NaN. */
export function fastExp(x: number): number {
  if (x > EXP_ARG_MAX) return Math.exp(x); // 709 < x: near or beyond overflow, rare
  if (x < EXP_ARG_MIN) return 0;
  return expCore(x);
}

/** Fast tanh: absolute error ≤ 4e-16; ±1 for |x| ≥ 20; NaN → NaN. */
export function fastTanh(x: number): number {
  // Clamping keeps e = exp(−2x) finite; Math.min/max propagate NaN.
  const e = expCore(-2 * Math.max(-20, Math.min(20, x)));
  return (1 - e) / (1 + e);
}

/** Fast logistic sigmoid 1/(1 + e^−x) = (tanh(x/2) + 1)/2: absolute error ≤ 3e-16; NaN → NaN. */
export function fastSigmoid(x: number): number {
  return 1 / (1 + expCore(-Math.max(-700, Math.min(700, x))));
}

/** Fast exp(−x²/2): absolute error ≤ 3e-16; 0 (or < 5e-324) for |x| ≥ 38.6; NaN → NaN. */
export function fastGaussian(x: number): number {
  return expCore(Math.max(EXP_ARG_MIN, -0.5 * x * x));
}

// sin(πr)/r as a polynomial in u = r², |r| ≤ ½: minimax fit (mpmath chebyfit, degree 7 in u).
const S0 = Math.PI; // the fit gives π − 1 ulp; π is as good
const S1 = -5.1677127800497855;
const S2 = 2.5501640398618677;
const S3 = -0.599264528825224;
const S4 = 0.08214587881631043;
const S5 = -0.0073703643265304155;
const S6 = 0.0004659870158043378;
const S7 = -2.113362735205297e-5;
/** |x| below this rounds with ROUND_MAGIC and its nearest integer fits an int32 (parity by `& 1`). */
const PI_ARG_FAST = 1e9;

/** Fast sin(πx): absolute error ≤ 8e-16 for every finite x; ±∞/NaN → NaN. */
export function fastSinPi(x: number): number {
  // Rare: reduce huge |x| exactly (fmod is exact); keeps the sign's parity trick within int32.
  if (!(x < PI_ARG_FAST && x > -PI_ARG_FAST)) x %= 2;
  const n = x + ROUND_MAGIC - ROUND_MAGIC;
  const r = x - n; // exact
  const u = r * r;
  const s = r * (S0 + u * (S1 + u * (S2 + u * (S3 + u * (S4 + u * (S5 + u * (S6 + u * S7)))))));
  // (−1)^n without a data-dependent branch (a mispredicted branch costs more than the polynomial).
  return s * (1 - 2 * (n & 1));
}

/**
 * Fast cos(πx) = (−1)ⁿ·sin(π(½ − |r|)) with the same reduction as `fastSinPi`: exactly 0 at
 * half-integers and ±1 at integers. Absolute error ≤ 8e-16 for every finite x; ±∞/NaN → NaN.
 */
export function fastCosPi(x: number): number {
  if (!(x < PI_ARG_FAST && x > -PI_ARG_FAST)) x %= 2;
  const n = x + ROUND_MAGIC - ROUND_MAGIC;
  const r = x - n;
  const t = 0.5 - Math.abs(r); // exact for |r| ≥ ¼, else within 2^-54
  const u = t * t;
  const c = t * (S0 + u * (S1 + u * (S2 + u * (S3 + u * (S4 + u * (S5 + u * (S6 + u * S7)))))));
  return c * (1 - 2 * (n & 1));
}

// ---------------------------------------------------------------------------------------------
// Float32 search numerics: the model of the WebAssembly kernel's float32 rows (`act32_*`,
// `expsums32` in scripts/build-kernel.ts, which takes its constants from here). Each step is one
// IEEE-754 float32 operation, written here as a double operation rounded with Math.fround (exact
// for + − × ÷ of float32 operands: the double result rounds to the same float32), so these give
// the kernel's bits; tests/unit/kernel.test.ts checks that they do. Accuracy (against the exact
// functions, at float32 arguments): exp ≤ 1.2e-7 relative, sin/cos ≤ 2.5e-7 absolute, tanh and
// sigmoid ≤ 2e-7 absolute, gaussian ≤ 1.5e-7 absolute.

const f32 = Math.fround;
/**
 * e^r on |r| ≤ ln2/2, degree 6: least squares on Chebyshev nodes (relative), coefficients rounded
 * to float32; relative error of the float32 evaluation ≤ 1e-7.
 */
export const EXP32_POLY: readonly number[] = [
  1.0, 1.0, 0.49999991059303284, 0.1666642129421234, 0.0416683591902256, 0.008374771103262901,
  0.0013829420786350965,
];
/** sin(πr)/r as a polynomial in u = r², |r| ≤ ½, degree 4 (fitted as above): abs. error ≤ 2e-7. */
export const SIN32_POLY: readonly number[] = [
  3.1415927410125732, -5.167710304260254, 2.550079107284546, -0.5982944965362549, 0.07765549421310425,
];
/** ln 2 split for float32: the high part has 12 trailing zero bits, so k·hi is exact for |k| < 2^12. */
export const LN2_HI32 = 0.693359375;
export const LN2_LO32 = f32(Math.LN2 - 0.693359375);
/** 1.5·2^23: adding it rounds a float32 of magnitude < 2^22 to an integer in the low bits. */
export const ROUND_MAGIC32 = 12582912;
/** Below this argument the float32 exp gives 0 (2^k must stay a normal float32: k ≥ −126). */
export const EXP32_MIN = -87.3;
const LOG2E32 = f32(Math.LOG2E);
const EXP32_MIN32 = f32(EXP32_MIN);

/** The float32 exp core for EXP32_MIN ≤ x ≤ 88 (x a float32), as the kernel's `expCode32`. */
function exp32Core(x: number): number {
  const ki = f32(f32(x * LOG2E32) + ROUND_MAGIC32);
  const k = f32(ki - ROUND_MAGIC32);
  const r = f32(f32(x - f32(k * LN2_HI32)) - f32(k * LN2_LO32));
  const c = EXP32_POLY;
  let p = f32(c[6]);
  for (let j = 5; j >= 0; j--) p = f32(f32(c[j]) + f32(r * p));
  return f32(p * 2 ** k);
}

/** e^x in float32 numerics (x rounded to float32 first): 0 below EXP32_MIN, NaN → NaN. */
export function exp32(x: number): number {
  const t = f32(x);
  return t < EXP32_MIN32 ? 0 : exp32Core(t);
}

/**
 * 2^f on |f| ≤ ½, degree 4: least squares on Chebyshev nodes (relative, reweighted towards
 * minimax), coefficients rounded to float32.
 */
export const EXP2_FAST32_POLY: readonly number[] = [
  0.9999992847442627, 0.6931217908859253, 0.240247443318367, 0.05591786280274391, 0.009570094756782055,
];

/**
 * The faster softmax exp (the float32 kernel's `expsums32fast`, behind the evaluator's `fastExp`
 * option, off by default: other numerics, other trajectories). e^x = 2^k · 2^f with y = x·log2 e
 * rounded to float32, k = round(y), f = y − k: one multiply where exp32 reduces by ln 2 in two
 * parts, and a polynomial two degrees shorter. Relative error ≤ 1e-5 for x in [EXP32_MIN, 0] (the
 * softmax's range; measured in tests/unit/kernel.test.ts), against exp32's 1.2e-7. 0 below
 * EXP32_MIN, as exp32.
 */
export function expFast32(x: number): number {
  const t = f32(x);
  if (t < EXP32_MIN32) return 0;
  const y = f32(t * LOG2E32);
  const k = f32(f32(y + ROUND_MAGIC32) - ROUND_MAGIC32);
  const r = f32(y - k);
  const c = EXP2_FAST32_POLY;
  let p = f32(c[4]);
  for (let j = 3; j >= 0; j--) p = f32(f32(c[j]) + f32(r * p));
  return f32(p * 2 ** k);
}

/** sin(πy) (cos: `cos`) in float32, the reduction of `fastSinPi`, as the kernel's `sinCosCode32`. */
function sinCos32(y: number, cos: boolean): number {
  // Nearest integer, ties to even (f32x4.nearest).
  const fl = Math.floor(y);
  const d = y - fl;
  const n = d < 0.5 ? fl : d > 0.5 ? fl + 1 : fl % 2 === 0 ? fl : fl + 1;
  const r = f32(y - n);
  const t = cos ? f32(0.5 - Math.abs(r)) : r;
  const u = f32(t * t);
  const c = SIN32_POLY;
  let p = f32(c[4]);
  for (let j = 3; j >= 0; j--) p = f32(f32(c[j]) + f32(u * p));
  const v = f32(t * p);
  const odd = f32(n - f32(2 * Math.floor(f32(n * 0.5))));
  return f32(v * f32(1 - f32(2 * odd)));
}

/**
 * Activation `id` of a float32 pre-activation `y` in the kernel's float32 search numerics
 * (`act32_<id>`): bit for bit what the kernel computes (NaN payloads aside).
 */
export function applyActivation32(id: number, y: number): number {
  y = f32(y);
  switch (id) {
    case ACTIVATION_IDS.linear:
      return y;
    case ACTIVATION_IDS.step:
      return y > 0 ? 1 : 0;
    case ACTIVATION_IDS.sin:
      return sinCos32(y, false);
    case ACTIVATION_IDS.gaussian: {
      const t = f32(f32(-0.5 * y) * y);
      return t < EXP32_MIN32 ? 0 : exp32Core(t);
    }
    case ACTIVATION_IDS.tanh: {
      const e = exp32Core(f32(-2 * Math.max(-10, Math.min(10, y))));
      return f32(f32(1 - e) / f32(1 + e));
    }
    case ACTIVATION_IDS.sigmoid: {
      const e = exp32Core(-Math.max(-87, Math.min(87, y)));
      return f32(1 / f32(1 + e));
    }
    case ACTIVATION_IDS.inverse:
      return -y;
    case ACTIVATION_IDS.abs:
      return Math.abs(y);
    case ACTIVATION_IDS.relu:
      return Math.max(0, y);
    case ACTIVATION_IDS.cos:
      return sinCos32(y, true);
    case ACTIVATION_IDS.squared:
      return f32(y * y);
    default:
      throw new RangeError(`unknown activation id ${id} (1–${ACTIVATION_COUNT})`);
  }
}

/** Fast scalar version of activation `id` (same results as `applyActivation` element-wise). */
export function applyActivationFast(id: number, x: number): number {
  switch (id) {
    case ACTIVATION_IDS.linear:
      return x;
    case ACTIVATION_IDS.step:
      return x > 0 ? 1 : 0;
    case ACTIVATION_IDS.sin:
      return fastSinPi(x);
    case ACTIVATION_IDS.gaussian:
      return fastGaussian(x);
    case ACTIVATION_IDS.tanh:
      return fastTanh(x);
    case ACTIVATION_IDS.sigmoid:
      return fastSigmoid(x);
    case ACTIVATION_IDS.inverse:
      return -x;
    case ACTIVATION_IDS.abs:
      return Math.abs(x);
    case ACTIVATION_IDS.relu:
      return Math.max(0, x);
    case ACTIVATION_IDS.cos:
      return fastCosPi(x);
    case ACTIVATION_IDS.squared:
      return x * x;
    default:
      throw new RangeError(`unknown activation id ${id} (1–${ACTIVATION_COUNT})`);
  }
}

/** A row kernel: out[o + i] = act(w · x[a + i]) for i < len. */
type RowKernel = (w: number, x: Float64Array, a: number, out: Float64Array, o: number, len: number) => void;
/** A two-source row kernel: out[o + i] = act(w · (x[a + i] + s · x[b + i])), s = ±1. */
type RowKernel2 = (
  w: number,
  x: Float64Array,
  a: number,
  b: number,
  s: number,
  out: Float64Array,
  o: number,
  len: number,
) => void;

// One small function per activation (and per source count): each is optimised on its own with its
// math inlined. One big switch of all the loops exceeds V8's inlining budget and leaves calls in
// some loops; the two-source kernels save a pass over the pre-activation row.
function linearRow(w: number, x: Float64Array, a: number, out: Float64Array, o: number, len: number): void {
  for (let i = 0; i < len; i++) out[o + i] = w * x[a + i];
}
function linearRow2(
  w: number,
  x: Float64Array,
  a: number,
  b: number,
  s: number,
  out: Float64Array,
  o: number,
  len: number,
): void {
  for (let i = 0; i < len; i++) out[o + i] = w * (x[a + i] + s * x[b + i]);
}
function stepRow(w: number, x: Float64Array, a: number, out: Float64Array, o: number, len: number): void {
  for (let i = 0; i < len; i++) out[o + i] = w * x[a + i] > 0 ? 1 : 0;
}
function stepRow2(
  w: number,
  x: Float64Array,
  a: number,
  b: number,
  s: number,
  out: Float64Array,
  o: number,
  len: number,
): void {
  for (let i = 0; i < len; i++) out[o + i] = w * (x[a + i] + s * x[b + i]) > 0 ? 1 : 0;
}
function sinRow(w: number, x: Float64Array, a: number, out: Float64Array, o: number, len: number): void {
  for (let i = 0; i < len; i++) out[o + i] = fastSinPi(w * x[a + i]);
}
function sinRow2(
  w: number,
  x: Float64Array,
  a: number,
  b: number,
  s: number,
  out: Float64Array,
  o: number,
  len: number,
): void {
  for (let i = 0; i < len; i++) out[o + i] = fastSinPi(w * (x[a + i] + s * x[b + i]));
}
function gaussianRow(w: number, x: Float64Array, a: number, out: Float64Array, o: number, len: number): void {
  for (let i = 0; i < len; i++) out[o + i] = fastGaussian(w * x[a + i]);
}
function gaussianRow2(
  w: number,
  x: Float64Array,
  a: number,
  b: number,
  s: number,
  out: Float64Array,
  o: number,
  len: number,
): void {
  for (let i = 0; i < len; i++) out[o + i] = fastGaussian(w * (x[a + i] + s * x[b + i]));
}
function tanhRow(w: number, x: Float64Array, a: number, out: Float64Array, o: number, len: number): void {
  for (let i = 0; i < len; i++) out[o + i] = fastTanh(w * x[a + i]);
}
function tanhRow2(
  w: number,
  x: Float64Array,
  a: number,
  b: number,
  s: number,
  out: Float64Array,
  o: number,
  len: number,
): void {
  for (let i = 0; i < len; i++) out[o + i] = fastTanh(w * (x[a + i] + s * x[b + i]));
}
function sigmoidRow(w: number, x: Float64Array, a: number, out: Float64Array, o: number, len: number): void {
  for (let i = 0; i < len; i++) out[o + i] = fastSigmoid(w * x[a + i]);
}
function sigmoidRow2(
  w: number,
  x: Float64Array,
  a: number,
  b: number,
  s: number,
  out: Float64Array,
  o: number,
  len: number,
): void {
  for (let i = 0; i < len; i++) out[o + i] = fastSigmoid(w * (x[a + i] + s * x[b + i]));
}
function inverseRow(w: number, x: Float64Array, a: number, out: Float64Array, o: number, len: number): void {
  for (let i = 0; i < len; i++) out[o + i] = -(w * x[a + i]);
}
function inverseRow2(
  w: number,
  x: Float64Array,
  a: number,
  b: number,
  s: number,
  out: Float64Array,
  o: number,
  len: number,
): void {
  for (let i = 0; i < len; i++) out[o + i] = -(w * (x[a + i] + s * x[b + i]));
}
function absRow(w: number, x: Float64Array, a: number, out: Float64Array, o: number, len: number): void {
  for (let i = 0; i < len; i++) out[o + i] = Math.abs(w * x[a + i]);
}
function absRow2(
  w: number,
  x: Float64Array,
  a: number,
  b: number,
  s: number,
  out: Float64Array,
  o: number,
  len: number,
): void {
  for (let i = 0; i < len; i++) out[o + i] = Math.abs(w * (x[a + i] + s * x[b + i]));
}
function reluRow(w: number, x: Float64Array, a: number, out: Float64Array, o: number, len: number): void {
  for (let i = 0; i < len; i++) out[o + i] = Math.max(0, w * x[a + i]);
}
function reluRow2(
  w: number,
  x: Float64Array,
  a: number,
  b: number,
  s: number,
  out: Float64Array,
  o: number,
  len: number,
): void {
  for (let i = 0; i < len; i++) out[o + i] = Math.max(0, w * (x[a + i] + s * x[b + i]));
}
function cosRow(w: number, x: Float64Array, a: number, out: Float64Array, o: number, len: number): void {
  for (let i = 0; i < len; i++) out[o + i] = fastCosPi(w * x[a + i]);
}
function cosRow2(
  w: number,
  x: Float64Array,
  a: number,
  b: number,
  s: number,
  out: Float64Array,
  o: number,
  len: number,
): void {
  for (let i = 0; i < len; i++) out[o + i] = fastCosPi(w * (x[a + i] + s * x[b + i]));
}
function squaredRow(w: number, x: Float64Array, a: number, out: Float64Array, o: number, len: number): void {
  for (let i = 0; i < len; i++) {
    const v = w * x[a + i];
    out[o + i] = v * v;
  }
}
function squaredRow2(
  w: number,
  x: Float64Array,
  a: number,
  b: number,
  s: number,
  out: Float64Array,
  o: number,
  len: number,
): void {
  for (let i = 0; i < len; i++) {
    const v = w * (x[a + i] + s * x[b + i]);
    out[o + i] = v * v;
  }
}
/** Row kernels by activation id (index 0, no activation, gets linear's). Called through these tables, never inlined. */
const ROW_KERNELS: readonly RowKernel[] = tableById({
  linear: linearRow,
  step: stepRow,
  sin: sinRow,
  gaussian: gaussianRow,
  tanh: tanhRow,
  sigmoid: sigmoidRow,
  inverse: inverseRow,
  abs: absRow,
  relu: reluRow,
  cos: cosRow,
  squared: squaredRow,
});
const ROW_KERNELS_2: readonly RowKernel2[] = tableById({
  linear: linearRow2,
  step: stepRow2,
  sin: sinRow2,
  gaussian: gaussianRow2,
  tanh: tanhRow2,
  sigmoid: sigmoidRow2,
  inverse: inverseRow2,
  abs: absRow2,
  relu: reluRow2,
  cos: cosRow2,
  squared: squaredRow2,
});

function checkId(id: number): void {
  if (!(id >= 1 && id <= ACTIVATION_COUNT))
    throw new RangeError(`unknown activation id ${id} (1–${ACTIVATION_COUNT})`);
}

/**
 * The hot loop: `out[outStart + i] = act_id(weight · x[xStart + i])` for i < len. `x` and `out` may
 * be the same array (ranges must not overlap unless identical). The dispatch happens once per row.
 */
export function applyActivation(
  id: number,
  weight: number,
  x: Float64Array,
  xStart: number,
  out: Float64Array,
  outStart: number,
  len: number,
): void {
  checkId(id);
  ROW_KERNELS[id](weight, x, xStart, out, outStart, len);
}

/**
 * Two source rows summed on the fly: `out[outStart + i] = act_id(weight · (x[a + i] + sign · x[b + i]))`
 * with sign = ±1 (so the sum is exactly the one a separate pass would store).
 */
export function applyActivation2(
  id: number,
  weight: number,
  x: Float64Array,
  a: number,
  b: number,
  sign: number,
  out: Float64Array,
  outStart: number,
  len: number,
): void {
  checkId(id);
  ROW_KERNELS_2[id](weight, x, a, b, sign, out, outStart, len);
}

/** Parity of an activation: f(−x) = f(x). */
export const PARITY_EVEN = 1;
/** Parity of an activation: f(−x) = −f(x). */
export const PARITY_ODD = 2;
/** Neither even nor odd, but f(−x) follows cheaply from f(x) and x: see `applyActivationMirrored`. */
export const PARITY_MIRRORED = 3;

/** Parity of activation `id`: odd linear/sin/tanh/inverse, even gaussian/abs/cos/squared, else mirrored. */
export function activationParity(id: number): number {
  switch (id) {
    case ACTIVATION_IDS.linear:
    case ACTIVATION_IDS.sin:
    case ACTIVATION_IDS.tanh:
    case ACTIVATION_IDS.inverse:
      return PARITY_ODD;
    case ACTIVATION_IDS.gaussian:
    case ACTIVATION_IDS.abs:
    case ACTIVATION_IDS.cos:
    case ACTIVATION_IDS.squared:
      return PARITY_EVEN;
    default:
      return PARITY_MIRRORED; // step, sigmoid, relu
  }
}

/**
 * For the activations that are neither even nor odd (step, sigmoid, relu): both
 * `out[outStart + i] = act(y)` and `mirror[mirrorStart + i] = act(−y)` in one pass, with
 * y = weight · (x[a + i] + sign · x[b + i]) (b < 0: y = weight · x[a + i]). The mirror comes from
 * identities: step(−y) = (y < 0), sigmoid(−y) = 1 − sigmoid(y) (absolute error ≤ 1.2e-16 added),
 * relu(−y) = relu(y) − y (exact).
 */
export function applyActivationMirrored(
  id: number,
  weight: number,
  x: Float64Array,
  a: number,
  b: number,
  sign: number,
  out: Float64Array,
  outStart: number,
  mirror: Float64Array,
  mirrorStart: number,
  len: number,
): void {
  if (b < 0) {
    // One source: the same loops with a zero second term would cost a load per element.
    mirroredRow(id, weight, x, a, out, outStart, mirror, mirrorStart, len);
    return;
  }
  const w = weight;
  switch (id) {
    case ACTIVATION_IDS.step:
      for (let i = 0; i < len; i++) {
        const y = w * (x[a + i] + sign * x[b + i]);
        out[outStart + i] = y > 0 ? 1 : 0;
        mirror[mirrorStart + i] = y < 0 ? 1 : 0;
      }
      return;
    case ACTIVATION_IDS.sigmoid:
      for (let i = 0; i < len; i++) {
        const v = fastSigmoid(w * (x[a + i] + sign * x[b + i]));
        out[outStart + i] = v;
        mirror[mirrorStart + i] = 1 - v;
      }
      return;
    case ACTIVATION_IDS.relu:
      for (let i = 0; i < len; i++) {
        const y = w * (x[a + i] + sign * x[b + i]);
        const v = Math.max(0, y);
        out[outStart + i] = v;
        mirror[mirrorStart + i] = v - y;
      }
      return;
    default:
      throw new RangeError(`activation ${id} is not one of the mirrored ones (step, sigmoid, relu)`);
  }
}

function mirroredRow(
  id: number,
  w: number,
  x: Float64Array,
  a: number,
  out: Float64Array,
  outStart: number,
  mirror: Float64Array,
  mirrorStart: number,
  len: number,
): void {
  switch (id) {
    case ACTIVATION_IDS.step:
      for (let i = 0; i < len; i++) {
        const y = w * x[a + i];
        out[outStart + i] = y > 0 ? 1 : 0;
        mirror[mirrorStart + i] = y < 0 ? 1 : 0;
      }
      return;
    case ACTIVATION_IDS.sigmoid:
      for (let i = 0; i < len; i++) {
        const v = fastSigmoid(w * x[a + i]);
        out[outStart + i] = v;
        mirror[mirrorStart + i] = 1 - v;
      }
      return;
    case ACTIVATION_IDS.relu:
      for (let i = 0; i < len; i++) {
        const y = w * x[a + i];
        const v = Math.max(0, y);
        out[outStart + i] = v;
        mirror[mirrorStart + i] = v - y;
      }
      return;
    default:
      throw new RangeError(`activation ${id} is not one of the mirrored ones (step, sigmoid, relu)`);
  }
}
