import { describe, expect, it } from 'vitest';
import { stream } from '../../src/random';
import { MNIST_ACTIVATIONS } from '../../src/wann/activation-ids';
import {
  cloneGenome,
  enabledCount,
  firstHidden,
  type Genome,
  initialGenome,
  initialInnovations,
} from '../../src/wann/genome';
import {
  addConnection,
  addNode,
  changeActivation,
  chooseOperator,
  enableConnection,
  type MutationContext,
  type MutationOperator,
  mutate,
  nodeLayers,
} from '../../src/wann/mutation';

const PROBS = { probAddConnection: 0.2, probAddNode: 0.25, probEnable: 0.05, probChangeActivation: 0.5 };

/** Every structural rule a genome produced by evolution must satisfy. */
function expectValid(g: Genome, activations: readonly number[] = MNIST_ACTIVATIONS): void {
  const n = g.acts.length;
  const nIn = g.inputs + 1;
  const h0 = firstHidden(g);
  const m = g.innov.length;
  expect(g.src.length).toBe(m);
  expect(g.dst.length).toBe(m);
  expect(g.enabled.length).toBe(m);
  const pairs = new Set<number>();
  const indeg = new Int32Array(n);
  const out: number[][] = Array.from({ length: n }, () => []);
  for (let i = 0; i < m; i++) {
    const s = g.src[i];
    const d = g.dst[i];
    if (i > 0 && g.innov[i] <= g.innov[i - 1]) throw new Error(`innovations not increasing at ${i}`);
    if (s < 0 || s >= n || d < 0 || d >= n) throw new Error(`connection ${i} out of range`);
    if (d < nIn) throw new Error(`connection ${i} enters bias/input ${d}`);
    if (s >= nIn && s < h0) throw new Error(`connection ${i} leaves output ${s}`); // implies no output→output
    if (s === d) throw new Error(`self loop ${s}`);
    const key = s * n + d;
    if (pairs.has(key)) throw new Error(`duplicate ${s}→${d}`);
    pairs.add(key);
    if (g.enabled[i] !== 0 && g.enabled[i] !== 1) throw new Error('enabled flag not 0/1');
    if (g.enabled[i]) {
      indeg[d]++;
      out[s].push(d);
    }
  }
  // Kahn over the whole enabled graph: all nodes must be ordered, or there is a cycle.
  const queue: number[] = [];
  for (let v = 0; v < n; v++) if (indeg[v] === 0) queue.push(v);
  let seen = 0;
  while (queue.length) {
    const u = queue.pop()!;
    seen++;
    for (const v of out[u]) if (--indeg[v] === 0) queue.push(v);
  }
  if (seen !== n) throw new Error('enabled graph has a cycle');
  for (let v = h0; v < n; v++) {
    if (!activations.includes(g.acts[v])) throw new Error(`hidden ${v} has activation ${g.acts[v]}`);
  }
}

function snapshot(g: Genome): string {
  return JSON.stringify([
    g.inputs,
    g.outputs,
    [...g.acts],
    [...g.innov],
    [...g.src],
    [...g.dst],
    [...g.enabled],
  ]);
}

function ctxFor(g: Genome): MutationContext {
  return { nextInnovation: g.innov[g.innov.length - 1] + 1, activations: MNIST_ACTIVATIONS };
}

/** Hand-made genome: 1 input, 1 output; nodes 0 bias, 1 input, 2 output, hidden 3.. */
function handGenome(hidden: number, conns: [number, number, 0 | 1][]): Genome {
  const inputs = 1;
  const outputs = 1;
  return {
    inputs,
    outputs,
    acts: Uint8Array.from({ length: 3 + hidden }, () => 1),
    innov: Int32Array.from(conns, (_, i) => i + 1),
    src: Int32Array.from(conns, (c) => c[0]),
    dst: Int32Array.from(conns, (c) => c[1]),
    enabled: Uint8Array.from(conns, (c) => c[2]),
  };
}

describe('nodeLayers', () => {
  it('puts inputs at 0, hidden by longest enabled hidden path, outputs on top', () => {
    // 3→4→5 and 3→5 enabled; 5→6 disabled (ignored), 6 alone.
    const g = handGenome(4, [
      [0, 2, 1],
      [1, 3, 1],
      [3, 4, 1],
      [4, 5, 1],
      [3, 5, 1],
      [5, 6, 0],
      [5, 2, 1],
    ]);
    expect([...nodeLayers(g)]).toEqual([0, 0, 4, 1, 2, 3, 1]);
    expect([...nodeLayers(handGenome(0, [[1, 2, 1]]))]).toEqual([0, 0, 1]);
  });

  it('rejects a cycle among enabled connections', () => {
    const g = handGenome(2, [
      [3, 4, 1],
      [4, 3, 1],
    ]);
    expect(() => nodeLayers(g)).toThrow(/cycle/);
  });
});

describe('addNode', () => {
  it('splits an enabled connection with two new innovations and a fresh hidden node', () => {
    const g = initialGenome(4, 2, 0.5, stream(1, 0, 'test'));
    const before = snapshot(g);
    const ctx = ctxFor(g);
    const start = ctx.nextInnovation;
    const c = addNode(g, stream(1, 0, 'test', 1), ctx);
    expect(snapshot(g)).toBe(before);
    expect(ctx.nextInnovation).toBe(start + 2);
    const m = g.innov.length;
    expect(c.innov.length).toBe(m + 2);
    expect(c.acts.length).toBe(g.acts.length + 1);
    const id = g.acts.length;
    const split = [...g.enabled].findIndex((e, i) => e === 1 && c.enabled[i] === 0);
    expect(split).toBeGreaterThanOrEqual(0);
    expect([c.innov[m], c.src[m], c.dst[m], c.enabled[m]]).toEqual([start, g.src[split], id, 1]);
    expect([c.innov[m + 1], c.src[m + 1], c.dst[m + 1], c.enabled[m + 1]]).toEqual([
      start + 1,
      id,
      g.dst[split],
      1,
    ]);
    expect(MNIST_ACTIVATIONS).toContain(c.acts[id]);
    expect(enabledCount(c)).toBe(enabledCount(g) + 1);
    expectValid(c);
  });

  it('returns an unchanged clone when no connection is enabled', () => {
    const g = initialGenome(3, 2, 0, stream(1, 0, 'test'));
    const ctx = ctxFor(g);
    const c = addNode(g, stream(2, 0, 'test'), ctx);
    expect(c).not.toBe(g);
    expect(snapshot(c)).toBe(snapshot(g));
    expect(ctx.nextInnovation).toBe(g.innov.length + 1);
  });

  it('with keepHiddenSplits (ablation) leaves a split hidden→hidden connection enabled, and only that', () => {
    // Grow hidden→hidden connections, then split every enabled connection once each way.
    let g = initialGenome(4, 2, 1, stream(3, 0, 'test'));
    for (let i = 0; i < 6; i++) g = addNode(g, stream(3, 0, 'test', 10 + i), ctxFor(g));
    const h0 = firstHidden(g);
    let hiddenSplits = 0;
    let otherSplits = 0;
    for (let k = 0; k < 200; k++) {
      const paper = addNode(g, stream(4, 0, 'test', k), ctxFor(g));
      const kept = addNode(g, stream(4, 0, 'test', k), { ...ctxFor(g), keepHiddenSplits: true });
      const split = [...g.enabled].findIndex((e, i) => e === 1 && paper.enabled[i] === 0);
      // The same draws: the same split, the same new node and connections.
      expect([...kept.src]).toEqual([...paper.src]);
      expect([...kept.acts]).toEqual([...paper.acts]);
      const hidden = g.src[split] >= h0 && g.dst[split] >= h0;
      expect(kept.enabled[split]).toBe(hidden ? 1 : 0);
      if (hidden) hiddenSplits++;
      else otherSplits++;
      expectValid(kept);
    }
    expect(hiddenSplits).toBeGreaterThan(0);
    expect(otherSplits).toBeGreaterThan(0);
  });

  it('refuses an innovation counter that is not ahead of the genome', () => {
    const g = initialGenome(3, 2, 1, stream(1, 0, 'test'));
    expect(() => addNode(g, stream(1, 0, 'test'), { nextInnovation: 3, activations: [1] })).toThrow(
      /innovation counter/,
    );
  });
});

describe('addConnection', () => {
  it('only ever proposes sources to strictly higher, not yet targeted nodes, uniformly', () => {
    // 1→3→4→2 enabled plus the initial 0→2, 1→2. Valid: 0→3, 0→4, 1→4, 3→2.
    const g = handGenome(2, [
      [0, 2, 1],
      [1, 2, 1],
      [1, 3, 1],
      [3, 4, 1],
      [4, 2, 1],
    ]);
    const counts = new Map<string, number>();
    const trials = 6000;
    for (let t = 0; t < trials; t++) {
      const c = addConnection(g, stream(3, 0, 'test', t), ctxFor(g));
      const k = `${c.src[5]}→${c.dst[5]}`;
      counts.set(k, (counts.get(k) ?? 0) + 1);
      if (t < 200) expectValid(c, [1]);
    }
    expect([...counts.keys()].sort()).toEqual(['0→3', '0→4', '1→4', '3→2']);
    // Source uniform over {0, 1, 3}; 0 then splits between its two targets.
    expect(counts.get('1→4')! / trials).toBeCloseTo(1 / 3, 1);
    expect(counts.get('3→2')! / trials).toBeCloseTo(1 / 3, 1);
    expect(counts.get('0→3')! / trials).toBeCloseTo(1 / 6, 1);
  });

  it('counts disabled genes as existing and ignores them for layers', () => {
    // 3→4 disabled: both hidden are layer 1, so neither may connect to the other; 3→4 exists anyway.
    const g = handGenome(2, [
      [1, 3, 1],
      [3, 4, 0],
      [0, 4, 1],
      [3, 2, 1],
      [4, 2, 1],
      [0, 2, 1],
      [1, 2, 1],
    ]);
    const seen = new Set<string>();
    for (let t = 0; t < 500; t++) {
      const c = addConnection(g, stream(4, 0, 'test', t), ctxFor(g));
      seen.add(`${c.src[7]}→${c.dst[7]}`);
    }
    expect([...seen].sort()).toEqual(['0→3', '1→4']);
  });

  it('is a no-op clone on an initial genome (every input already targets every output)', () => {
    const g = initialGenome(5, 3, 0.3, stream(1, 0, 'test'));
    const ctx = ctxFor(g);
    const c = addConnection(g, stream(5, 0, 'test'), ctx);
    expect(snapshot(c)).toBe(snapshot(g));
    expect(ctx.nextInnovation).toBe(initialInnovations(5, 3) + 1);
  });
});

describe('enableConnection', () => {
  it('never enables a gene that would close a cycle', () => {
    // 3→4 enabled, 4→3 disabled (would close a cycle), 0→3 disabled (safe).
    const g = handGenome(2, [
      [1, 3, 1],
      [3, 4, 1],
      [4, 3, 0],
      [0, 3, 0],
      [4, 2, 1],
    ]);
    for (let t = 0; t < 300; t++) {
      const c = enableConnection(g, stream(6, 0, 'test', t), ctxFor(g));
      expect([...c.enabled]).toEqual([1, 1, 0, 1, 1]);
      expectValid(c, [1]);
    }
    const onlyCycle = handGenome(2, [
      [1, 3, 1],
      [3, 4, 1],
      [4, 3, 0],
      [4, 2, 1],
    ]);
    const r = mutate(onlyCycle, stream(7, 0, 'test'), ctxFor(onlyCycle), {
      probAddConnection: 0,
      probAddNode: 0,
      probEnable: 1,
      probChangeActivation: 0,
    });
    expect(r.operator).toBe('enableConnection');
    expect(r.changed).toBe(false);
    expect(snapshot(r.genome)).toBe(snapshot(onlyCycle));
  });

  it('enables a uniformly chosen disabled gene', () => {
    const g = initialGenome(2, 2, 0, stream(1, 0, 'test')); // 6 disabled genes
    const counts = new Array(6).fill(0);
    for (let t = 0; t < 6000; t++) {
      const c = enableConnection(g, stream(8, 0, 'test', t), ctxFor(g));
      counts[c.enabled.indexOf(1)]++;
    }
    for (const k of counts) expect(k / 6000).toBeCloseTo(1 / 6, 1);
  });
});

describe('changeActivation', () => {
  it('gives a hidden node a different allowed activation', () => {
    let g = initialGenome(3, 2, 1, stream(1, 0, 'test'));
    g = addNode(g, stream(1, 0, 'test', 1), ctxFor(g));
    g = addNode(g, stream(1, 0, 'test', 2), ctxFor(g));
    for (let t = 0; t < 300; t++) {
      const c = changeActivation(g, stream(9, 0, 'test', t), ctxFor(g));
      const diff = [...c.acts].flatMap((a, i) => (a !== g.acts[i] ? [i] : []));
      expect(diff.length).toBe(1);
      expect(diff[0]).toBeGreaterThanOrEqual(firstHidden(g));
      expect(MNIST_ACTIVATIONS).toContain(c.acts[diff[0]]);
    }
  });

  it('is a no-op without hidden nodes or without an alternative activation', () => {
    const g = initialGenome(3, 2, 1, stream(1, 0, 'test'));
    expect(snapshot(changeActivation(g, stream(1, 0, 'test'), ctxFor(g)))).toBe(snapshot(g));
    const h = addNode(g, stream(1, 0, 'test'), { ...ctxFor(g), activations: [4] });
    const same = changeActivation(h, stream(2, 0, 'test'), { ...ctxFor(h), activations: [4] });
    expect(snapshot(same)).toBe(snapshot(h));
  });
});

describe('mutate', () => {
  it('chooses operators by their normalised probabilities', () => {
    const counts: Record<MutationOperator, number> = {
      addConnection: 0,
      addNode: 0,
      enableConnection: 0,
      changeActivation: 0,
    };
    const n = 20000;
    // Unnormalised on purpose: 2 : 2.5 : 0.5 : 5.
    const p = { probAddConnection: 2, probAddNode: 2.5, probEnable: 0.5, probChangeActivation: 5 };
    for (let t = 0; t < n; t++) counts[chooseOperator(stream(10, 0, 'test', t), p)]++;
    expect(counts.addConnection / n).toBeCloseTo(0.2, 1);
    expect(counts.addNode / n).toBeCloseTo(0.25, 1);
    expect(counts.enableConnection / n).toBeCloseTo(0.05, 1);
    expect(counts.changeActivation / n).toBeCloseTo(0.5, 1);
    const only = { probAddConnection: 0, probAddNode: 0, probEnable: 0, probChangeActivation: 1 };
    for (let t = 0; t < 100; t++)
      expect(chooseOperator(stream(11, 0, 'test', t), only)).toBe('changeActivation');
  });

  it('keeps genomes valid over thousands of random mutations, one operator each', () => {
    const ctx: MutationContext = {
      nextInnovation: initialInnovations(6, 3) + 1,
      activations: MNIST_ACTIVATIONS,
    };
    // Heavier on structure than the defaults so the graphs get deep quickly.
    const probs = { probAddConnection: 0.4, probAddNode: 0.3, probEnable: 0.15, probChangeActivation: 0.15 };
    const operators = new Set<MutationOperator>();
    let changedCount = 0;
    for (let lineage = 0; lineage < 12; lineage++) {
      let g = initialGenome(6, 3, 0.4, stream(20, 0, 'init', lineage));
      for (let step = 0; step < 400; step++) {
        const before = snapshot(g);
        const maxInnov = g.innov[g.innov.length - 1];
        const counterBefore = ctx.nextInnovation;
        const r = mutate(g, stream(20, step, 'test', lineage), ctx, probs);
        expect(snapshot(g)).toBe(before); // input untouched
        expect(r.genome).not.toBe(g);
        operators.add(r.operator);
        const c = r.genome;
        expectValid(c);
        const added = c.innov.length - g.innov.length;
        for (let i = g.innov.length; i < c.innov.length; i++) {
          expect(c.innov[i]).toBeGreaterThan(maxInnov);
          expect(c.innov[i]).toBeGreaterThanOrEqual(counterBefore);
        }
        expect(ctx.nextInnovation - counterBefore).toBe(added);
        // Exactly one operator's footprint.
        const flippedOn = [...g.enabled].filter((e, i) => e === 0 && c.enabled[i] === 1).length;
        const flippedOff = [...g.enabled].filter((e, i) => e === 1 && c.enabled[i] === 0).length;
        const actsChanged = [...g.acts].filter((a, i) => c.acts[i] !== a).length;
        const footprint = [added, c.acts.length - g.acts.length, flippedOn, flippedOff, actsChanged];
        const expected: Record<MutationOperator, number[]> = {
          addNode: [2, 1, 0, 1, 0],
          addConnection: [1, 0, 0, 0, 0],
          enableConnection: [0, 0, 1, 0, 0],
          changeActivation: [0, 0, 0, 0, 1],
        };
        expect(footprint).toEqual(r.changed ? expected[r.operator] : [0, 0, 0, 0, 0]);
        if (r.changed) changedCount++;
        g = c;
      }
      expect(g.acts.length).toBeGreaterThan(firstHidden(g) + 10);
    }
    expect(operators.size).toBe(4);
    expect(changedCount).toBeGreaterThan(12 * 400 * 0.7);
  });

  it('stays valid at MNIST size with the reference probabilities', () => {
    let g = initialGenome(256, 10, 0.05, stream(30, 0, 'init'));
    const ctx: MutationContext = {
      nextInnovation: initialInnovations(256, 10) + 1,
      activations: MNIST_ACTIVATIONS,
    };
    for (let step = 0; step < 1500; step++) {
      g = mutate(g, stream(30, step, 'test'), ctx, PROBS).genome;
      if (step % 50 === 0) expectValid(g);
    }
    expectValid(g);
    expect(ctx.nextInnovation).toBe(g.innov[g.innov.length - 1] + 1);
  });

  it('is deterministic for a given stream', () => {
    const g = initialGenome(8, 3, 0.5, stream(40, 0, 'init'));
    const run = () => {
      const ctx = ctxFor(g);
      let x = cloneGenome(g);
      for (let s = 0; s < 200; s++) x = mutate(x, stream(40, s, 'test'), ctx, PROBS).genome;
      return snapshot(x);
    };
    expect(run()).toBe(run());
  });
});
