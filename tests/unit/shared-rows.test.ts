import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { type Rng, stream } from '../../src/random';
import { MNIST_ACTIVATIONS, SHARED_WEIGHTS } from '../../src/wann/activation-ids';
import { evaluateMembers } from '../../src/wann/generation';
import { cloneGenome, type Genome, initialGenome } from '../../src/wann/genome';
import { compileKernel } from '../../src/wann/kernel/kernel';
import { addConnection, addNode, changeActivation, type MutationContext } from '../../src/wann/mutation';
import { compile, Evaluator, MAX_MERGED_ROWS, mergePlans, type Plan } from '../../src/wann/network';
import type { Batch, GenomeResult } from '../../src/wann/types';

// Evaluating a slice's members together, with the rows they share evaluated once
// (`Evaluator.evaluateMany`, `mergePlans`), must give every member exactly the bits it gets alone.

const kernel = compileKernel(readFileSync(new URL('../../src/wann/kernel/kernel.wasm', import.meta.url)));

const INPUTS = 12;
const OUTPUTS = 4;

function mutated(g: Genome, rng: Rng, steps: number): Genome {
  const ctx: MutationContext = {
    nextInnovation: 1 + Math.max(0, ...g.innov),
    activations: MNIST_ACTIVATIONS,
  };
  let out = cloneGenome(g);
  for (let s = 0; s < steps; s++) {
    const u = rng.float();
    out =
      u < 0.3
        ? addNode(out, rng, ctx)
        : u < 0.7
          ? addConnection(out, rng, ctx)
          : changeActivation(out, rng, ctx);
  }
  return out;
}

/**
 * A slice as a generation holds it: a few families (a grown ancestor each), every member a copy of
 * its family's ancestor with 0–2 more mutations, the families interleaved.
 */
function family(seed: number, members: number): Genome[] {
  const ancestors = Array.from({ length: 3 }, (_, f) => {
    const rng = stream(seed, 0, 'test', f);
    return mutated(initialGenome(INPUTS, OUTPUTS, 0.4, rng), rng, 25);
  });
  return Array.from({ length: members }, (_, i) => {
    const rng = stream(seed, 1, 'test', i);
    return mutated(ancestors[i % 3], rng, i % 3);
  });
}

function randomBatch(seed: number, count: number): Batch {
  const rng = stream(seed, 2, 'test', 0);
  const inputs = new Float32Array(INPUTS * count);
  for (let k = 0; k < inputs.length; k++) inputs[k] = rng.chance(0.3) ? 0 : rng.float();
  return {
    count,
    features: INPUTS,
    inputs,
    labels: Uint8Array.from({ length: count }, () => rng.int(OUTPUTS)),
  };
}

/** Exactly the same numbers (NaN equal to NaN). */
function expectSameBits(got: GenomeResult[], want: GenomeResult[]): void {
  expect(got.length).toBe(want.length);
  got.forEach((r, i) => {
    expect(r.connections, `member ${i}`).toBe(want[i].connections);
    r.fitness.forEach((f, k) => {
      expect(Object.is(f, want[i].fitness[k]), `member ${i} weight ${k}: ${f} vs ${want[i].fitness[k]}`).toBe(
        true,
      );
    });
    expect(r.accuracy, `member ${i}`).toEqual(want[i].accuracy);
  });
}

describe('shared rows: members evaluated together', () => {
  const evaluators: [string, () => Evaluator][] = [
    ['float32 kernel', () => new Evaluator({ kernel })],
    ['float32 kernel, tile 7', () => new Evaluator({ kernel, tile: 7 })],
    ['float64 kernel', () => new Evaluator({ kernel, precision: 'f64' })],
    ['JS path', () => new Evaluator({ tile: 64 })],
  ];

  it('gives every member the bits it gets alone, on every path, however the members are grouped', () => {
    for (const [name, make] of evaluators) {
      for (let t = 0; t < 4; t++) {
        const plans = family(40 + t, 24).map(compile);
        const batch = randomBatch(t, 37 + 50 * t);
        const weights = t % 2 ? SHARED_WEIGHTS : [0.7, -1.3, 1.3, 0, 37.5];
        const alone = plans.map((p) => make().evaluate(p, batch, weights));
        const ev = make();
        // One group, several groups (a row budget smaller than the members' rows), one each.
        for (const maxRows of [MAX_MERGED_ROWS, 60, 1]) {
          expectSameBits(ev.evaluateMany(plans, batch, weights, maxRows), alone);
        }
        // Any order of the members: each still gets its own result.
        const order = plans.map((_, i) => (i * 7) % plans.length);
        expectSameBits(
          ev.evaluateMany(
            order.map((i) => plans[i]),
            batch,
            weights,
          ),
          order.map((i) => alone[i]),
        );
      }
      expect(name).toBeTruthy();
    }
  });

  it('keeps each structurally distinct row once, in topological order', () => {
    const genomes = family(50, 30);
    const plans = genomes.map(compile);
    const merged = mergePlans(plans);
    const memberRows = plans.reduce((a, p) => a + p.rows, 0);
    expect(merged.memberRows).toBe(memberRows);
    expect(merged.end).toBe(plans.length);
    // Ten members share each ancestor: far fewer distinct rows than rows.
    expect(merged.plan.rows).toBeLessThan(memberRows / 3);
    const { plan } = merged;
    for (let r = 0; r < plan.rows; r++) {
      for (let e = plan.hiddenStart[r]; e < plan.hiddenStart[r + 1]; e++)
        expect(plan.hiddenSource[e]).toBeLessThan(r);
    }
    // A member's outputs are rows with its outputs' activations; identical genomes share all rows.
    merged.members.forEach((m, i) => {
      for (let j = 0; j < OUTPUTS; j++)
        expect(plan.rowAct[m.outputRow[j]]).toBe(plans[i].rowAct[plans[i].outputRow[j]]);
    });
    const twice = mergePlans([plans[0], compile(cloneGenome(genomes[0]))]);
    expect(twice.plan.rows).toBe(plans[0].rows);
    expect(Array.from(twice.members[1].outputRow)).toEqual(Array.from(twice.members[0].outputRow));
  });

  it('takes members while the distinct rows fit the budget, and at least one', () => {
    // Family 0's members are copies of its ancestor; family 1's are other genomes.
    const all = family(60, 12).map(compile);
    const plans = [0, 3, 6, 1, 4, 7].map((i) => all[i]);
    const budget = plans[0].rows + 5;
    const merged = mergePlans(plans, 0, budget);
    expect(merged.plan.rows).toBe(plans[0].rows);
    expect(merged.end).toBe(3);
    const next = mergePlans(plans, merged.end, budget);
    expect(next.start).toBe(3);
    expect(next.end).toBeGreaterThan(3);
    const alone = mergePlans(plans, 3, 1);
    expect(alone.end).toBe(4);
    expect(alone.plan.rows).toBe(plans[3].rows);
    const other: Plan = compile(initialGenome(INPUTS + 1, OUTPUTS, 0.5, stream(1, 0, 'test', 0)));
    expect(() => mergePlans([plans[0], other])).toThrow(/another shape/);
  });

  it('evaluateMembers: a member that fails to compile scores NaN, the others their own results', () => {
    const genomes = family(70, 9);
    const bad = cloneGenome(genomes[4]);
    bad.dst[0] = 0; // a connection into the bias: out of range
    genomes[4] = bad;
    const batch = randomBatch(7, 90);
    const errors: number[] = [];
    const report = evaluateMembers(
      new Evaluator({ kernel }),
      genomes,
      batch,
      SHARED_WEIGHTS,
      { gen: 3, sliceStart: 100 },
      Array.from({ length: 10 }, (_, i) => i),
      (index) => errors.push(index),
    );
    expect(errors).toEqual([104]);
    const ev = new Evaluator({ kernel });
    genomes.forEach((g, i) => {
      const got = report.fitness.slice(i * 6, i * 6 + 6);
      if (i === 4) {
        expect(got.every(Number.isNaN)).toBe(true);
        return;
      }
      const want = ev.evaluate(compile(g), batch, SHARED_WEIGHTS).fitness;
      got.forEach((f, k) => {
        expect(Object.is(f, want[k])).toBe(true);
      });
    });
  });
});
