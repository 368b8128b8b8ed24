/**
 * Generates the optional WebAssembly SIMD evaluation kernel, src/wann/kernel/kernel.wasm (and the
 * readable src/wann/kernel/kernel.wat it is assembled from), with the `wabt` devDependency:
 *
 *   npx tsx scripts/build-kernel.ts
 *
 * The .wasm is committed, so nothing else needs wabt. The WAT is written by the templates below
 * (one loop per activation, with its math inlined: no calls inside the loops).
 *
 * What the kernel computes is exactly what the JS path of `Evaluator` computes, two examples per
 * f64x2 vector: the same formulas with the same constants and the same order of operations as
 * src/wann/activations.ts, so sin/cos, sums, step/relu/… are bit-identical to the JS path. exp
 * (and tanh/sigmoid/gaussian, softmax) is table-free here (a lookup per lane is slow in SIMD):
 * degree-10 polynomial, relative error ≤ 5e-16 against the JS version's ≤ 4e-16.
 *
 * Memory layout: the evaluator's Float64Array scratch view starts at byte BUF_BYTE (1024). All kernel arguments are element indices into that view,
 * except `insums`' program and inputs (byte addresses: a Float32 copy of the batch's inputs lives
 * after the scratch view, see src/wann/evaluator/kernel-scratch.ts).
 * Rows are processed two elements at a time: when `len` is odd, one element past `len` is read
 * and written, so rows must have an even stride (the evaluator rounds its tile up to even).
 */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import wabtInit from 'wabt';
import { ACTIVATION_COUNT, ACTIVATION_IDS } from '../src/wann/activation-ids';
import {
  EXP2_FAST32_POLY,
  EXP32_MIN,
  EXP32_POLY,
  LN2_HI32,
  LN2_LO32,
  PARITY_MIRRORED,
  ROUND_MAGIC32,
  SIN32_POLY,
} from '../src/wann/activations';
import { PAIR_RANGE_LIMIT_32 } from '../src/wann/evaluator/wasm-float32';

const { linear, step, sin, gaussian, tanh, sigmoid, inverse, abs, relu, cos, squared } = ACTIVATION_IDS;
/** Every activation id, in id order (the functions are emitted in this order). */
const ALL_IDS: readonly number[] = Object.values(ACTIVATION_IDS);
/** The activations with a mirror identity (parity MIRRORED): `mir<id>` / `mir32_<id>`. */
const MIRRORED_IDS: readonly number[] = [step, sigmoid, relu];
/** `forward32`'s function table: act32_<id> at index id, mir32_<id> at MIR32_TABLE_BASE + id. */
const MIR32_TABLE_BASE = ACTIVATION_COUNT + 1;

const OUT_DIR = fileURLToPath(new URL('../src/wann/kernel/', import.meta.url));
const BUF_BYTE = 1024;

// Constants exactly as in src/wann/activations.ts.
const S = [
  Math.PI,
  -5.1677127800497855,
  2.5501640398618677,
  -0.599264528825224,
  0.08214587881631043,
  -0.0073703643265304155,
  0.0004659870158043378,
  -2.113362735205297e-5,
];

/** A double as a WAT literal that parses back to the same double. */
const lit = (x: number) => {
  if (Object.is(x, -0)) return '-0x0p+0';
  // Hex float: exact.
  const buf = new DataView(new ArrayBuffer(8));
  buf.setFloat64(0, x);
  const bits = buf.getBigUint64(0);
  const sign = bits >> 63n ? '-' : '';
  const exp = Number((bits >> 52n) & 0x7ffn);
  const mant = bits & ((1n << 52n) - 1n);
  if (exp === 0 && mant === 0n) return `${sign}0x0p+0`;
  if (exp === 0) return `${sign}0x0.${mant.toString(16).padStart(13, '0')}p-1022`;
  return `${sign}0x1.${mant.toString(16).padStart(13, '0')}p${exp - 1023 >= 0 ? '+' : ''}${exp - 1023}`;
};
/**
 * A splatted constant. Inside a function body it is read from a local set once before the loop
 * (V8 would otherwise materialise every v128.const inside the loop, from general registers).
 */
let constants: Map<string, string> | null = null;
/** A v128 constant given as its WAT text (`f64x2 a b`, `f32x4 a b c d`, `i32x4 …`). */
const V = (text: string) => {
  if (!constants) return `(v128.const ${text})`;
  let name = constants.get(text);
  if (!name) {
    name = `c${constants.size}`;
    constants.set(text, name);
  }
  return `(local.get $${name})`;
};
const C = (x: number) => V(`f64x2 ${lit(x)} ${lit(x)}`);
/** A splatted float32 constant (x rounded to float32). */
const C32 = (x: number) => {
  const f = lit(Math.fround(x));
  return V(`f32x4 ${f} ${f} ${f} ${f}`);
};
/** Wraps a function: `build` returns [header, body]; hoisted constants go between them. */
function withConstants(build: () => [string, string]): string {
  constants = new Map();
  const [head, body] = build();
  const map = constants;
  constants = null;
  const decl = [...map.values()].map((n) => `(local $${n} v128)`).join(' ');
  const init = [...map].map(([text, n]) => `(local.set $${n} (v128.const ${text}))`).join('\n    ');
  return `${head}\n    ${decl}\n    ${init}\n${body}`;
}
const g = (name: string) => `(local.get $${name})`;
const set = (name: string, expr: string) => `(local.set $${name} ${expr})`;
const mul = (a: string, b: string) => `(f64x2.mul ${a} ${b})`;
const add = (a: string, b: string) => `(f64x2.add ${a} ${b})`;
const sub = (a: string, b: string) => `(f64x2.sub ${a} ${b})`;
const vload = (addr: string) => `(v128.load ${addr})`;
const at = (base: string) => `(i32.add ${g(base)} ${g('i')})`;

/** Byte address of element index `idx` (an i32 expression) of the scratch view. */
const addrOf = (idx: string) => `(i32.add (i32.const ${BUF_BYTE}) (i32.shl ${idx} (i32.const 3)))`;

/** Horner: c0 + u·(c1 + u·(…)). */
function horner(u: string, cs: readonly number[]): string {
  let e = C(cs[cs.length - 1]);
  for (let k = cs.length - 2; k >= 0; k--) e = add(C(cs[k]), mul(u, e));
  return e;
}

// e^r on |r| ≤ ln2/2: near-minimax polynomial of degree 10 (mpmath chebyfit); relative error of
// the whole exp, rounding included, measured ≤ 5e-16 (tests/unit/kernel.test.ts).
const EXP_POLY = [
  1.0, 1.0000000000000067, 0.5000000000000006, 0.16666666666554314, 0.041666666666573066,
  0.008333333385699212, 0.001388888893251478, 0.00019841170230570286, 2.480150431378554e-5,
  2.764019739169484e-6, 2.7626371065696354e-7,
];
// fdlibm's split of ln 2 (k·LN2_HI is exact for |k| < 2^21).
const LN2_HI = 0.6931471803691238;
const LN2_LO = 1.9082149292705877e-10;
const ROUND_MAGIC = 6755399441055744; // 1.5·2^52: adding it rounds to an integer in the low bits

/**
 * e^x of local $x into local `out`, table-free (no lane extraction): k = round(x/ln2) through the
 * 1.5·2^52 trick (whose low bits then hold k), r = x − k·ln2 in two parts, e^r by the degree-10
 * polynomial (Estrin), times 2^k built from k's bits. `lowScale`: 2^(k+64)·2^-64, for
 * −745.2 ≤ x ≤ 0 (subnormal results); else 2^k directly, for |x| ≤ 700.
 */
function expCode(out: string, lowScale: boolean): string {
  const c = EXP_POLY;
  const lin = (a: number, b: number) => add(C(a), mul(C(b), g('r')));
  const bias = lowScale ? 1023 + 64 : 1023;
  const pow2 = `(i64x2.shl (i64x2.add ${g('ki')} (v128.const i64x2 ${bias} ${bias})) (i32.const 52))`;
  const scaled = mul(g('p'), pow2);
  return [
    set('ki', add(mul(g('x'), C(Math.LOG2E)), C(ROUND_MAGIC))),
    set('k', sub(g('ki'), C(ROUND_MAGIC))),
    set('r', sub(sub(g('x'), mul(g('k'), C(LN2_HI))), mul(g('k'), C(LN2_LO)))),
    set('u', mul(g('r'), g('r'))),
    set('t', mul(g('u'), g('u'))),
    set(
      'p',
      add(
        add(lin(c[0], c[1]), mul(g('u'), lin(c[2], c[3]))),
        mul(
          g('t'),
          add(
            add(lin(c[4], c[5]), mul(g('u'), lin(c[6], c[7]))),
            mul(g('t'), add(lin(c[8], c[9]), mul(g('u'), C(c[10])))),
          ),
        ),
      ),
    ),
    set(out, lowScale ? mul(scaled, C(2 ** -64)) : scaled),
  ].join('\n');
}

// pmin/pmax (one instruction each) with the value first: a NaN value comes out NaN.
const clamp = (x: string, lo: number, hi: number) => `(f64x2.pmax (f64x2.pmin ${x} ${C(hi)}) ${C(lo)})`;

/** sin(πy) (cos: `cos`) of local $y into local $v, as fastSinPi / fastCosPi. */
function sinCosCode(cos: boolean): string {
  const poly = (t: string) => mul(t, horner(g('u'), S));
  const parts = [set('n', `(f64x2.nearest ${g('y')})`), set('r', sub(g('y'), g('n')))];
  if (cos) {
    parts.push(set('t', sub(C(0.5), `(f64x2.abs ${g('r')})`)));
    parts.push(set('u', mul(g('t'), g('t'))));
    parts.push(set('v', poly(g('t'))));
  } else {
    parts.push(set('u', mul(g('r'), g('r'))));
    parts.push(set('v', poly(g('r'))));
  }
  // (−1)^n = 1 − 2·(n − 2·floor(n/2)), exact for every integer-valued double.
  const odd = sub(g('n'), mul(C(2), `(f64x2.floor ${mul(g('n'), C(0.5))})`));
  parts.push(set('v', mul(g('v'), sub(C(1), mul(C(2), odd)))));
  return parts.join('\n');
}

/** Code setting $v = act(y) for local $y, per activation id. */
const ACT: Record<number, () => string> = {
  [linear]: () => set('v', g('y')),
  [step]: () => set('v', `(v128.and (f64x2.gt ${g('y')} ${C(0)}) ${C(1)})`),
  [sin]: () => sinCosCode(false),
  [gaussian]: () =>
    [set('x', `(f64x2.pmax ${mul(mul(C(-0.5), g('y')), g('y'))} ${C(-745.2)})`), expCode('v', true)].join(
      '\n',
    ),
  [tanh]: () =>
    [
      set('x', mul(C(-2), clamp(g('y'), -20, 20))),
      expCode('e', false),
      set('v', `(f64x2.div ${sub(C(1), g('e'))} ${add(C(1), g('e'))})`),
    ].join('\n'),
  [sigmoid]: () =>
    [
      set('x', `(f64x2.neg ${clamp(g('y'), -700, 700)})`),
      expCode('e', false),
      set('v', `(f64x2.div ${C(1)} ${add(C(1), g('e'))})`),
    ].join('\n'),
  [inverse]: () => set('v', `(f64x2.neg ${g('y')})`),
  [abs]: () => set('v', `(f64x2.abs ${g('y')})`),
  [relu]: () => set('v', `(f64x2.max ${C(0)} ${g('y')})`),
  [cos]: () => sinCosCode(true),
  [squared]: () => set('v', mul(g('y'), g('y'))),
};

const V128_LOCALS = ['w', 'y', 'v', 'x', 'k', 'r', 'ki', 'p', 'f', 'e', 'n', 't', 'u', 'mv'];
const locals = () => V128_LOCALS.map((n) => `(local $${n} v128)`).join(' ');

/** Loop over byte offsets $i in [0, $end) in steps of 16, $end from $len (rounded up to even). */
function loop(body: string): string {
  return `
    (local.set $end (i32.shl (i32.and (i32.add (local.get $len) (i32.const 1)) (i32.const -2)) (i32.const 3)))
    (local.set $i (i32.const 0))
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $i) (local.get $end)))
      ${body}
      (local.set $i (i32.add (local.get $i) (i32.const 16)))
      (br $next)))`;
}

/** act_<id>(w, src, dst, len): dst[i] = act(w · src[i]). */
function actFunc(id: number): string {
  return withConstants(() => [
    `
  (func (export "act${id}") (param $wf f64) (param $src i32) (param $dst i32) (param $len i32)
    (local $i i32) (local $end i32) ${locals()}`,
    `
    (local.set $w (f64x2.splat (local.get $wf)))
    (local.set $src ${addrOf('(local.get $src)')})
    (local.set $dst ${addrOf('(local.get $dst)')})
    ${loop(`
      ${set('y', mul(g('w'), vload(at('src'))))}
      ${ACT[id]()}
      (v128.store ${at('dst')} ${g('v')})`)}
  )`,
  ]);
}

/** mir_<id>(w, src, dst, mirror, len): dst = act(y), mirror = act(−y), y = w · src (step, sigmoid, relu). */
function mirFunc(id: number): string {
  const mirror: Record<number, () => string> = {
    [step]: () => set('mv', `(v128.and (f64x2.lt ${g('y')} ${C(0)}) ${C(1)})`),
    [sigmoid]: () => set('mv', sub(C(1), g('v'))),
    [relu]: () => set('mv', sub(g('v'), g('y'))),
  };
  return withConstants(() => [
    `
  (func (export "mir${id}") (param $wf f64) (param $src i32) (param $dst i32) (param $mir i32) (param $len i32)
    (local $i i32) (local $end i32) ${locals()}`,
    `
    (local.set $w (f64x2.splat (local.get $wf)))
    (local.set $src ${addrOf('(local.get $src)')})
    (local.set $dst ${addrOf('(local.get $dst)')})
    (local.set $mir ${addrOf('(local.get $mir)')})
    ${loop(`
      ${set('y', mul(g('w'), vload(at('src'))))}
      ${ACT[id]()}
      ${mirror[id]()}
      (v128.store ${at('dst')} ${g('v')})
      (v128.store ${at('mir')} ${g('mv')})`)}
  )`,
  ]);
}

/**
 * sum(dst, list, n, len): dst[i] = Σ_k sign_k · row_k[i], left to right (as the JS path), with
 * (offset_k, sign_k) as doubles at list[2k], list[2k + 1]. `signed` = 0: every sign is +1.
 */
function sumFunc(): string {
  const names = ['a', 'b', 'c', 'd'];
  const variants: string[] = [];
  for (const signed of [0, 1]) {
    for (const first of [0, 1]) {
      for (let take = 1; take <= 4; take++) {
        const terms = names.slice(0, take).map((nm) => {
          const v = vload(at(`p${nm}`));
          return signed ? mul(g(`s${nm}`), v) : v;
        });
        let expr = first ? vload(at('dst')) : terms[0];
        for (const t of first ? terms : terms.slice(1)) expr = add(expr, t);
        variants.push(
          `(if (i32.and (i32.and (i32.eq (local.get $signed) (i32.const ${signed})) (i32.eq (local.get $first) (i32.const ${first}))) (i32.eq (local.get $take) (i32.const ${take})))
            (then ${loop(`(v128.store ${at('dst')} ${expr})`)}))`,
        );
      }
    }
  }
  const loadTerm = (nm: string, k: number) => `
      (local.set $p${nm} ${addrOf(`(i32.trunc_sat_f64_s (f64.load (i32.add (local.get $lp) (i32.const ${16 * k}))))`)})
      (local.set $s${nm} (f64x2.splat (f64.load (i32.add (local.get $lp) (i32.const ${16 * k + 8})))))`;
  return `
  (func (export "sum") (param $dst i32) (param $list i32) (param $n i32) (param $signed i32) (param $len i32)
    (local $i i32) (local $end i32) (local $e i32) (local $take i32) (local $first i32) (local $lp i32)
    (local $pa i32) (local $pb i32) (local $pc i32) (local $pd i32)
    (local $sa v128) (local $sb v128) (local $sc v128) (local $sd v128)
    (local.set $dst ${addrOf('(local.get $dst)')})
    (local.set $e (i32.const 0))
    (local.set $first (i32.const 0))
    (block $exit (loop $chunk
      (br_if $exit (i32.ge_s (local.get $e) (local.get $n)))
      (local.set $take (i32.sub (local.get $n) (local.get $e)))
      (if (i32.gt_s (local.get $take) (i32.const 4)) (then (local.set $take (i32.const 4))))
      (local.set $lp ${addrOf('(i32.add (local.get $list) (i32.shl (local.get $e) (i32.const 1)))')})
      ${names.map((nm, k) => loadTerm(nm, k)).join('')}
      ${variants.join('\n')}
      (local.set $first (i32.const 1))
      (local.set $e (i32.add (local.get $e) (local.get $take)))
      (br $chunk)))
  )`;
}

/**
 * insums(prog, rows, x, len): the input sums of a tile (`loadTile` of the kernel backends, src/wann/evaluator/). `prog` (byte
 * address) holds, per row, i32s: destination (element index of the view), bias count, n, then n
 * byte offsets of its input rows from `x` (byte address of the tile's first example in the Float32
 * inputs copy). dst[i] = bias + x_1[i] + … + x_n[i], left to right (each float32 widened exactly),
 * four input rows per pass as the JS path: the same additions in the same order, so bit-identical.
 */
function inSumsFunc(): string {
  const names = ['a', 'b', 'c', 'd'];
  const term = (nm: string) =>
    `(f64x2.promote_low_f32x4 (v128.load64_zero (i32.add ${g(`p${nm}`)} ${g('h')})))`;
  const variants: string[] = [];
  for (const first of [0, 1]) {
    for (let take = 1; take <= 4; take++) {
      let expr = first ? vload(at('dst')) : g('bias');
      for (const nm of names.slice(0, take)) expr = add(expr, term(nm));
      variants.push(
        `(if (i32.and (i32.eq (local.get $first) (i32.const ${first})) (i32.eq (local.get $take) (i32.const ${take})))
            (then ${loop(`(local.set $h (i32.shr_u (local.get $i) (i32.const 1)))
            (v128.store ${at('dst')} ${expr})`)}))`,
      );
    }
  }
  const loadTerm = (nm: string, k: number) => `
      (local.set $p${nm} (i32.add (local.get $x) (i32.load offset=${4 * k} (local.get $lp))))`;
  return `
  (func (export "insums") (param $prog i32) (param $rows i32) (param $x i32) (param $len i32)
    (local $i i32) (local $end i32) (local $h i32) (local $r i32) (local $dst i32) (local $n i32)
    (local $e i32) (local $take i32) (local $first i32) (local $lp i32)
    (local $pa i32) (local $pb i32) (local $pc i32) (local $pd i32) (local $bias v128)
    (local.set $r (i32.const 0))
    (block $rdone (loop $rnext
      (br_if $rdone (i32.ge_s (local.get $r) (local.get $rows)))
      (local.set $dst ${addrOf('(i32.load (local.get $prog))')})
      (local.set $bias (f64x2.splat (f64.convert_i32_s (i32.load offset=4 (local.get $prog)))))
      (local.set $n (i32.load offset=8 (local.get $prog)))
      (local.set $prog (i32.add (local.get $prog) (i32.const 12)))
      (if (i32.eqz (local.get $n))
        (then ${loop(`(v128.store ${at('dst')} (local.get $bias))`)}))
      (local.set $e (i32.const 0))
      (local.set $first (i32.const 0))
      (block $exit (loop $chunk
        (br_if $exit (i32.ge_s (local.get $e) (local.get $n)))
        (local.set $take (i32.sub (local.get $n) (local.get $e)))
        (if (i32.gt_s (local.get $take) (i32.const 4)) (then (local.set $take (i32.const 4))))
        (local.set $lp (i32.add (local.get $prog) (i32.shl (local.get $e) (i32.const 2))))
        ${names.map((nm, k) => loadTerm(nm, k)).join('')}
        ${variants.join('\n')}
        (local.set $first (i32.const 1))
        (local.set $e (i32.add (local.get $e) (local.get $take)))
        (br $chunk)))
      (local.set $prog (i32.add (local.get $prog) (i32.shl (local.get $n) (i32.const 2))))
      (local.set $r (i32.add (local.get $r) (i32.const 1)))
      (br $rnext)))
  )`;
}

/**
 * expsums(logit, tile, max, sum, recip, outputs, len): sum[i] = Σ_j exp(logit[j·tile + i] − max[i])
 * (j in order); with recip ≥ 0 also recip[i] = Σ_j 1/exp(…).
 */
function expSumsFunc(): string {
  return withConstants(() => [
    `
  (func (export "expsums") (param $logit i32) (param $tile i32) (param $max i32) (param $sum i32)
    (param $recip i32) (param $outputs i32) (param $len i32)
    (local $i i32) (local $end i32) (local $j i32) (local $row i32) (local $stride i32) (local $pair i32)
    (local $acc v128) (local $acc2 v128) (local $mx v128) ${locals()}`,
    `
    (local.set $pair (i32.ge_s (local.get $recip) (i32.const 0)))
    (local.set $stride (i32.shl (local.get $tile) (i32.const 3)))
    (local.set $logit ${addrOf('(local.get $logit)')})
    (local.set $max ${addrOf('(local.get $max)')})
    (local.set $sum ${addrOf('(local.get $sum)')})
    (local.set $recip ${addrOf('(local.get $recip)')})
    ${loop(`
      (local.set $mx ${vload(at('max'))})
      (local.set $row (i32.add (local.get $logit) (local.get $i)))
      (local.set $j (i32.const 0))
      (block $jdone (loop $jnext
        (br_if $jdone (i32.ge_s (local.get $j) (local.get $outputs)))
        ${set('x', `(f64x2.pmax ${sub(vload(g('row')), g('mx'))} ${C(-745.2)})`)}
        ${expCode('v', true)}
        (if (i32.eqz (local.get $j))
          (then (local.set $acc (local.get $v)) (local.set $acc2 (f64x2.div ${C(1)} (local.get $v))))
          (else (local.set $acc ${add(g('acc'), g('v'))})
                (if (local.get $pair) (then (local.set $acc2 ${add(g('acc2'), `(f64x2.div ${C(1)} ${g('v')})`)})))))
        (local.set $row (i32.add (local.get $row) (local.get $stride)))
        (local.set $j (i32.add (local.get $j) (i32.const 1)))
        (br $jnext)))
      (v128.store ${at('sum')} ${g('acc')})
      (if (local.get $pair) (then (v128.store ${at('recip')} ${g('acc2')})))`)}
  )`,
  ]);
}

/**
 * gather(logit, tile, max, min, list, outputs, len): logit row j = clamp(scale_j · row_j), with
 * (offset_j, scale_j) as doubles at list[2j], list[2j + 1], clamped into ±1e300 and NaN → −1e300
 * (`finiteLogit` in src/wann/evaluator/js-float64.ts); max[i], min[i] over j.
 */
function gatherFunc(f32: boolean): string {
  // Float32 rows (gather32): two floats per step, widened exactly.
  const load = f32
    ? `(f64x2.promote_low_f32x4 (v128.load64_zero (i32.add ${g('src')} (i32.shr_u ${g('i')} (i32.const 1)))))`
    : vload(at('src'));
  const srcAddr = f32 ? addrOf32 : addrOf;
  return withConstants(() => [
    `
  (func $${f32 ? 'gather32' : 'gather'} (export "${f32 ? 'gather32' : 'gather'}") (param $logit i32) (param $tile i32) (param $max i32) (param $min i32)
    (param $list i32) (param $outputs i32) (param $len i32)
    (local $i i32) (local $end i32) (local $j i32) (local $lp i32) (local $src i32) (local $dst i32) (local $stride i32)
    (local $mx v128) (local $mn v128) ${locals()}`,
    `
    (local.set $stride (i32.shl (local.get $tile) (i32.const 3)))
    (local.set $logit ${addrOf('(local.get $logit)')})
    (local.set $max ${addrOf('(local.get $max)')})
    (local.set $min ${addrOf('(local.get $min)')})
    (local.set $list ${addrOf('(local.get $list)')})
    (local.set $j (i32.const 0))
    (local.set $lp (local.get $list))
    (local.set $dst (local.get $logit))
    (block $jdone (loop $jnext
      (br_if $jdone (i32.ge_s (local.get $j) (local.get $outputs)))
      (local.set $src ${srcAddr('(i32.trunc_sat_f64_s (f64.load (local.get $lp)))')})
      (local.set $w (f64x2.splat (f64.load offset=8 (local.get $lp))))
      ${loop(`
        ${set('y', `(f64x2.pmax (f64x2.pmin ${mul(g('w'), load)} ${C(1e300)}) ${C(-1e300)})`)}
        ${set('y', `(v128.bitselect ${g('y')} ${C(-1e300)} (f64x2.eq ${g('y')} ${g('y')}))`)}
        (v128.store ${at('dst')} ${g('y')})
        (if (i32.eqz (local.get $j))
          (then (v128.store ${at('max')} ${g('y')}) (v128.store ${at('min')} ${g('y')}))
          (else
            (v128.store ${at('max')} (f64x2.pmax ${vload(at('max'))} ${g('y')}))
            (v128.store ${at('min')} (f64x2.pmin ${vload(at('min'))} ${g('y')}))))`)}
      (local.set $lp (i32.add (local.get $lp) (i32.const 16)))
      (local.set $dst (i32.add (local.get $dst) (local.get $stride)))
      (local.set $j (i32.add (local.get $j) (i32.const 1)))
      (br $jnext)))
  )`,
  ]);
}

// ---------------------------------------------------------------------------------------------
// Float32 search numerics (`*32` exports): rows of float32 values, four examples per f32x4. Every
// operation is an IEEE-754 float32 operation (no fused multiply-add, no relaxed SIMD), so the
// results are the same bits on every engine; see src/wann/evaluator/wasm-float32.ts.
// Row arguments are element indices of a Float32Array view at BUF_BYTE.

const mul32 = (a: string, b: string) => `(f32x4.mul ${a} ${b})`;
const add32 = (a: string, b: string) => `(f32x4.add ${a} ${b})`;
const sub32 = (a: string, b: string) => `(f32x4.sub ${a} ${b})`;
/** Byte address of float32 element index `idx` (an i32 expression). */
const addrOf32 = (idx: string) => `(i32.add (i32.const ${BUF_BYTE}) (i32.shl ${idx} (i32.const 2)))`;

function horner32(u: string, cs: readonly number[]): string {
  let e = C32(cs[cs.length - 1]);
  for (let k = cs.length - 2; k >= 0; k--) e = add32(C32(cs[k]), mul32(u, e));
  return e;
}

/**
 * e^x of local $x (f32x4, EXP32_MIN ≤ x ≤ EXP32_MAX) into local `out`: k = round(x/ln2) through the
 * 1.5·2^23 trick, r = x − k·ln2 in two parts, e^r by EXP32_POLY (Horner), times 2^k from k's bits.
 */
function expCode32(out: string): string {
  const pow2 = `(i32x4.shl (i32x4.add ${g('ki')} ${V('i32x4 127 127 127 127')}) (i32.const 23))`;
  return [
    set('ki', add32(mul32(g('x'), C32(Math.LOG2E)), C32(ROUND_MAGIC32))),
    set('k', sub32(g('ki'), C32(ROUND_MAGIC32))),
    set('r', sub32(sub32(g('x'), mul32(g('k'), C32(LN2_HI32))), mul32(g('k'), C32(LN2_LO32)))),
    set(out, mul32(horner32(g('r'), EXP32_POLY), pow2)),
  ].join('\n');
}

/**
 * `expFast32` of activations.ts (the `fastExp` option) of local $x into local `out`: y = x·log2 e,
 * k = round(y) by the magic-number trick (its low bits hold k), 2^(y − k) by the degree-4
 * polynomial, times 2^k from k's bits.
 */
function expFastCode32(out: string): string {
  const pow2 = `(i32x4.shl (i32x4.add ${g('ki')} ${V('i32x4 127 127 127 127')}) (i32.const 23))`;
  return [
    set('r', mul32(g('x'), C32(Math.LOG2E))),
    set('ki', add32(g('r'), C32(ROUND_MAGIC32))),
    set('k', sub32(g('ki'), C32(ROUND_MAGIC32))),
    set('r', sub32(g('r'), g('k'))),
    set(out, mul32(horner32(g('r'), EXP2_FAST32_POLY), pow2)),
  ].join('\n');
}

const clamp32 = (x: string, lo: number, hi: number) => `(f32x4.pmax (f32x4.pmin ${x} ${C32(hi)}) ${C32(lo)})`;

/** sin(πy) (cos: `cos`) of local $y into local $v in float32, the reduction of fastSinPi. */
function sinCosCode32(cos: boolean): string {
  const poly = (t: string) => mul32(t, horner32(g('u'), SIN32_POLY));
  const parts = [set('n', `(f32x4.nearest ${g('y')})`), set('r', sub32(g('y'), g('n')))];
  if (cos) {
    parts.push(set('t', sub32(C32(0.5), `(f32x4.abs ${g('r')})`)));
    parts.push(set('u', mul32(g('t'), g('t'))));
    parts.push(set('v', poly(g('t'))));
  } else {
    parts.push(set('u', mul32(g('r'), g('r'))));
    parts.push(set('v', poly(g('r'))));
  }
  // (−1)^n = 1 − 2·(n − 2·floor(n/2)), exact for every integer-valued float32.
  const odd = sub32(g('n'), mul32(C32(2), `(f32x4.floor ${mul32(g('n'), C32(0.5))})`));
  parts.push(set('v', mul32(g('v'), sub32(C32(1), mul32(C32(2), odd)))));
  return parts.join('\n');
}

/** Code setting $v = act(y) in float32 for local $y, per activation id. */
const ACT32: Record<number, () => string> = {
  [linear]: () => set('v', g('y')),
  [step]: () => set('v', `(v128.and (f32x4.gt ${g('y')} ${C32(0)}) ${C32(1)})`),
  [sin]: () => sinCosCode32(false),
  // exp(−y²/2); arguments below EXP32_MIN (|y| > 13.2) give 0 (NaN stays NaN).
  [gaussian]: () =>
    [
      set('t', mul32(mul32(C32(-0.5), g('y')), g('y'))),
      set('x', `(f32x4.pmax ${g('t')} ${C32(EXP32_MIN)})`),
      expCode32('v'),
      set('v', `(v128.andnot ${g('v')} (f32x4.lt ${g('t')} ${C32(EXP32_MIN)}))`),
    ].join('\n'),
  // (1 − e)/(1 + e), e = exp(−2y), y clamped to ±10 (tanh(10) rounds to 1 in float32).
  [tanh]: () =>
    [
      set('x', mul32(C32(-2), clamp32(g('y'), -10, 10))),
      expCode32('e'),
      set('v', `(f32x4.div ${sub32(C32(1), g('e'))} ${add32(C32(1), g('e'))})`),
    ].join('\n'),
  // 1/(1 + exp(−y)), y clamped to ±87.
  [sigmoid]: () =>
    [
      set('x', `(f32x4.neg ${clamp32(g('y'), -87, 87)})`),
      expCode32('e'),
      set('v', `(f32x4.div ${C32(1)} ${add32(C32(1), g('e'))})`),
    ].join('\n'),
  [inverse]: () => set('v', `(f32x4.neg ${g('y')})`),
  [abs]: () => set('v', `(f32x4.abs ${g('y')})`),
  [relu]: () => set('v', `(f32x4.max ${C32(0)} ${g('y')})`),
  [cos]: () => sinCosCode32(true),
  [squared]: () => set('v', mul32(g('y'), g('y'))),
};

/** Loop over byte offsets $i in [0, $end) in steps of 16 (4 floats), $end from $len rounded up to 4. */
function loop32(body: string): string {
  return `
    (local.set $end (i32.shl (i32.and (i32.add (local.get $len) (i32.const 3)) (i32.const -4)) (i32.const 2)))
    (local.set $i (i32.const 0))
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $i) (local.get $end)))
      ${body}
      (local.set $i (i32.add (local.get $i) (i32.const 16)))
      (br $next)))`;
}

/** act32_<id>(w, src, dst, len): dst[i] = act(fround(w) · src[i]) in float32. */
function actFunc32(id: number): string {
  return withConstants(() => [
    `
  (func $act32_${id} (export "act32_${id}") (type $act) (param $wf f64) (param $src i32) (param $dst i32) (param $len i32)
    (local $i i32) (local $end i32) ${locals()}`,
    `
    (local.set $w (f32x4.splat (f32.demote_f64 (local.get $wf))))
    (local.set $src ${addrOf32('(local.get $src)')})
    (local.set $dst ${addrOf32('(local.get $dst)')})
    ${loop32(`
      ${set('y', mul32(g('w'), vload(at('src'))))}
      ${ACT32[id]()}
      (v128.store ${at('dst')} ${g('v')})`)}
  )`,
  ]);
}

/** mir32_<id>(w, src, dst, mirror, len): dst = act(y), mirror = act(−y), y = w · src (step, sigmoid, relu). */
function mirFunc32(id: number): string {
  const mirror: Record<number, () => string> = {
    [step]: () => set('mv', `(v128.and (f32x4.lt ${g('y')} ${C32(0)}) ${C32(1)})`),
    [sigmoid]: () => set('mv', sub32(C32(1), g('v'))),
    [relu]: () => set('mv', sub32(g('v'), g('y'))),
  };
  return withConstants(() => [
    `
  (func $mir32_${id} (export "mir32_${id}") (type $mir) (param $wf f64) (param $src i32) (param $dst i32) (param $mir i32) (param $len i32)
    (local $i i32) (local $end i32) ${locals()}`,
    `
    (local.set $w (f32x4.splat (f32.demote_f64 (local.get $wf))))
    (local.set $src ${addrOf32('(local.get $src)')})
    (local.set $dst ${addrOf32('(local.get $dst)')})
    (local.set $mir ${addrOf32('(local.get $mir)')})
    ${loop32(`
      ${set('y', mul32(g('w'), vload(at('src'))))}
      ${ACT32[id]()}
      ${mirror[id]()}
      (v128.store ${at('dst')} ${g('v')})
      (v128.store ${at('mir')} ${g('mv')})`)}
  )`,
  ]);
}

/**
 * sum32: `sum` on float32 rows (offsets are float32 element indices; signs ±1 exact). `i32List`:
 * the internal $sum32i, whose list is i32 (offset, sign) pairs at byte address `list` (forward32).
 */
function sumFunc32(i32List = false): string {
  const names = ['a', 'b', 'c', 'd'];
  const variants: string[] = [];
  for (const signed of [0, 1]) {
    for (const first of [0, 1]) {
      for (let take = 1; take <= 4; take++) {
        const terms = names.slice(0, take).map((nm) => {
          const v = vload(at(`p${nm}`));
          return signed ? mul32(g(`s${nm}`), v) : v;
        });
        let expr = first ? vload(at('dst')) : terms[0];
        for (const t of first ? terms : terms.slice(1)) expr = add32(expr, t);
        variants.push(
          `(if (i32.and (i32.and (i32.eq (local.get $signed) (i32.const ${signed})) (i32.eq (local.get $first) (i32.const ${first}))) (i32.eq (local.get $take) (i32.const ${take})))
            (then ${loop32(`(v128.store ${at('dst')} ${expr})`)}))`,
        );
      }
    }
  }
  const loadTerm = (nm: string, k: number) =>
    i32List
      ? `
      (local.set $p${nm} ${addrOf32(`(i32.load offset=${8 * k} (local.get $lp))`)})
      (local.set $s${nm} (f32x4.splat (f32.convert_i32_s (i32.load offset=${8 * k + 4} (local.get $lp)))))`
      : `
      (local.set $p${nm} ${addrOf32(`(i32.trunc_sat_f64_s (f64.load (i32.add (local.get $lp) (i32.const ${16 * k}))))`)})
      (local.set $s${nm} (f32x4.splat (f32.demote_f64 (f64.load (i32.add (local.get $lp) (i32.const ${16 * k + 8}))))))`;
  const listAt = i32List
    ? '(i32.add (local.get $list) (i32.shl (local.get $e) (i32.const 3)))'
    : addrOf('(i32.add (local.get $list) (i32.shl (local.get $e) (i32.const 1)))');
  return `
  (func ${i32List ? '$sum32i' : '(export "sum32")'} (param $dst i32) (param $list i32) (param $n i32) (param $signed i32) (param $len i32)
    (local $i i32) (local $end i32) (local $e i32) (local $take i32) (local $first i32) (local $lp i32)
    (local $pa i32) (local $pb i32) (local $pc i32) (local $pd i32)
    (local $sa v128) (local $sb v128) (local $sc v128) (local $sd v128)
    (local.set $dst ${addrOf32('(local.get $dst)')})
    (local.set $e (i32.const 0))
    (local.set $first (i32.const 0))
    (block $exit (loop $chunk
      (br_if $exit (i32.ge_s (local.get $e) (local.get $n)))
      (local.set $take (i32.sub (local.get $n) (local.get $e)))
      (if (i32.gt_s (local.get $take) (i32.const 4)) (then (local.set $take (i32.const 4))))
      (local.set $lp ${listAt})
      ${names.map((nm, k) => loadTerm(nm, k)).join('')}
      ${variants.join('\n')}
      (local.set $first (i32.const 1))
      (local.set $e (i32.add (local.get $e) (local.get $take)))
      (br $chunk)))
  )`;
}

/**
 * expsums32(logit, tile, max, sum, recip, exps, outputs, len): `expsums` with float32 exps (f32
 * search numerics), four examples per step: d = logit − max in float64, rounded to float32,
 * e = exp32(d) (0 below EXP32_MIN), widened, stored at exps (outputs × tile, like the logits) and
 * summed in float64 (j in order); with recip ≥ 0 also Σ 1/e.
 */
function expSumsFunc32(fast = false): string {
  const name = fast ? 'expsums32fast' : 'expsums32';
  const half = (k: number) => `(i32.add ${g('row')} (i32.add ${g('i')} (i32.const ${16 * k})))`;
  const hi = (v: string) => `(i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 ${v} ${v})`;
  return withConstants(() => [
    `
  (func $${name} (export "${name}") (param $logit i32) (param $tile i32) (param $max i32) (param $sum i32)
    (param $recip i32) (param $exps i32) (param $outputs i32) (param $len i32) (local $erow i32)
    (local $i i32) (local $end i32) (local $j i32) (local $row i32) (local $stride i32) (local $pair i32)
    (local $acc0 v128) (local $acc1 v128) (local $rc0 v128) (local $rc1 v128) (local $mx0 v128) (local $mx1 v128)
    (local $e0 v128) (local $e1 v128) (local $d v128) ${locals()}`,
    `
    (local.set $pair (i32.ge_s (local.get $recip) (i32.const 0)))
    (local.set $stride (i32.shl (local.get $tile) (i32.const 3)))
    (local.set $logit ${addrOf('(local.get $logit)')})
    (local.set $max ${addrOf('(local.get $max)')})
    (local.set $sum ${addrOf('(local.get $sum)')})
    (local.set $recip ${addrOf('(local.get $recip)')})
    (local.set $exps ${addrOf('(local.get $exps)')})
    (local.set $end (i32.shl (i32.and (i32.add (local.get $len) (i32.const 3)) (i32.const -4)) (i32.const 3)))
    (local.set $i (i32.const 0))
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $i) (local.get $end)))
      (local.set $mx0 ${vload(at('max'))})
      (local.set $mx1 (v128.load offset=16 ${at('max')}))
      (local.set $row (local.get $logit))
      (local.set $erow (i32.add (local.get $exps) (local.get $i)))
      (local.set $j (i32.const 0))
      ;; Sums from +0: 0 + e = e exactly (e ≥ 0, 1/e ≥ 0), the bits of starting from the first term.
      (local.set $acc0 ${C(0)}) (local.set $acc1 ${C(0)}) (local.set $rc0 ${C(0)}) (local.set $rc1 ${C(0)})
      (block $jdone (loop $jnext
        (br_if $jdone (i32.ge_s (local.get $j) (local.get $outputs)))
        (local.set $d (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23
          (f32x4.demote_f64x2_zero ${sub(vload(half(0)), g('mx0'))})
          (f32x4.demote_f64x2_zero ${sub(vload(half(1)), g('mx1'))})))
        ${set('x', `(f32x4.pmax ${g('d')} ${C32(EXP32_MIN)})`)}
        ${fast ? expFastCode32('v') : expCode32('v')}
        ${set('v', `(v128.andnot ${g('v')} (f32x4.lt ${g('d')} ${C32(EXP32_MIN)}))`)}
        (local.set $e0 (f64x2.promote_low_f32x4 ${g('v')}))
        (local.set $e1 (f64x2.promote_low_f32x4 ${hi(g('v'))}))
        (v128.store ${g('erow')} ${g('e0')})
        (v128.store offset=16 ${g('erow')} ${g('e1')})
        (local.set $erow (i32.add (local.get $erow) (local.get $stride)))
        (local.set $acc0 ${add(g('acc0'), g('e0'))})
        (local.set $acc1 ${add(g('acc1'), g('e1'))})
        (if (local.get $pair) (then
          (local.set $rc0 ${add(g('rc0'), `(f64x2.div ${C(1)} ${g('e0')})`)})
          (local.set $rc1 ${add(g('rc1'), `(f64x2.div ${C(1)} ${g('e1')})`)})))
        (local.set $row (i32.add (local.get $row) (local.get $stride)))
        (local.set $j (i32.add (local.get $j) (i32.const 1)))
        (br $jnext)))
      (v128.store ${at('sum')} ${g('acc0')})
      (v128.store offset=16 ${at('sum')} ${g('acc1')})
      (if (local.get $pair) (then (v128.store ${at('recip')} ${g('rc0')}) (v128.store offset=16 ${at('recip')} ${g('rc1')})))
      (local.set $i (i32.add (local.get $i) (i32.const 32)))
      (br $next)))
  )`,
  ]);
}

/**
 * tally32(logit, tile, max, min, sum, recip, exps, labels, pair, out, out2, len): the scoring of a
 * tile from its gathered logits and exps, exactly the float64 operations of the evaluator's JS
 * scoring loop (src/wann/evaluator/evaluator.ts, `score`), example by example in order: the product
 * of max(e/Σ, 1e-12), flushed (stored, then reset to 1) whenever it falls below 1e-288, and the
 * number of examples whose label is the first output equal to the max. `out` (byte address) gets
 * [correct, last product, flushes, flushed products…] as doubles; with `pair` also `out2`, at −w:
 * the products of max(1/e/Σ(1/e), 1e-12) and the labels first equal to the min. The logs stay in
 * JS (Math.log): wasm has none, and the flushed products are few (one per ≥ 24 examples).
 * Serial in the examples (the product's order is the trajectory's); one call per tile and view.
 */
function tallyFunc32(): string {
  const f = (x: number) => `(f64.const ${lit(x)})`;
  // Is the label the first output whose logit equals $v (at example $i)?
  const firstAt = (v: string) => `
        (local.set $j (i32.const 0))
        (local.set $p (local.get $col))
        (local.set $first (i32.const 1))
        (block $fdone (loop $fnext
          (br_if $fdone (i32.ge_s (local.get $j) (local.get $label)))
          (if (f64.eq (f64.load (local.get $p)) ${v}) (then (local.set $first (i32.const 0)) (br $fdone)))
          (local.set $p (i32.add (local.get $p) (local.get $stride)))
          (local.set $j (i32.add (local.get $j) (i32.const 1)))
          (br $fnext)))`;
  return `
  (func $tally32 (param $logit i32) (param $tile i32) (param $max i32) (param $min i32) (param $sum i32)
    (param $recip i32) (param $exps i32) (param $labels i32) (param $pair i32) (param $out i32) (param $out2 i32)
    (param $len i32)
    (local $i i32) (local $j i32) (local $label i32) (local $stride i32) (local $col i32) (local $p i32)
    (local $at i32) (local $first i32) (local $n i32) (local $n2 i32)
    (local $prod f64) (local $prod2 f64) (local $correct f64) (local $correct2 f64) (local $lg f64) (local $e f64)
    (local.set $stride (i32.shl (local.get $tile) (i32.const 3)))
    (local.set $logit ${addrOf('(local.get $logit)')})
    (local.set $max ${addrOf('(local.get $max)')})
    (local.set $min ${addrOf('(local.get $min)')})
    (local.set $sum ${addrOf('(local.get $sum)')})
    (local.set $recip ${addrOf('(local.get $recip)')})
    (local.set $exps ${addrOf('(local.get $exps)')})
    (local.set $prod ${f(1)})
    (local.set $prod2 ${f(1)})
    (local.set $i (i32.const 0))
    (block $done (loop $next
      (br_if $done (i32.ge_s (local.get $i) (local.get $len)))
      (local.set $label (i32.load8_u (i32.add (local.get $labels) (local.get $i))))
      (local.set $col (i32.shl (local.get $i) (i32.const 3)))
      (local.set $at (i32.add (i32.mul (local.get $label) (local.get $stride)) (local.get $col)))
      (local.set $lg (f64.load (i32.add (local.get $logit) (local.get $at))))
      (local.set $e (f64.load (i32.add (local.get $exps) (local.get $at))))
      (local.set $col (i32.add (local.get $logit) (local.get $col)))
      (local.set $prod (f64.mul (local.get $prod)
        (f64.max (f64.div (local.get $e) (f64.load (i32.add (local.get $sum) (i32.shl (local.get $i) (i32.const 3))))) ${f(1e-12)})))
      (if (f64.lt (local.get $prod) ${f(1e-288)}) (then
        (f64.store offset=24 (i32.add (local.get $out) (i32.shl (local.get $n) (i32.const 3))) (local.get $prod))
        (local.set $n (i32.add (local.get $n) (i32.const 1)))
        (local.set $prod ${f(1)})))
      (if (f64.eq (local.get $lg) (f64.load (i32.add (local.get $max) (i32.shl (local.get $i) (i32.const 3))))) (then
        ${firstAt('(local.get $lg)')}
        (if (local.get $first) (then (local.set $correct (f64.add (local.get $correct) ${f(1)}))))))
      (if (local.get $pair) (then
        (local.set $prod2 (f64.mul (local.get $prod2)
          (f64.max (f64.div (f64.div ${f(1)} (local.get $e)) (f64.load (i32.add (local.get $recip) (i32.shl (local.get $i) (i32.const 3))))) ${f(1e-12)})))
        (if (f64.lt (local.get $prod2) ${f(1e-288)}) (then
          (f64.store offset=24 (i32.add (local.get $out2) (i32.shl (local.get $n2) (i32.const 3))) (local.get $prod2))
          (local.set $n2 (i32.add (local.get $n2) (i32.const 1)))
          (local.set $prod2 ${f(1)})))
        (if (f64.eq (local.get $lg) (f64.load (i32.add (local.get $min) (i32.shl (local.get $i) (i32.const 3))))) (then
          ${firstAt('(local.get $lg)')}
          (if (local.get $first) (then (local.set $correct2 (f64.add (local.get $correct2) ${f(1)}))))))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $next)))
    (f64.store (local.get $out) (local.get $correct))
    (f64.store offset=8 (local.get $out) (local.get $prod))
    (f64.store offset=16 (local.get $out) (f64.convert_i32_s (local.get $n)))
    (if (local.get $pair) (then
      (f64.store (local.get $out2) (local.get $correct2))
      (f64.store offset=8 (local.get $out2) (local.get $prod2))
      (f64.store offset=16 (local.get $out2) (f64.convert_i32_s (local.get $n2)))))
  )`;
}

/**
 * score32(jobs, views, outputs, labels, res, slot, logit, tile, max, min, sum, recip, exps, len, fast):
 * every view's scoring of a tile at w and −w in one call (what the evaluator's JS did per view:
 * gather, the pair decision, exps, the scoring loop), the same operations in the same order. Per
 * view v, at element index jobs + v·(4·outputs + 2): its logit list at w, its list at −w (both
 * (offset, scale) pairs as gather32 reads them), then two doubles: whether it has a −w list, and
 * whether the softmax at −w may come from the exps at w (odd outputs of a mirrored pair; taken when
 * the tile's largest max − min is ≤ ${PAIR_RANGE_LIMIT_32}). Results: at byte `res` + (2v + side)·slot, tally32's
 * records at w and at −w; a view with neither a −w list nor the pair gets no −w record. `fast`:
 * the exps of expsums32fast (expFast32) instead of expsums32's.
 */
function scoreFunc32(): string {
  const f = (x: number) => `(f64.const ${lit(x)})`;
  return `
  (func (export "score32") (param $jobs i32) (param $views i32) (param $outputs i32) (param $labels i32)
    (param $res i32) (param $slot i32) (param $logit i32) (param $tile i32) (param $max i32) (param $min i32)
    (param $sum i32) (param $recip i32) (param $exps i32) (param $len i32) (param $fast i32)
    (local $v i32) (local $list i32) (local $flags i32) (local $pair i32) (local $range f64) (local $i i32)
    (local $mx i32) (local $mn i32) (local $out i32) (local $rc i32)
    (local.set $mx ${addrOf('(local.get $max)')})
    (local.set $mn ${addrOf('(local.get $min)')})
    (local.set $v (i32.const 0))
    (local.set $list (local.get $jobs))
    (local.set $out (local.get $res))
    (block $vdone (loop $vnext
      (br_if $vdone (i32.ge_s (local.get $v) (local.get $views)))
      (call $gather32 (local.get $logit) (local.get $tile) (local.get $max) (local.get $min) (local.get $list)
        (local.get $outputs) (local.get $len))
      (local.set $flags ${addrOf('(i32.add (local.get $list) (i32.shl (local.get $outputs) (i32.const 2)))')})
      (local.set $pair (i32.const 0))
      (if (f64.ne (f64.load offset=8 (local.get $flags)) ${f(0)}) (then
        (local.set $range ${f(0)})
        (local.set $i (i32.const 0))
        (block $rdone (loop $rnext
          (br_if $rdone (i32.ge_s (local.get $i) (local.get $len)))
          (local.set $range (f64.max (local.get $range)
            (f64.sub (f64.load (i32.add (local.get $mx) (i32.shl (local.get $i) (i32.const 3))))
                     (f64.load (i32.add (local.get $mn) (i32.shl (local.get $i) (i32.const 3)))))))
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br $rnext)))
        (local.set $pair (f64.le (local.get $range) ${f(PAIR_RANGE_LIMIT_32)}))))
      (local.set $rc (select (local.get $recip) (i32.const -1) (local.get $pair)))
      (if (local.get $fast)
        (then (call $expsums32fast (local.get $logit) (local.get $tile) (local.get $max) (local.get $sum)
          (local.get $rc) (local.get $exps) (local.get $outputs) (local.get $len)))
        (else (call $expsums32 (local.get $logit) (local.get $tile) (local.get $max) (local.get $sum)
          (local.get $rc) (local.get $exps) (local.get $outputs) (local.get $len))))
      (call $tally32 (local.get $logit) (local.get $tile) (local.get $max) (local.get $min) (local.get $sum)
        (local.get $recip) (local.get $exps) (local.get $labels) (local.get $pair) (local.get $out)
        (i32.add (local.get $out) (local.get $slot)) (local.get $len))
      (if (i32.and (i32.eqz (local.get $pair)) (f64.ne (f64.load (local.get $flags)) ${f(0)})) (then
        (call $gather32 (local.get $logit) (local.get $tile) (local.get $max) (local.get $min)
          (i32.add (local.get $list) (i32.shl (local.get $outputs) (i32.const 1))) (local.get $outputs) (local.get $len))
        (if (local.get $fast)
          (then (call $expsums32fast (local.get $logit) (local.get $tile) (local.get $max) (local.get $sum)
            (i32.const -1) (local.get $exps) (local.get $outputs) (local.get $len)))
          (else (call $expsums32 (local.get $logit) (local.get $tile) (local.get $max) (local.get $sum)
            (i32.const -1) (local.get $exps) (local.get $outputs) (local.get $len))))
        (call $tally32 (local.get $logit) (local.get $tile) (local.get $max) (local.get $min) (local.get $sum)
          (local.get $recip) (local.get $exps) (local.get $labels) (i32.const 0) (i32.add (local.get $out) (local.get $slot))
          (local.get $out) (local.get $len))))
      (local.set $list (i32.add (local.get $list) (i32.add (i32.shl (local.get $outputs) (i32.const 2)) (i32.const 2))))
      (local.set $out (i32.add (local.get $out) (i32.shl (local.get $slot) (i32.const 1))))
      (local.set $v (i32.add (local.get $v) (i32.const 1)))
      (br $vnext)))
  )`;
}

/**
 * forward32(prog, rows, w, paired, pre, len): every row of a tile at weight w (and, when `paired`,
 * at −w), as the float64 kernel backend (src/wann/evaluator/wasm-float64.ts) does it row by row,
 * in one call: the program at byte `prog` (written by wasm-float32.ts per plan) holds per row the
 * i32s
 *   id | parity << 8, dstA, dstB, n | signed << 16, n × (offset, sign)
 * and for parity NONE (0) a second list (n2 | signed2 << 16, n2 × (offset, sign)) for −w. One
 * term: the activation reads it directly (weight × its sign); more: summed into row `pre` first.
 * Parity MIRRORED (3) rows write act(y) and act(−y) in one pass when paired.
 */
function forwardFunc32(): string {
  // $src/$ws of the list at $lp (n | signed << 16 at $lp); advances $lp past it.
  const terms = (weight: string) => `
      (local.set $n (i32.and (i32.load (local.get $lp)) (i32.const 65535)))
      (if (i32.eq (local.get $n) (i32.const 1))
        (then
          (local.set $src (i32.load offset=4 (local.get $lp)))
          (local.set $ws (f64.mul ${weight} (f64.convert_i32_s (i32.load offset=8 (local.get $lp))))))
        (else
          (call $sum32i (local.get $pre) (i32.add (local.get $lp) (i32.const 4)) (local.get $n)
            (i32.shr_u (i32.load (local.get $lp)) (i32.const 16)) (local.get $len))
          (local.set $src (local.get $pre))
          (local.set $ws ${weight})))
      (local.set $lp (i32.add (local.get $lp) (i32.add (i32.const 4) (i32.shl (local.get $n) (i32.const 3)))))`;
  return `
  (func (export "forward32") (param $prog i32) (param $rows i32) (param $w f64) (param $paired i32) (param $pre i32) (param $len i32)
    (local $r i32) (local $id i32) (local $parity i32) (local $dstA i32) (local $dstB i32) (local $lp i32)
    (local $n i32) (local $src i32) (local $ws f64)
    (local.set $r (i32.const 0))
    (local.set $lp (local.get $prog))
    (block $rdone (loop $rnext
      (br_if $rdone (i32.ge_s (local.get $r) (local.get $rows)))
      (local.set $id (i32.and (i32.load (local.get $lp)) (i32.const 255)))
      (local.set $parity (i32.shr_u (i32.load (local.get $lp)) (i32.const 8)))
      (local.set $dstA (i32.load offset=4 (local.get $lp)))
      (local.set $dstB (i32.load offset=8 (local.get $lp)))
      (local.set $lp (i32.add (local.get $lp) (i32.const 12)))
      ${terms('(local.get $w)')}
      (if (i32.and (local.get $paired) (i32.eq (local.get $parity) (i32.const ${PARITY_MIRRORED})))
        (then (call_indirect (type $mir) (local.get $ws) (local.get $src) (local.get $dstA) (local.get $dstB) (local.get $len)
          (i32.add (local.get $id) (i32.const ${MIR32_TABLE_BASE}))))
        (else (call_indirect (type $act) (local.get $ws) (local.get $src) (local.get $dstA) (local.get $len) (local.get $id))))
      (if (i32.eqz (local.get $parity))
        (then
          (if (local.get $paired)
            (then
              ${terms('(f64.neg (local.get $w))')}
              (call_indirect (type $act) (local.get $ws) (local.get $src) (local.get $dstB) (local.get $len) (local.get $id)))
            (else
              (local.set $lp (i32.add (local.get $lp)
                (i32.add (i32.const 4) (i32.shl (i32.and (i32.load (local.get $lp)) (i32.const 65535)) (i32.const 3)))))))))
      (local.set $r (i32.add (local.get $r) (i32.const 1)))
      (br $rnext)))
  )`;
}

/**
 * insums32(prog, rows, x, len): `insums` into float32 rows (destinations are float32 element
 * indices): dst[i] = bias + x_1[i] + … + x_n[i] in float32, left to right.
 */
function inSumsFunc32(): string {
  const names = ['a', 'b', 'c', 'd'];
  const variants: string[] = [];
  for (const first of [0, 1]) {
    for (let take = 1; take <= 4; take++) {
      let expr = first ? vload(at('dst')) : g('bias');
      for (const nm of names.slice(0, take)) expr = add32(expr, vload(at(`p${nm}`)));
      variants.push(
        `(if (i32.and (i32.eq (local.get $first) (i32.const ${first})) (i32.eq (local.get $take) (i32.const ${take})))
            (then ${loop32(`(v128.store ${at('dst')} ${expr})`)}))`,
      );
    }
  }
  const loadTerm = (nm: string, k: number) => `
      (local.set $p${nm} (i32.add (local.get $x) (i32.load offset=${4 * k} (local.get $lp))))`;
  return `
  (func (export "insums32") (param $prog i32) (param $rows i32) (param $x i32) (param $len i32)
    (local $i i32) (local $end i32) (local $r i32) (local $dst i32) (local $n i32)
    (local $e i32) (local $take i32) (local $first i32) (local $lp i32)
    (local $pa i32) (local $pb i32) (local $pc i32) (local $pd i32) (local $bias v128)
    (local.set $r (i32.const 0))
    (block $rdone (loop $rnext
      (br_if $rdone (i32.ge_s (local.get $r) (local.get $rows)))
      (local.set $dst ${addrOf32('(i32.load (local.get $prog))')})
      (local.set $bias (f32x4.splat (f32.convert_i32_s (i32.load offset=4 (local.get $prog)))))
      (local.set $n (i32.load offset=8 (local.get $prog)))
      (local.set $prog (i32.add (local.get $prog) (i32.const 12)))
      (if (i32.eqz (local.get $n))
        (then ${loop32(`(v128.store ${at('dst')} (local.get $bias))`)}))
      (local.set $e (i32.const 0))
      (local.set $first (i32.const 0))
      (block $exit (loop $chunk
        (br_if $exit (i32.ge_s (local.get $e) (local.get $n)))
        (local.set $take (i32.sub (local.get $n) (local.get $e)))
        (if (i32.gt_s (local.get $take) (i32.const 4)) (then (local.set $take (i32.const 4))))
        (local.set $lp (i32.add (local.get $prog) (i32.shl (local.get $e) (i32.const 2))))
        ${names.map((nm, k) => loadTerm(nm, k)).join('')}
        ${variants.join('\n')}
        (local.set $first (i32.const 1))
        (local.set $e (i32.add (local.get $e) (local.get $take)))
        (br $chunk)))
      (local.set $prog (i32.add (local.get $prog) (i32.shl (local.get $n) (i32.const 2))))
      (local.set $r (i32.add (local.get $r) (i32.const 1)))
      (br $rnext)))
  )`;
}

export function kernelWat(): string {
  return `;; Generated by scripts/build-kernel.ts: do not edit.
;; Activation ids (src/wann/activation-ids.ts): ${Object.entries(ACTIVATION_IDS)
    .map(([name, id]) => `${id} ${name}`)
    .join(', ')}.
;; act<id> / act32_<id>: activation id; mir<id> / mir32_<id>: its mirror (step, sigmoid, relu);
;; forward32's table: act32_<id> at id, mir32_<id> at ${MIR32_TABLE_BASE} + id.
(module
  (memory (export "memory") 1)
  (type $act (func (param f64 i32 i32 i32)))
  (type $mir (func (param f64 i32 i32 i32 i32)))
  (table ${2 * MIR32_TABLE_BASE} funcref)
  (elem (i32.const 1) ${ALL_IDS.map((id) => `$act32_${id}`).join(' ')})
  ${MIRRORED_IDS.map((id) => `(elem (i32.const ${MIR32_TABLE_BASE + id}) $mir32_${id})`).join('\n  ')}
  ${ALL_IDS.map(actFunc).join('\n')}
  ${MIRRORED_IDS.map(mirFunc).join('\n')}
  ${sumFunc()}
  ${inSumsFunc()}
  ${expSumsFunc()}
  ${gatherFunc(false)}
  ${ALL_IDS.map(actFunc32).join('\n')}
  ${MIRRORED_IDS.map(mirFunc32).join('\n')}
  ${sumFunc32()}
  ${sumFunc32(true)}
  ${forwardFunc32()}
  ${expSumsFunc32()}
  ${expSumsFunc32(true)}
  ${inSumsFunc32()}
  ${gatherFunc(true)}
  ${tallyFunc32()}
  ${scoreFunc32()}
)
`;
}

async function main() {
  const wat = kernelWat();
  const wabt = await wabtInit();
  const mod = wabt.parseWat('kernel.wat', wat, { simd: true, sat_float_to_int: true });
  mod.validate();
  const { buffer } = mod.toBinary({});
  writeFileSync(`${OUT_DIR}kernel.wat`, wat);
  writeFileSync(`${OUT_DIR}kernel.wasm`, buffer);
  console.log(`kernel.wasm: ${buffer.length} bytes`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) await main();
