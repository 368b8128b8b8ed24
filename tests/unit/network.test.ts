import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { type Rng, stream } from '../../src/random';
import {
  accuracyPerWeight,
  ensembleAccuracy,
  ensemblePredict,
  TUNE_WEIGHTS,
  tuneWeight,
} from '../../src/wann/accuracy';
import { SHARED_WEIGHTS } from '../../src/wann/activation-ids';
import { applyActivationReference } from '../../src/wann/activations';
import { type Genome, GenomeFormatError, initialGenome } from '../../src/wann/genome';
import { compileKernel } from '../../src/wann/kernel/kernel';
import {
  compile,
  Evaluator,
  evaluate,
  forwardProbabilities,
  KernelStartError,
  MIN_FITNESS,
  MIN_PROBABILITY,
  predictLabels,
} from '../../src/wann/network';
import type { Batch } from '../../src/wann/types';

/** The optional WebAssembly SIMD kernel (src/wann/kernel/kernel.wasm). */
const kernel = compileKernel(readFileSync(new URL('../../src/wann/kernel/kernel.wasm', import.meta.url)));

// ---------------------------------------------------------------------------------------------
// An obviously correct reference: recursive, memoised per node, float64, Math.* activations.
// Each node sums the bias and inputs first, then hidden sources, each group in connection order:
// the same order as the fast path, so the step activation sees identical sums at its threshold.

/**
 * Math.* activations, with sin(πx)/cos(πx) reduced exactly first (x = n + r): the literal
 * Math.sin(Math.PI * 1) is 1.2e-16, not 0, and a `step` after it would turn that rounding into a 1.
 */
function referenceActivation(id: number, x: number): number {
  if (id !== 3 && id !== 10) return applyActivationReference(id, x);
  const n = Math.round(x);
  const r = x - n;
  const sign = n % 2 === 0 ? 1 : -1;
  return sign * Math.sin(Math.PI * (id === 3 ? r : 0.5 - Math.abs(r)));
}

function referenceValues(g: Genome, x: (p: number) => number, w: number): Float64Array {
  const memo = new Float64Array(g.acts.length).fill(Number.NaN);
  const done = new Uint8Array(g.acts.length);
  const value = (v: number): number => {
    if (v === 0) return 1;
    if (v <= g.inputs) return x(v - 1);
    if (done[v]) return memo[v];
    let sum = 0;
    for (let k = 0; k < g.src.length; k++) {
      if (g.enabled[k] && g.dst[k] === v && g.src[k] <= g.inputs) sum += value(g.src[k]);
    }
    for (let k = 0; k < g.src.length; k++) {
      if (g.enabled[k] && g.dst[k] === v && g.src[k] > g.inputs) sum += value(g.src[k]);
    }
    memo[v] = referenceActivation(g.acts[v], w * sum);
    done[v] = 1;
    return memo[v];
  };
  for (let v = g.inputs + 1; v < g.acts.length; v++) value(v);
  return memo;
}

/** As the evaluator does: logits clamped into ±1e300, NaN → −1e300. */
// biome-ignore lint/complexity/useMathMinMax: NaN must become −1e300; Math.min/max would keep it
const clampLogit = (v: number) => (v > -1e300 ? (v < 1e300 ? v : 1e300) : -1e300);

/** Reference softmax probabilities, fitness and accuracy per weight. */
function referenceEvaluate(g: Genome, batch: Batch, weights: readonly number[]) {
  const fitness: number[] = [];
  const accuracy: number[] = [];
  const probabilities: number[][] = [];
  const logitRows: number[][][] = [];
  for (const w of weights) {
    let logLik = 0;
    let correct = 0;
    const probs: number[] = [];
    const rows: number[][] = [];
    for (let i = 0; i < batch.count; i++) {
      const values = referenceValues(g, (p) => batch.inputs[p * batch.count + i], w);
      const logits = Array.from({ length: g.outputs }, (_, j) => clampLogit(values[g.inputs + 1 + j]));
      rows.push(logits);
      const max = Math.max(...logits);
      const exps = logits.map((v) => Math.exp(v - max));
      const sum = exps.reduce((a, b) => a + b, 0);
      const p = exps.map((e) => e / sum);
      probs.push(...p);
      logLik += Math.log(Math.max(p[batch.labels[i]], MIN_PROBABILITY));
      if (logits.indexOf(max) === batch.labels[i]) correct++;
    }
    fitness.push(logLik / batch.count);
    accuracy.push(correct / batch.count);
    probabilities.push(probs);
    logitRows.push(rows);
  }
  return { fitness, accuracy, probabilities, logits: logitRows };
}

/**
 * Fast predictions must be the reference argmax, except where the reference's best logit and the
 * predicted class's logit are equal up to rounding (a near-tie that a last-bit difference of a
 * fast activation may break either way). Returns how many such near-ties were accepted.
 */
function expectSamePredictions(predicted: Int32Array, logits: number[][], what: string): number {
  let nearTies = 0;
  logits.forEach((row, i) => {
    const best = row.indexOf(Math.max(...row));
    if (predicted[i] === best) return;
    const gap = Math.abs(row[best] - row[predicted[i]]);
    expect(gap, `${what} example ${i}: predicted ${predicted[i]}, reference ${best}`).toBeLessThanOrEqual(
      1e-12 * Math.max(1, Math.abs(row[best])),
    );
    nearTies++;
  });
  return nearTies;
}

// ---------------------------------------------------------------------------------------------
// Random genomes: hidden nodes with any of the 11 activations, random acyclic connections (hidden
// and output nodes in a random order, connections only forward in it, outputs may feed hidden
// nodes but never outputs), some disabled, outputs with random activations too.

function randomGenome(rng: Rng, inputs: number, outputs: number, hidden: number): Genome {
  const n = inputs + outputs + 1 + hidden;
  const acts = new Uint8Array(n).fill(1);
  for (let v = inputs + 1; v < n; v++)
    acts[v] = rng.chance(0.5) && v <= inputs + outputs ? 1 : 1 + rng.int(11);
  const order = rng.shuffle(Array.from({ length: n - inputs - 1 }, (_, k) => inputs + 1 + k));
  const rank = new Int32Array(n).fill(-1);
  order.forEach((v, k) => {
    rank[v] = k;
  });
  const isOutput = (v: number) => v > inputs && v <= inputs + outputs;
  const conns: [number, number][] = [];
  for (const d of order) {
    const fanIn = rng.int(6);
    const seen = new Set<number>();
    for (let t = 0; t < fanIn; t++) {
      let s: number;
      if (rng.chance(0.5)) s = rng.int(inputs + 1);
      else {
        const earlier = order.slice(0, rank[d]).filter((v) => !(isOutput(v) && isOutput(d)));
        if (earlier.length === 0) continue;
        s = rng.pick(earlier);
      }
      if (seen.has(s)) continue;
      seen.add(s);
      conns.push([s, d]);
    }
  }
  rng.shuffle(conns);
  const m = conns.length;
  const g: Genome = {
    inputs,
    outputs,
    acts,
    innov: Int32Array.from({ length: m }, (_, k) => k + 1),
    src: Int32Array.from(conns, (c) => c[0]),
    dst: Int32Array.from(conns, (c) => c[1]),
    enabled: Uint8Array.from(conns, () => (rng.chance(0.8) ? 1 : 0)),
  };
  return g;
}

function randomBatch(rng: Rng, features: number, outputs: number, count: number): Batch {
  const inputs = new Float32Array(features * count);
  for (let k = 0; k < inputs.length; k++) inputs[k] = rng.chance(0.3) ? 0 : rng.float();
  const labels = Uint8Array.from({ length: count }, () => rng.int(outputs));
  return { count, features, inputs, labels };
}

/** A genome from explicit parts: connections as [src, dst] or [src, dst, enabled]. */
function genomeOf(
  inputs: number,
  outputs: number,
  acts: number[],
  conns: [number, number, number?][],
): Genome {
  return {
    inputs,
    outputs,
    acts: Uint8Array.from([...new Array(inputs + 1).fill(1), ...acts]),
    innov: Int32Array.from(conns, (_, k) => k + 1),
    src: Int32Array.from(conns, (c) => c[0]),
    dst: Int32Array.from(conns, (c) => c[1]),
    enabled: Uint8Array.from(conns, (c) => c[2] ?? 1),
  };
}

function batchOf(features: number, rows: number[][], labels: number[]): Batch {
  const count = rows.length;
  const inputs = new Float32Array(features * count);
  rows.forEach((row, i) => {
    row.forEach((v, p) => {
      inputs[p * count + i] = v;
    });
  });
  return { count, features, inputs, labels: Uint8Array.from(labels) };
}

// ---------------------------------------------------------------------------------------------

describe('forward pass against the reference', () => {
  it('matches on many random genomes at every shared weight (fitness, accuracy, probabilities)', () => {
    const small = new Evaluator({ tile: 7 }); // several tiles per batch, a partial last one
    const big = new Evaluator();
    // The same with the float64 WebAssembly kernel (tile 7 → 8: odd partial tiles).
    const smallKernel = new Evaluator({ tile: 7, kernel, precision: 'f64' });
    const bigKernel = new Evaluator({ kernel, precision: 'f64' });
    let worstFitness = 0;
    let worstProbability = 0;
    let nearTies = 0;
    // Every evaluation path must be exercised: row parities (none/even/odd/mirrored) and the
    // softmax shortcuts (outputs all odd → one set of exps for ±w; all even → same scores).
    const rowParities = new Set<number>();
    const outputParities = new Set<number>();
    for (let t = 0; t < 150; t++) {
      const rng = stream(11, t, 'test', 0);
      const inputs = 1 + rng.int(8);
      const outputs = 1 + rng.int(6);
      const g = randomGenome(rng, inputs, outputs, rng.int(14));
      const batch = randomBatch(rng, inputs, outputs, 1 + rng.int(40));
      const plan = compile(g);
      for (const p of plan.rowParity) rowParities.add(p);
      outputParities.add(plan.outputParity);
      const ref = referenceEvaluate(g, batch, SHARED_WEIGHTS);
      const ties = SHARED_WEIGHTS.map((w, k) =>
        expectSamePredictions(predictLabels(plan, batch, w), ref.logits[k], `genome ${t} weight ${w}`),
      );
      nearTies += ties.reduce((a, b) => a + b, 0);
      for (const ev of [small, big, smallKernel, bigKernel]) {
        const got = ev.evaluate(plan, batch, SHARED_WEIGHTS);
        got.accuracy.forEach((a, k) => {
          expect(Math.abs(a - ref.accuracy[k])).toBeLessThanOrEqual(ties[k] / batch.count + 1e-15);
        });
        expect(got.connections).toBe(g.enabled.reduce((a, b) => a + b, 0));
        got.fitness.forEach((f, k) => {
          worstFitness = Math.max(worstFitness, Math.abs(f - ref.fitness[k]));
          expect(Math.abs(f - ref.fitness[k]), `genome ${t} weight ${SHARED_WEIGHTS[k]}`).toBeLessThan(1e-5);
        });
      }
      SHARED_WEIGHTS.forEach((w, k) => {
        const probs = forwardProbabilities(plan, batch, w);
        expect(probs.length).toBe(batch.count * outputs);
        probs.forEach((p, i) => {
          worstProbability = Math.max(worstProbability, Math.abs(p - ref.probabilities[k][i]));
        });
        expect(worstProbability, `genome ${t} weight ${w}`).toBeLessThan(1e-5);
      });
    }
    // Float64 throughout: far inside the 1e-5 budget (probabilities are returned as float32).
    expect(worstFitness).toBeLessThan(1e-9);
    expect(worstProbability).toBeLessThan(1e-6);
    // Exact ties are common in these small genomes (constant nodes); near-ties broken differently
    // by a last-bit difference must stay rare.
    expect(nearTies).toBeLessThan(20);
    expect([...rowParities].sort()).toEqual([0, 1, 2, 3]);
    expect([...outputParities].sort()).toEqual([0, 1, 2]);
  });

  it('matches at arbitrary weight lists, mirrored pairs or not, whatever their order', () => {
    for (let t = 0; t < 40; t++) {
      const rng = stream(12, t, 'test', 0);
      const g = randomGenome(rng, 4, 3, 3 + rng.int(10));
      const batch = randomBatch(rng, 4, 3, 25);
      const plan = compile(g);
      const weights = [0.7, -1.3, 1.3, 0, -0.7, 2, 2, -2, 0.25];
      const ref = referenceEvaluate(g, batch, weights);
      const got = evaluate(plan, batch, weights);
      weights.forEach((w, k) => {
        const ties = expectSamePredictions(
          predictLabels(plan, batch, w),
          ref.logits[k],
          `genome ${t} weight ${w}`,
        );
        expect(Math.abs(got.accuracy[k] - ref.accuracy[k])).toBeLessThanOrEqual(ties / batch.count + 1e-15);
      });
      got.fitness.forEach((f, k) => {
        expect(Math.abs(f - ref.fitness[k])).toBeLessThan(1e-9);
      });
      // One weight at a time gives the same as all together.
      weights.forEach((w, k) => {
        expect(evaluate(plan, batch, [w]).fitness[0]).toBeCloseTo(got.fitness[k], 12);
      });
    }
  });

  it('is deterministic and independent of the tile size', () => {
    const rng = stream(13, 0, 'test', 0);
    const g = randomGenome(rng, 6, 4, 12);
    const batch = randomBatch(rng, 6, 4, 1000);
    const plan = compile(g);
    const a = new Evaluator({ tile: 1 }).evaluate(plan, batch);
    const b = new Evaluator({ tile: 333 }).evaluate(plan, batch);
    const c = new Evaluator().evaluate(plan, batch);
    expect(c).toEqual(new Evaluator().evaluate(plan, batch));
    expect(a.accuracy).toEqual(c.accuracy);
    expect(b.accuracy).toEqual(c.accuracy);
    a.fitness.forEach((f, k) => {
      expect(f).toBeCloseTo(c.fitness[k], 12);
      expect(b.fitness[k]).toBeCloseTo(c.fitness[k], 12);
    });
  });

  it('evaluates MNIST-shaped initial genomes (outputs read straight from the input sums)', () => {
    const rng = stream(14, 0, 'test', 0);
    const g = initialGenome(256, 10, 0.05, rng);
    const batch = randomBatch(rng, 256, 10, 30);
    const ref = referenceEvaluate(g, batch, SHARED_WEIGHTS);
    const got = evaluate(compile(g), batch);
    expect(got.accuracy).toEqual(ref.accuracy);
    got.fitness.forEach((f, k) => {
      expect(Math.abs(f - ref.fitness[k])).toBeLessThan(1e-9);
    });
  });
});

describe('compile', () => {
  it('rejects a cycle through enabled connections with a clear error', () => {
    // 2 inputs, 1 output (3), hidden 4 and 5: 4 → 5 → 4.
    const g = genomeOf(
      2,
      1,
      [1, 5, 5],
      [
        [1, 4],
        [4, 5],
        [5, 4],
        [5, 3],
      ],
    );
    expect(() => compile(g)).toThrow(GenomeFormatError);
    expect(() => compile(g)).toThrow(
      /genome has a cycle through node [45] \(enabled connections [45] → [45] → [45]\)/,
    );
    // A self-loop is a cycle too, even on a node that reaches no output.
    const selfLoop = genomeOf(
      2,
      1,
      [1, 5],
      [
        [1, 3],
        [1, 4],
        [4, 4],
      ],
    );
    expect(() => compile(selfLoop)).toThrow(/cycle through node 4/);
  });

  it('ignores a cycle that goes through a disabled connection', () => {
    const g = genomeOf(
      2,
      1,
      [1, 5, 5],
      [
        [1, 4],
        [4, 5],
        [5, 4, 0],
        [5, 3],
      ],
    );
    const plan = compile(g);
    expect(plan.rows).toBe(3);
    expect(plan.connections).toBe(3);
  });

  it('rejects connections that point outside the genome or into inputs', () => {
    expect(() => compile(genomeOf(2, 1, [1], [[1, 9]]))).toThrow(GenomeFormatError);
    expect(() => compile(genomeOf(2, 1, [1], [[3, 1]]))).toThrow(GenomeFormatError);
  });

  it('skips nodes that reach no output, without changing any result', () => {
    const rng = stream(15, 0, 'test', 0);
    const g = randomGenome(rng, 5, 3, 8);
    const batch = randomBatch(rng, 5, 3, 50);
    // A dead end: a new hidden node fed by inputs and a hidden node, feeding nothing.
    const dead = g.acts.length;
    const withDead: Genome = {
      ...g,
      acts: Uint8Array.from([...g.acts, 4]),
      innov: Int32Array.from([...g.innov, 1000, 1001]),
      src: Int32Array.from([...g.src, 1, dead - 1]),
      dst: Int32Array.from([...g.dst, dead, dead]),
      enabled: Uint8Array.from([...g.enabled, 1, 1]),
    };
    const plan = compile(g);
    const planDead = compile(withDead);
    expect(Array.from(planDead.rowNode)).not.toContain(dead);
    expect(planDead.rows).toBe(plan.rows);
    const a = evaluate(plan, batch);
    const b = evaluate(planDead, batch);
    expect(b.fitness).toEqual(a.fitness);
    expect(b.accuracy).toEqual(a.accuracy);
    expect(b.connections).toBe(a.connections + 2); // dead ends still count for the size objective
  });

  it('orders nodes deterministically (Kahn, ready nodes in id order)', () => {
    // Output 3 ← hidden 5 ← hidden 4 ← input 1; output 3 ← hidden 6 (no inputs).
    const g = genomeOf(
      2,
      1,
      [1, 1, 1, 1],
      [
        [5, 3],
        [4, 5],
        [1, 4],
        [6, 3],
      ],
    );
    expect(Array.from(compile(g).rowNode)).toEqual([6, 4, 5, 3]);
    expect(compile(g)).toEqual(compile(g));
  });
});

describe('node semantics', () => {
  it('a hidden node with no enabled inputs contributes act(0) at every weight', () => {
    // Output 2 ← gaussian hidden 4 (no inputs: gaussian(0) = 1), and output 3 ← input 1.
    // Output 2's logit is w · 1, output 3's is w · x.
    const g = genomeOf(
      1,
      2,
      [1, 1, 4],
      [
        [4, 2],
        [1, 3],
        [0, 4, 0], // disabled bias → hidden: still no input
      ],
    );
    const batch = batchOf(1, [[0], [0.25], [1]], [0, 1, 0]);
    const plan = compile(g);
    for (const w of SHARED_WEIGHTS) {
      const probs = forwardProbabilities(plan, batch, w);
      [0, 0.25, 1].forEach((x, i) => {
        const p0 = 1 / (1 + Math.exp(w * x - w));
        expect(probs[i * 2]).toBeCloseTo(p0, 6);
        expect(probs[i * 2 + 1]).toBeCloseTo(1 - p0, 6);
      });
    }
    // cos(0) = 1 likewise; an output with no inputs at all has linear(0) = 0.
    const g2 = genomeOf(1, 2, [1, 1, 10], [[4, 2]]);
    const probs = forwardProbabilities(compile(g2), batchOf(1, [[0.5]], [0]), -2);
    expect(probs[0]).toBeCloseTo(1 / (1 + Math.exp(2)), 6); // logits (−2·1, 0)
  });

  it('the bias outputs 1 and every enabled connection carries the shared weight', () => {
    // Output 3 = w·(bias + x1 + tanh(w·(x1 + x2))), output 4 = w·x2.
    const g = genomeOf(
      2,
      2,
      [1, 1, 5],
      [
        [0, 3],
        [1, 3],
        [1, 5],
        [2, 5],
        [5, 3],
        [2, 4],
      ],
    );
    const batch = batchOf(2, [[0.2, 0.9]], [1]);
    for (const w of SHARED_WEIGHTS) {
      const l3 = w * (1 + Math.fround(0.2) + Math.tanh(w * (Math.fround(0.2) + Math.fround(0.9))));
      const l4 = w * Math.fround(0.9);
      const p4 = 1 / (1 + Math.exp(l3 - l4));
      expect(forwardProbabilities(compile(g), batch, w)[1]).toBeCloseTo(p4, 6);
    }
  });
});

describe('accuracy and ensembles', () => {
  // Three classes; outputs linear: o0 = w·x0, o1 = w·x1, o2 = w·(bias) = w.
  const g = genomeOf(
    2,
    3,
    [1, 1, 1],
    [
      [1, 3],
      [2, 4],
      [0, 5],
    ],
  );
  const plan = compile(g);
  //                 x0   x1     w>0 argmax        w<0 argmax
  const batch = batchOf(
    2,
    [
      [0.9, 0.1], // 0 (0.9 > 1? no: o2 = w wins) → 2;  w<0: smallest positive... → 1
      [3, 0.5], //  0                                 w<0: 1
      [0.5, 2], //  1                                 w<0: 0
      [2, 2], //    tie 0/1 → 0                       w<0: 2
    ],
    [2, 0, 1, 0],
  );

  it('argmax with ties to the lowest index, per weight', () => {
    expect(Array.from(predictLabels(plan, batch, 1))).toEqual([2, 0, 1, 0]);
    expect(Array.from(predictLabels(plan, batch, 2))).toEqual([2, 0, 1, 0]);
    expect(Array.from(predictLabels(plan, batch, -1))).toEqual([1, 1, 0, 2]);
    expect(accuracyPerWeight(plan, batch, [1, -1, 0.5])).toEqual([1, 0, 1]);
    expect(evaluate(plan, batch, [1, -1]).accuracy).toEqual([1, 0]);
  });

  it('ensemble: majority vote of the weights, ties to the lowest class', () => {
    // Votes per example for [-1, 1, 2]: (1,2,2) → 2; (1,0,0) → 0; (0,1,1) → 1; (2,0,0) → 0.
    expect(Array.from(ensemblePredict(plan, batch, [-1, 1, 2]))).toEqual([2, 0, 1, 0]);
    expect(ensembleAccuracy(plan, batch, [-1, 1, 2])).toBe(1);
    // [-1, 1]: every example is a 1–1 tie → lowest class: (1,2) → 1; (1,0) → 0; (0,1) → 0; (2,0) → 0.
    expect(Array.from(ensemblePredict(plan, batch, [-1, 1]))).toEqual([1, 0, 0, 0]);
    expect(ensembleAccuracy(plan, batch, [-1, 1])).toBe(0.5);
    expect(() => ensemblePredict(plan, batch, [])).toThrow(RangeError);
  });

  it('tuneWeight finds the most accurate weight of the sweep', () => {
    expect(TUNE_WEIGHTS.length).toBe(80);
    expect(TUNE_WEIGHTS).not.toContain(0);
    expect(TUNE_WEIGHTS[0]).toBe(-2);
    expect(TUNE_WEIGHTS[79]).toBe(2);
    const tuned = tuneWeight(plan, batch);
    expect(tuned.accuracy).toBe(1);
    expect(tuned.weight).toBeGreaterThan(0);
    // Ties in accuracy go to the higher fitness: every w > 0 is fully accurate here, and the
    // largest weight is the most confident.
    expect(tuned.weight).toBe(2);
    expect(tuned.fitness).toBeCloseTo(evaluate(plan, batch, [2]).fitness[0], 12);
  });
});

describe('fitness clamping', () => {
  it('a confidently wrong network scores exactly ln(1e-12), never −∞', () => {
    // Output 2 = w·1000·x via a chain; label is always 0 (output 1 = 0).
    const g = genomeOf(1, 2, [1, 1], [[1, 3]]);
    const batch = batchOf(1, [[1000], [500]], [0, 0]);
    const r = evaluate(compile(g), batch, [2]);
    expect(r.fitness[0]).toBeCloseTo(MIN_FITNESS, 12);
    expect(MIN_FITNESS).toBeCloseTo(-27.631021115928547, 12);
  });

  it('overflow and NaN inside the network give finite fitness ≥ MIN_FITNESS', () => {
    // Chain of squared nodes: x → x² → ... overflows to ∞; ∞ − ∞ = NaN at a sum node.
    const acts = [1, 1, 11, 11, 11, 11, 11, 11, 11, 11, 11, 7];
    const conns: [number, number][] = [[1, 4]];
    for (let v = 4; v < 12; v++) conns.push([v, v + 1]);
    // Output 2 ← last squared (∞); output 3 ← (∞ + inverse(∞)) = NaN.
    conns.push([12, 2], [12, 13], [13, 3], [12, 3]);
    const g = genomeOf(1, 2, [1, ...acts.slice(1)], conns);
    expect(g.acts.length).toBe(14);
    const batch = batchOf(1, [[3], [0.5], [0], [1e30]], [0, 1, 0, 1]);
    const plan = compile(g);
    for (const weights of [SHARED_WEIGHTS, [100, -100, 0]]) {
      const r = evaluate(plan, batch, weights);
      for (const f of r.fitness) {
        expect(Number.isFinite(f)).toBe(true);
        expect(f).toBeGreaterThanOrEqual(MIN_FITNESS);
        expect(f).toBeLessThanOrEqual(0);
      }
      for (const w of weights) {
        for (const p of forwardProbabilities(plan, batch, w)) expect(Number.isNaN(p)).toBe(false);
      }
    }
  });

  it('random genomes at extreme weights stay finite', () => {
    for (let t = 0; t < 30; t++) {
      const rng = stream(16, t, 'test', 0);
      const g = randomGenome(rng, 3, 3, 10);
      const batch = randomBatch(rng, 3, 3, 20);
      const r = evaluate(compile(g), batch, [100, -100, 1e-300, 0, 37.5]);
      for (const f of r.fitness) expect(f >= MIN_FITNESS && f <= 0).toBe(true);
    }
  });
});

describe('WebAssembly kernel', () => {
  // The kernel computes the same formulas in the same order as the JS path, two examples per
  // f64x2: only exp differs (table-free, ≤ 5e-16 relative vs ≤ 4e-16), and sin/cos/sums are
  // bit-identical. Differences reach the fitness only through chaotic amplification (sin of
  // large pre-activations), far below 1e-9.
  it('agrees with the JS path on many random genomes, weights and batch sizes', () => {
    const js = new Evaluator({ tile: 32 });
    const wasm = new Evaluator({ tile: 32, kernel, precision: 'f64' });
    let worst = 0;
    let differentPredictions = 0;
    let predictions = 0;
    for (let t = 0; t < 300; t++) {
      const rng = stream(21, t, 'test', 0);
      const inputs = 1 + rng.int(12);
      const outputs = 1 + rng.int(10);
      const g = randomGenome(rng, inputs, outputs, rng.int(t < 250 ? 20 : 80));
      const batch = randomBatch(rng, inputs, outputs, 1 + rng.int(t < 250 ? 70 : 300));
      const plan = compile(g);
      const weights = t % 3 === 0 ? [0.7, -1.3, 1.3, 0, -0.7, 37.5, -37.5, 1e-300] : SHARED_WEIGHTS;
      const a = js.evaluate(plan, batch, weights);
      const b = wasm.evaluate(plan, batch, weights);
      a.fitness.forEach((f, k) => {
        expect(Number.isFinite(b.fitness[k])).toBe(true);
        worst = Math.max(worst, Math.abs(f - b.fitness[k]));
        expect(Math.abs(a.accuracy[k] - b.accuracy[k])).toBeLessThanOrEqual(2 / batch.count);
      });
      const pa = js.predictLabelsPerWeight(plan, batch, weights);
      const pb = wasm.predictLabelsPerWeight(plan, batch, weights);
      pa.forEach((v, i) => {
        predictions++;
        if (v !== pb[i]) differentPredictions++;
      });
      const qa = js.forwardProbabilities(plan, batch, weights[1]);
      const qb = wasm.forwardProbabilities(plan, batch, weights[1]);
      qa.forEach((q, i) => {
        expect(Math.abs(q - qb[i])).toBeLessThan(1e-6);
      });
    }
    expect(worst).toBeLessThan(1e-9);
    // A different argmax needs a near-tie broken by a last-bit difference: rare.
    expect(differentPredictions).toBeLessThan(predictions * 1e-3);
  });

  it('input sums: whole cached copies, per-tile copies and the JS path agree exactly', () => {
    // Linear outputs fed by bias and inputs only read w · input sum: the logits, so the
    // predictions and probabilities, show the sums themselves. A tiny inputCacheBytes forces the
    // per-tile copy (as the 10,000-image test set does); batches alternate to exercise the cache
    // (same object again, another object, the same inputs array with a smaller count).
    const js = new Evaluator({ tile: 16 });
    const cached = new Evaluator({ tile: 15, kernel, precision: 'f64' });
    const perTile = new Evaluator({ tile: 15, kernel, inputCacheBytes: 64, precision: 'f64' });
    const rng = stream(23, 0, 'test', 0);
    const batches = [randomBatch(rng, 9, 4, 61), randomBatch(rng, 9, 4, 40)];
    const third = batches[0];
    batches.push({ ...third, count: 33, labels: third.labels.subarray(0, 33) });
    for (let t = 0; t < 24; t++) {
      const conns: [number, number][] = [];
      for (let j = 0; j < 4; j++) {
        for (let c = 0; c < 1 + rng.int(12); c++) conns.push([rng.int(10), 10 + j]);
      }
      const g = genomeOf(9, 4, [1, 1, 1, 1], conns);
      const plan = compile(g);
      const batch = batches[t % 3];
      for (const w of [0.5, -2]) {
        // The kernel's softmax exp is ~1 ulp off the JS one; the logits themselves are exact.
        const a = js.forwardProbabilities(plan, batch, w);
        const b = cached.forwardProbabilities(plan, batch, w);
        b.forEach((q, i) => {
          expect(Math.abs(q - a[i])).toBeLessThan(1e-7);
        });
        expect(perTile.forwardProbabilities(plan, batch, w)).toEqual(b);
      }
      expect(cached.predictLabelsPerWeight(plan, batch, SHARED_WEIGHTS)).toEqual(
        js.predictLabelsPerWeight(plan, batch, SHARED_WEIGHTS),
      );
      const a = js.evaluate(plan, batch);
      const b = cached.evaluate(plan, batch);
      expect(b.accuracy).toEqual(a.accuracy);
      b.fitness.forEach((f, k) => {
        expect(Math.abs(f - a.fitness[k])).toBeLessThan(1e-12);
      });
      expect(perTile.evaluate(plan, batch)).toEqual(b);
      // Hidden rows too (their input sums feed activations): random genomes, both copy modes.
      const g2 = randomGenome(rng, 9, 4, 10);
      const plan2 = compile(g2);
      const c = cached.evaluate(plan2, batch);
      const d = perTile.evaluate(plan2, batch);
      expect(d).toEqual(c);
      expect(perTile.predictLabelsPerWeight(plan2, batch, SHARED_WEIGHTS)).toEqual(
        cached.predictLabelsPerWeight(plan2, batch, SHARED_WEIGHTS),
      );
    }
  });

  it('keeps every result finite on overflow, NaN and extreme weights', () => {
    const wasm = new Evaluator({ kernel, precision: 'f64' });
    const acts = [1, 1, 11, 11, 11, 11, 11, 11, 11, 11, 11, 7];
    const conns: [number, number][] = [[1, 4]];
    for (let v = 4; v < 12; v++) conns.push([v, v + 1]);
    conns.push([12, 2], [12, 13], [13, 3], [12, 3]);
    const g = genomeOf(1, 2, [1, ...acts.slice(1)], conns);
    const batch = batchOf(1, [[3], [0.5], [0], [1e30]], [0, 1, 0, 1]);
    const plan = compile(g);
    for (const weights of [SHARED_WEIGHTS, [100, -100, 0]]) {
      const r = wasm.evaluate(plan, batch, weights);
      const ref = evaluate(plan, batch, weights);
      r.fitness.forEach((f, k) => {
        expect(f >= MIN_FITNESS && f <= 0).toBe(true);
        expect(f).toBeCloseTo(ref.fitness[k], 12);
      });
    }
    for (let t = 0; t < 30; t++) {
      const rng = stream(16, t, 'test', 0);
      const g2 = randomGenome(rng, 3, 3, 10);
      const batch2 = randomBatch(rng, 3, 3, 20);
      const r = wasm.evaluate(compile(g2), batch2, [100, -100, 1e-300, 0, 37.5]);
      for (const f of r.fitness) expect(f >= MIN_FITNESS && f <= 0).toBe(true);
    }
  });

  it('grows its memory for larger plans and batches, and rejects a foreign module', () => {
    const wasm = new Evaluator({ kernel, precision: 'f64' });
    for (const hidden of [2, 400, 5]) {
      const rng = stream(22, hidden, 'test', 0);
      const g = randomGenome(rng, 30, 10, hidden);
      const batch = randomBatch(rng, 30, 10, 600);
      const plan = compile(g);
      const a = evaluate(plan, batch);
      const b = wasm.evaluate(plan, batch);
      b.fitness.forEach((f, k) => {
        expect(Math.abs(f - a.fitness[k])).toBeLessThan(1e-9);
      });
    }
    const empty = compileKernel(new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0]));
    expect(() => new Evaluator({ kernel: empty })).toThrow(KernelStartError);
    expect(() => new Evaluator({ kernel: empty })).toThrow(/no export memory/);
  });

  it('fails loudly where a configured kernel cannot start, and never picks other numerics', () => {
    // A module that imports env.f (not given): instantiation itself fails.
    const needsImport = compileKernel(
      new Uint8Array([
        ...[0, 97, 115, 109, 1, 0, 0, 0],
        ...[1, 4, 1, 0x60, 0, 0], // one type: () → ()
        ...[2, 9, 1, 3, 101, 110, 118, 1, 102, 0, 0], // import env.f: function of type 0
      ]),
    );
    for (const precision of ['f32', 'f64', undefined] as const) {
      expect(() => new Evaluator({ kernel: needsImport, precision })).toThrow(KernelStartError);
      expect(() => new Evaluator({ kernel: needsImport, precision })).toThrow(/cannot be instantiated/);
    }
    // The float32 search numerics exist only in the kernel: without it, no silent float64.
    expect(() => new Evaluator({ precision: 'f32' })).toThrow(/needs the wasm kernel/);
    expect(() => new Evaluator({ precision: 'f64' })).not.toThrow();
  });
});

describe('WebAssembly kernel, float32 search numerics (the default with a kernel)', () => {
  // What a search evaluates with. Not the float64 path's numbers (rows are float32), but a fixed
  // function of plan, batch and weights: the same bits whatever the tile, the input copy or the
  // entry point, and close to the float64 path.
  it('stays close to the float64 path, with every fitness in [MIN_FITNESS, 0]', () => {
    const js = new Evaluator({ tile: 32 });
    const f32 = new Evaluator({ tile: 32, kernel });
    const diffs: number[] = [];
    let accuracyDiffs = 0;
    let accuracies = 0;
    for (let t = 0; t < 200; t++) {
      const rng = stream(24, t, 'test', 0);
      const inputs = 1 + rng.int(12);
      const outputs = 1 + rng.int(10);
      const g = randomGenome(rng, inputs, outputs, rng.int(t < 150 ? 20 : 80));
      const batch = randomBatch(rng, inputs, outputs, 1 + rng.int(t < 150 ? 70 : 300));
      const plan = compile(g);
      const a = js.evaluate(plan, batch, SHARED_WEIGHTS);
      const b = f32.evaluate(plan, batch, SHARED_WEIGHTS);
      b.fitness.forEach((f, k) => {
        expect(f >= MIN_FITNESS && f <= 0, `fitness ${f}`).toBe(true);
        diffs.push(Math.abs(f - a.fitness[k]));
        accuracies++;
        if (Math.abs(b.accuracy[k] - a.accuracy[k]) > 1e-12) accuracyDiffs++;
      });
      expect(b.connections).toBe(a.connections);
    }
    diffs.sort((x, y) => x - y);
    // float32 rounding (~6e-8 relative) through a few layers: typically ~1e-7 in the fitness.
    expect(diffs[Math.floor(diffs.length / 2)]).toBeLessThan(1e-5);
    expect(diffs[Math.floor(diffs.length * 0.99)]).toBeLessThan(1e-3);
    expect(accuracyDiffs).toBeLessThan(accuracies * 0.05);
  });

  it('gives the same bits for either input copy and every entry point; the same values for any tile', () => {
    const evaluators = [
      new Evaluator({ kernel }),
      new Evaluator({ kernel, tile: 7 }), // → 8: several tiles, a partial last one
      new Evaluator({ kernel, tile: 333 }), // → 336
      new Evaluator({ kernel, inputCacheBytes: 64 }), // per-tile input copies
    ];
    for (let t = 0; t < 40; t++) {
      const rng = stream(25, t, 'test', 0);
      const g = randomGenome(rng, 9, 5, rng.int(40));
      const batch = randomBatch(rng, 9, 5, 1 + rng.int(400));
      const plan = compile(g);
      const weights = t % 2 ? SHARED_WEIGHTS : [0.7, -1.3, 1.3, 0, 37.5];
      const [first, small, large, perTile] = evaluators.map((ev) => ev.evaluate(plan, batch, weights));
      expect(perTile).toEqual(first);
      // Node values do not depend on the tile; the fitness is summed per tile (last bits only).
      for (const other of [small, large]) {
        expect(other.accuracy).toEqual(first.accuracy);
        other.fitness.forEach((f, k) => {
          expect(f).toBeCloseTo(first.fitness[k], 12);
        });
      }
      // Accuracy from the predictions equals evaluate's (same logits, ties → lowest index).
      const labels = evaluators[1].predictLabelsPerWeight(plan, batch, weights);
      expect(evaluators[3].predictLabelsPerWeight(plan, batch, weights)).toEqual(labels);
      weights.forEach((_, k) => {
        let correct = 0;
        for (let i = 0; i < batch.count; i++) if (labels[k * batch.count + i] === batch.labels[i]) correct++;
        expect(correct / batch.count).toBe(first.accuracy[k]);
      });
      const probs = evaluators[0].forwardProbabilities(plan, batch, weights[1]);
      expect(evaluators[2].forwardProbabilities(plan, batch, weights[1])).toEqual(probs);
      for (let i = 0; i < batch.count; i++) {
        let sum = 0;
        for (let j = 0; j < 5; j++) sum += probs[i * 5 + j];
        expect(Math.abs(sum - 1)).toBeLessThan(1e-5);
      }
    }
  });

  it('keeps every result finite on overflow, NaN and extreme weights', () => {
    const wasm = new Evaluator({ kernel });
    const acts = [1, 1, 11, 11, 11, 11, 11, 11, 11, 11, 11, 7];
    const conns: [number, number][] = [[1, 4]];
    for (let v = 4; v < 12; v++) conns.push([v, v + 1]);
    conns.push([12, 2], [12, 13], [13, 3], [12, 3]);
    const g = genomeOf(1, 2, [1, ...acts.slice(1)], conns);
    const batch = batchOf(1, [[3], [0.5], [0], [1e30]], [0, 1, 0, 1]);
    for (const weights of [SHARED_WEIGHTS, [100, -100, 0, 1e-300]]) {
      for (const f of wasm.evaluate(compile(g), batch, weights).fitness)
        expect(f >= MIN_FITNESS && f <= 0).toBe(true);
    }
    for (let t = 0; t < 30; t++) {
      const rng = stream(26, t, 'test', 0);
      const g2 = randomGenome(rng, 3, 3, 10);
      const batch2 = randomBatch(rng, 3, 3, 20);
      const r = wasm.evaluate(compile(g2), batch2, [100, -100, 1e-300, 0, 37.5]);
      for (const f of r.fitness) expect(f >= MIN_FITNESS && f <= 0).toBe(true);
    }
  });

  it('scores with the fused kernel pass bit for bit as with the JS scoring loop', () => {
    // Several plans per call (merged rows, one scoring job per distinct output set), mirrored
    // pairs and lone weights, odd outputs whose −w softmax comes from the exps at w (small
    // weights) or not (range over the limit), overflow and NaN, partial tiles.
    const tiles = [4, 32, 256];
    const fused = tiles.map((tile) => new Evaluator({ kernel, tile }));
    const loop = tiles.map((tile) => new Evaluator({ kernel, tile, fusedScoring: false }));
    const weightLists = [
      SHARED_WEIGHTS,
      [0.7, -1.3, 1.3, 0, 37.5, -0.7],
      [100, -100, 1e-300, 0],
      [0.01, -0.01],
    ];
    let compared = 0;
    for (let t = 0; t < 60; t++) {
      const rng = stream(27, t, 'test', 0);
      const inputs = 1 + rng.int(12);
      const outputs = 1 + rng.int(10);
      const plans = Array.from({ length: 1 + rng.int(6) }, (_, p) =>
        compile(
          p === 0 && t % 3 === 0
            ? initialGenome(inputs, outputs, 0.5, rng)
            : randomGenome(rng, inputs, outputs, rng.int(t < 40 ? 20 : 60)),
        ),
      );
      const batch = randomBatch(rng, inputs, outputs, 1 + rng.int(600));
      if (t % 5 === 0) batch.inputs[rng.int(batch.inputs.length)] = 1e30;
      const weights = weightLists[t % weightLists.length];
      const k = t % tiles.length;
      const want = loop[k].evaluateMany(plans, batch, weights);
      const got = fused[k].evaluateMany(plans, batch, weights);
      expect(got).toEqual(want);
      compared += got.length;
    }
    expect(compared).toBeGreaterThan(150);
  });

  it('with fastExp: other bits, close to exp32 (≤ 1e-4 in a fitness), the same bits fused or not', () => {
    const exact = new Evaluator({ kernel });
    const fast = new Evaluator({ kernel, fastExp: true });
    const fastLoop = new Evaluator({ kernel, fastExp: true, fusedScoring: false, tile: 32 });
    const fastTiled = new Evaluator({ kernel, fastExp: true, tile: 32 });
    let differ = 0;
    for (let t = 0; t < 30; t++) {
      const rng = stream(28, t, 'test', 0);
      const outputs = 2 + rng.int(9);
      const plans = [0, 1, 2].map(() => compile(randomGenome(rng, 6, outputs, rng.int(30))));
      const batch = randomBatch(rng, 6, outputs, 1 + rng.int(300));
      const a = exact.evaluateMany(plans, batch);
      const b = fast.evaluateMany(plans, batch);
      expect(fastTiled.evaluateMany(plans, batch)).toEqual(fastLoop.evaluateMany(plans, batch));
      b.forEach((r, p) => {
        r.fitness.forEach((x, k) => {
          expect(Math.abs(x - a[p].fitness[k])).toBeLessThan(1e-4);
          if (x !== a[p].fitness[k]) differ++;
        });
      });
    }
    expect(differ).toBeGreaterThan(0);
    expect(() => new Evaluator({ kernel, precision: 'f64', fastExp: true })).toThrow(/float32/);
    expect(() => new Evaluator({ fastExp: true })).toThrow(/kernel/);
  });

  it('rejects an unknown precision', () => {
    expect(() => new Evaluator({ kernel, precision: 'f16' as 'f32' })).toThrow(/precision/);
  });
});

describe('batch checks', () => {
  it('rejects mismatched batches and out-of-range labels', () => {
    const g = genomeOf(2, 2, [1, 1], [[1, 3]]);
    const plan = compile(g);
    expect(() => evaluate(plan, batchOf(3, [[1, 2, 3]], [0]))).toThrow(RangeError);
    expect(() => evaluate(plan, batchOf(2, [[1, 2]], [2]))).toThrow(RangeError);
    expect(() =>
      evaluate(plan, { count: 0, features: 2, inputs: new Float32Array(0), labels: new Uint8Array(0) }),
    ).toThrow(RangeError);
  });
});
