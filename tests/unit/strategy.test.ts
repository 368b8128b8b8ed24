import { describe, expect, it } from 'vitest';
import { stream } from '../../src/random';
import { MNIST_ACTIVATIONS } from '../../src/wann/activation-ids';
import { breed, breedingSizes, tournament } from '../../src/wann/breeding';
import { resolveConfig, type SearchConfig, type SearchConfigInput } from '../../src/wann/config';
import {
  enabledCount,
  firstHidden,
  type Genome,
  initialGenome,
  initialInnovations,
  populationToBase64,
} from '../../src/wann/genome';
import { mutate } from '../../src/wann/mutation';
import { ask, championGenome, init, type StrategyState, tell } from '../../src/wann/strategy';
import type { GenomeResult } from '../../src/wann/types';

const SMALL = { inputs: 8, outputs: 3 };

function config(input: SearchConfigInput): SearchConfig {
  return resolveConfig(input, () => 1234);
}

/**
 * A cheap deterministic stand-in for evaluation: rewards ~12 enabled connections and a few hidden
 * nodes, and depends on the weight, the activations and where the connections go. No forward pass:
 * the strategy only needs results that differ between genomes.
 */
function fakeResult(g: Genome, weights: readonly number[]): GenomeResult {
  const conns = enabledCount(g);
  let wiring = 0;
  for (let i = 0; i < g.innov.length; i++)
    if (g.enabled[i]) wiring += ((g.src[i] * 7 + g.dst[i] * 13) % 17) / 17;
  let acts = 0;
  for (let v = firstHidden(g); v < g.acts.length; v++) acts += g.acts[v];
  const hidden = g.acts.length - firstHidden(g);
  const base = -Math.abs(conns - 12) / 4 - Math.abs(hidden - 3) / 3 + wiring / 50 + (acts % 5) / 40;
  return {
    fitness: weights.map((w) => base - 0.05 * Math.abs(w) * ((acts % 3) + 1)),
    accuracy: weights.map((w, k) => Math.min(1, Math.max(0, 0.5 + base / 20 + k / 100 + w / 100))),
    connections: conns,
  };
}

function evaluate(state: StrategyState, cfg: SearchConfig): GenomeResult[] {
  return ask(state).map((g) => fakeResult(g, cfg.weights));
}

function run(cfg: SearchConfig, generations: number, start = init(cfg, SMALL)) {
  let state = start;
  const metrics = [];
  for (let g = 0; g < generations; g++) {
    const out = tell(state, cfg, evaluate(state, cfg));
    state = out.state;
    metrics.push(out.metrics);
  }
  return { state, metrics };
}

function expectAcyclic(g: Genome): void {
  const n = g.acts.length;
  const indeg = new Int32Array(n);
  for (let i = 0; i < g.innov.length; i++) {
    if (i > 0) expect(g.innov[i]).toBeGreaterThan(g.innov[i - 1]);
    expect(g.dst[i]).toBeGreaterThan(g.inputs); // never into bias/inputs
    if (g.enabled[i]) indeg[g.dst[i]]++;
  }
  const queue: number[] = [];
  for (let v = 0; v < n; v++) if (indeg[v] === 0) queue.push(v);
  let seen = 0;
  while (queue.length) {
    const u = queue.pop()!;
    seen++;
    for (let i = 0; i < g.innov.length; i++) {
      if (g.enabled[i] && g.src[i] === u && --indeg[g.dst[i]] === 0) queue.push(g.dst[i]);
    }
  }
  expect(seen).toBe(n);
}

describe('breeding', () => {
  it('follows the reference rounding', () => {
    expect(breedingSizes(960, 0.2, 0.2)).toEqual({ culled: 192, kept: 768, elites: 153, children: 807 });
    expect(breedingSizes(10, 0.2, 0.2)).toEqual({ culled: 2, kept: 8, elites: 1, children: 9 });
    expect(breedingSizes(4, 0.9, 0.2)).toEqual({ culled: 3, kept: 1, elites: 0, children: 4 });
    expect(breedingSizes(20, 0, 1)).toEqual({ culled: 0, kept: 20, elites: 20, children: 0 });
  });

  it('tournament returns the best (lowest) of its draws', () => {
    const rng = stream(1, 0, 'test');
    for (let t = 0; t < 200; t++) expect(tournament(rng, 50, 1)).toBeLessThan(50);
    // Size 32 over 768: the winner is almost always near the top.
    let sum = 0;
    for (let t = 0; t < 500; t++) sum += tournament(stream(2, 0, 'test', t), 768, 32);
    expect(sum / 500).toBeLessThan(768 / 20);
  });

  it('keeps the size, copies elites unchanged, never breeds from the culled', () => {
    const cfg = config({ population: 50, seed: 3, tournamentSize: 4 });
    const pop = Array.from({ length: 50 }, (_, i) => initialGenome(8, 3, 0.3, stream(3, 0, 'init', i)));
    // A scrambled but known ranking.
    const order = stream(3, 0, 'test').shuffle(Array.from({ length: 50 }, (_, i) => i));
    const rank = new Int32Array(50);
    order.forEach((idx, r) => {
      rank[idx] = r;
    });
    const ctx = { nextInnovation: initialInnovations(8, 3) + 1, activations: MNIST_ACTIVATIONS };
    const start = ctx.nextInnovation;
    const out = breed(pop, rank, cfg, 0, ctx);
    const { kept, elites, children } = breedingSizes(50, cfg.cullRatio, cfg.eliteRatio);
    expect(out.population.length).toBe(50);
    expect(out.operators.length).toBe(children);
    for (let e = 0; e < elites; e++) {
      expect(out.parents[e]).toBe(order[e]);
      expect(out.population[e]).not.toBe(pop[order[e]]);
      expect(populationToBase64([out.population[e]])).toBe(populationToBase64([pop[order[e]]]));
    }
    for (let j = elites; j < 50; j++) {
      expect(rank[out.parents[j]]).toBeLessThan(kept); // culled (rank ≥ kept) never parents
      expectAcyclic(out.population[j]);
    }
    expect(out.nextInnovation).toBe(ctx.nextInnovation);

    // Any child can be reproduced alone from its stream (given the counter at its turn).
    let counter = start;
    for (let c = 0; c < children; c++) {
      const rng = stream(cfg.seed, 0, 'breed', c);
      const a = tournament(rng, kept, cfg.tournamentSize);
      const b = tournament(rng, kept, cfg.tournamentSize);
      expect(out.parents[elites + c]).toBe(order[Math.min(a, b)]);
      const alone = mutate(pop[order[Math.min(a, b)]], rng, { ...ctx, nextInnovation: counter }, cfg);
      expect(alone.operator).toBe(out.operators[c]);
      expect(populationToBase64([alone.genome])).toBe(populationToBase64([out.population[elites + c]]));
      counter += alone.genome.innov.length - pop[out.parents[elites + c]].innov.length;
    }
    expect(counter).toBe(out.nextInnovation);
  });
});

describe('strategy', () => {
  const cfg = config({ population: 40, seed: 11, tournamentSize: 8 });

  it('init builds generation 0 from per-member init streams', () => {
    const s = init(cfg, SMALL);
    expect(s).toMatchObject({ version: 1, generation: 0, champion: null, bestEverFitness: null });
    expect(s.nextInnovation).toBe(initialInnovations(8, 3) + 1);
    const pop = ask(s);
    expect(pop.length).toBe(40);
    const g7 = initialGenome(8, 3, cfg.initEnableProb, stream(11, 0, 'init', 7));
    expect(populationToBase64([pop[7]])).toBe(populationToBase64([g7]));
    const mnist = ask(init(config({ population: 4, seed: 1, tournamentSize: 4 })));
    expect(mnist[0].innov.length).toBe(2570);
  });

  it('is deterministic: same seed → identical states and metrics over generations', () => {
    const a = run(cfg, 8);
    const b = run(cfg, 8);
    expect(JSON.stringify(a)).toBe(JSON.stringify(b));
    expect(a.state.generation).toBe(8);
    const other = run(config({ population: 40, seed: 12, tournamentSize: 8 }), 8);
    expect(other.state.population).not.toBe(a.state.population);
  });

  it('does not depend on evaluation order', () => {
    let s1 = init(cfg, SMALL);
    let s2 = init(cfg, SMALL);
    for (let gen = 0; gen < 5; gen++) {
      const inOrder = evaluate(s1, cfg);
      const pop = ask(s2);
      const shuffled = stream(77, gen, 'test').shuffle(pop.map((_, i) => i));
      const results: GenomeResult[] = new Array(pop.length);
      for (const i of shuffled) results[i] = fakeResult(pop[i], cfg.weights);
      const o1 = tell(s1, cfg, inOrder);
      const o2 = tell(s2, cfg, results);
      expect(JSON.stringify(o2)).toBe(JSON.stringify(o1));
      s1 = o1.state;
      s2 = o2.state;
    }
  });

  it('continues identically from a JSON round trip of its state', () => {
    const mid = run(cfg, 4).state;
    const restored = JSON.parse(JSON.stringify(mid)) as StrategyState;
    expect(restored).toEqual(mid);
    const direct = run(cfg, 4, mid);
    const resumed = run(cfg, 4, restored);
    expect(JSON.stringify(resumed)).toBe(JSON.stringify(direct));
    expect(JSON.stringify(direct.state)).toBe(JSON.stringify(run(cfg, 8).state));
  });

  it('keeps populations valid and innovations global', () => {
    let s = init(cfg, SMALL);
    for (let gen = 0; gen < 15; gen++) {
      const pop = ask(s);
      expect(pop.length).toBe(40);
      for (const g of pop) {
        expectAcyclic(g);
        expect(g.innov[g.innov.length - 1]).toBeLessThan(s.nextInnovation);
      }
      s = tell(
        s,
        cfg,
        pop.map((g) => fakeResult(g, cfg.weights)),
      ).state;
    }
    expect(Math.max(...ask(s).map((g) => g.acts.length))).toBeGreaterThan(firstHidden(SMALL));
  });

  it('tracks the champion by highest mean fitness, strictly improving, never NaN', () => {
    const s0 = init(cfg, SMALL);
    const pop = ask(s0);
    const results = pop.map((g) => fakeResult(g, cfg.weights));
    // Genome 5 is the best by far but NaN in one weight: it must not win.
    results[5] = {
      ...results[5],
      fitness: results[5].fitness.map((f, k) => (k === 2 ? Number.NaN : f + 100)),
    };
    results[9] = { ...results[9], fitness: results[9].fitness.map((f) => f + 10) };
    const { state: s1, metrics: m1 } = tell(s0, cfg, results);
    expect(s1.champion?.generation).toBe(0);
    expect(populationToBase64([championGenome(s1)!])).toBe(populationToBase64([pop[9]]));
    const mean9 = results[9].fitness.reduce((x, y) => x + y) / results[9].fitness.length;
    expect(s1.bestEverFitness).toBe(mean9);
    expect(s1.champion?.fitness).toBe(mean9);
    expect(s1.champion?.accuracy).toEqual(results[9].accuracy);
    expect(s1.champion?.connections).toBe(results[9].connections);
    expect(m1.fitnessMax).toBe(mean9);
    expect(m1.bestEverFitness).toBe(mean9);
    expect(m1.championConnections).toBe(results[9].connections);
    expect(m1.championAccuracy).toBeCloseTo(
      results[9].accuracy.reduce((x, y) => x + y) / results[9].accuracy.length,
      12,
    );
    expect(m1.evaluations).toBe(40);

    // An equal best later does not replace the champion; only a strictly better one does.
    const pop1 = ask(s1);
    // Same fitness values as genome 9, so the mean is bit-for-bit the same.
    const equal = pop1.map(() => ({
      fitness: [...results[9].fitness],
      accuracy: cfg.weights.map(() => 1),
      connections: 3,
    }));
    const s2 = tell(s1, cfg, equal).state;
    expect(s2.champion).toEqual(s1.champion);
    const better = equal.map((r, i) => (i === 3 ? { ...r, fitness: r.fitness.map((f) => f + 1) } : r));
    const s3 = tell(s2, cfg, better).state;
    expect(s3.champion?.generation).toBe(2);
    expect(s3.bestEverFitness).toBeCloseTo(mean9 + 1, 12);
  });

  it('survives a generation of failed evaluations', () => {
    const s0 = init(cfg, SMALL);
    const failed = ask(s0).map(() => ({
      fitness: cfg.weights.map(() => Number.NaN),
      accuracy: cfg.weights.map(() => 0),
      connections: 0,
    }));
    const { state, metrics } = tell(s0, cfg, failed);
    expect(state.champion).toBeNull();
    expect(state.bestEverFitness).toBeNull();
    expect(Number.isNaN(metrics.fitnessMean)).toBe(true);
    expect(JSON.parse(JSON.stringify(state))).toEqual(state);
    expect(ask(state).length).toBe(40);
  });

  it('picks the objective pair with probConnectionObjective', () => {
    const always = config({ population: 10, seed: 1, tournamentSize: 4, probConnectionObjective: 1 });
    const never = config({ population: 10, seed: 1, tournamentSize: 4, probConnectionObjective: 0 });
    expect(run(always, 3).metrics.map((m) => m.objectives)).toEqual(Array(3).fill('mean+connections'));
    expect(run(never, 3).metrics.map((m) => m.objectives)).toEqual(Array(3).fill('mean+max'));
    const mixed = run(config({ population: 10, seed: 1, tournamentSize: 4 }), 40).metrics;
    const share = mixed.filter((m) => m.objectives === 'mean+connections').length / 40;
    expect(share).toBeGreaterThan(0.5);
    expect(share).toBeLessThan(1);
  });

  it('rejects results of the wrong shape with a clear error', () => {
    const s = init(cfg, SMALL);
    const good = evaluate(s, cfg);
    expect(() => tell(s, cfg, good.slice(1))).toThrow(/expected 40 results/);
    const short = good.map((r, i) => (i === 4 ? { ...r, fitness: r.fitness.slice(1) } : r));
    expect(() => tell(s, cfg, short)).toThrow(/result 4 must have 6 fitness values/);
    const badAcc = good.map((r, i) => (i === 2 ? { ...r, accuracy: [1] } : r));
    expect(() => tell(s, cfg, badAcc)).toThrow(/result 2 must have 6 accuracy values/);
    expect(() => tell({ ...s, version: 2 as 1 }, cfg, good)).toThrow(/version/);
  });

  it('reports metrics of the evaluated generation', () => {
    const s = init(cfg, SMALL);
    const pop = ask(s);
    const results = evaluate(s, cfg);
    const { metrics } = tell(s, cfg, results);
    const means = results
      .map((r) => r.fitness.reduce((x, y) => x + y) / r.fitness.length)
      .sort((a, b) => a - b);
    expect(metrics.generation).toBe(0);
    expect(metrics.fitnessMean).toBeCloseTo(means.reduce((x, y) => x + y) / means.length, 12);
    expect(metrics.fitnessMedian).toBeCloseTo((means[19] + means[20]) / 2, 12);
    expect(metrics.fitnessMax).toBe(means[39]);
    expect(metrics.meanConnections).toBeCloseTo(results.reduce((x, r) => x + r.connections, 0) / 40, 12);
    expect(metrics.meanNodes).toBe(pop[0].acts.length);
  });
});
