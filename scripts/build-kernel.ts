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
 * after the scratch view, see `Evaluator` in src/wann/network.ts).
 * Rows are processed two elements at a time: when `len` is odd, one element past `len` is read
 * and written, so rows must have an even stride (the evaluator rounds its tile up to even).
 */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import wabtInit from 'wabt';

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
let constants: Map<number, string> | null = null;
const C = (x: number) => {
  if (!constants) return `(v128.const f64x2 ${lit(x)} ${lit(x)})`;
  let name = constants.get(x);
  if (!name) {
    name = `c${constants.size}`;
    constants.set(x, name);
  }
  return `(local.get $${name})`;
};
/** Wraps a function: `build` returns [header, body]; hoisted constants go between them. */
function withConstants(build: () => [string, string]): string {
  constants = new Map();
  const [head, body] = build();
  const map = constants;
  constants = null;
  const decl = [...map.values()].map((n) => `(local $${n} v128)`).join(' ');
  const init = [...map].map(([x, n]) => `(local.set $${n} ${C(x)})`).join('\n    ');
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
  1: () => set('v', g('y')),
  2: () => set('v', `(v128.and (f64x2.gt ${g('y')} ${C(0)}) ${C(1)})`),
  3: () => sinCosCode(false),
  4: () =>
    [set('x', `(f64x2.pmax ${mul(mul(C(-0.5), g('y')), g('y'))} ${C(-745.2)})`), expCode('v', true)].join(
      '\n',
    ),
  5: () =>
    [
      set('x', mul(C(-2), clamp(g('y'), -20, 20))),
      expCode('e', false),
      set('v', `(f64x2.div ${sub(C(1), g('e'))} ${add(C(1), g('e'))})`),
    ].join('\n'),
  6: () =>
    [
      set('x', `(f64x2.neg ${clamp(g('y'), -700, 700)})`),
      expCode('e', false),
      set('v', `(f64x2.div ${C(1)} ${add(C(1), g('e'))})`),
    ].join('\n'),
  7: () => set('v', `(f64x2.neg ${g('y')})`),
  8: () => set('v', `(f64x2.abs ${g('y')})`),
  9: () => set('v', `(f64x2.max ${C(0)} ${g('y')})`),
  10: () => sinCosCode(true),
  11: () => set('v', mul(g('y'), g('y'))),
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
    2: () => set('mv', `(v128.and (f64x2.lt ${g('y')} ${C(0)}) ${C(1)})`),
    6: () => set('mv', sub(C(1), g('v'))),
    9: () => set('mv', sub(g('v'), g('y'))),
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
 * insums(prog, rows, x, len): the input sums of a tile (`loadTile` in network.ts). `prog` (byte
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
 * (`finiteLogit` in network.ts); max[i], min[i] over j.
 */
function gatherFunc(): string {
  return withConstants(() => [
    `
  (func (export "gather") (param $logit i32) (param $tile i32) (param $max i32) (param $min i32)
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
      (local.set $src ${addrOf('(i32.trunc_sat_f64_s (f64.load (local.get $lp)))')})
      (local.set $w (f64x2.splat (f64.load offset=8 (local.get $lp))))
      ${loop(`
        ${set('y', `(f64x2.pmax (f64x2.pmin ${mul(g('w'), vload(at('src')))} ${C(1e300)}) ${C(-1e300)})`)}
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

export function kernelWat(): string {
  return `;; Generated by scripts/build-kernel.ts: do not edit.
(module
  (memory (export "memory") 1)
  ${[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11].map(actFunc).join('\n')}
  ${[2, 6, 9].map(mirFunc).join('\n')}
  ${sumFunc()}
  ${inSumsFunc()}
  ${expSumsFunc()}
  ${gatherFunc()}
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
