import { describe, expect, it } from 'vitest';
import { stream } from '../../src/random';
import { ensembleAccuracy } from '../../src/wann/accuracy';
import { MNIST_ACTIVATIONS } from '../../src/wann/activation-ids';
import { breedingSizes, rankOrder, tournament } from '../../src/wann/breeding';
import { resolveConfig, type SearchConfig, type SearchConfigInput } from '../../src/wann/config';
import {
  breedingParams,
  breedMember,
  evaluateRecheck,
  type GenerationObjectives,
  generationShard,
  isRecheckGeneration,
  objectivePair,
  packObjectives,
  planGeneration,
  type RecheckReport,
  recheckReportSchema,
  recheckShards,
  recheckSpec,
  type SliceReport,
  sliceReportSchema,
  unpackObjectives,
} from '../../src/wann/generation';
import {
  enabledCount,
  firstHidden,
  type Genome,
  initialGenome,
  lastInnovation,
  populationToBase64,
} from '../../src/wann/genome';
import { mutate } from '../../src/wann/mutation';
import { compile, Evaluator } from '../../src/wann/network';
import { rankPopulation } from '../../src/wann/nsga2';
import { type ChampionRecord, type GenerationRecord, generationRecordSchema } from '../../src/wann/record';
import { completeGeneration, initialSearchState, type SearchState, tell } from '../../src/wann/tell';
import type { Batch } from '../../src/wann/types';

const SMALL = { inputs: 8, outputs: 3 };

function config(input: SearchConfigInput): SearchConfig {
  return resolveConfig(input, () => 1234);
}

const same = (a: Genome, b: Genome) => populationToBase64([a]) === populationToBase64([b]);

/**
 * A cheap deterministic stand-in for evaluation: rewards ~12 enabled connections and a few hidden
 * nodes, and depends on the weight, the activations and where the connections go. No forward pass:
 * ranking and selection only need results that differ between genomes.
 */
function fakeScores(g: Genome, weights: readonly number[]): { fitness: number[]; accuracy: number[] } {
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
  };
}

/** What a slice would report for `genomes` (members sliceStart…), with fake scores. */
function fakeReport(genomes: readonly Genome[], gen: number, sliceStart: number, weights: readonly number[]) {
  const w = weights.length;
  const report: SliceReport = {
    gen,
    sliceStart,
    sliceEnd: sliceStart + genomes.length,
    weights: w,
    fitness: [],
    accuracy: [],
    connections: genomes.map(enabledCount),
    nodes: genomes.map((g) => g.acts.length),
    offsets: genomes.map((_, i) => 8 + 100 * i).concat(8 + 100 * genomes.length),
  };
  for (const g of genomes) {
    const s = fakeScores(g, weights);
    report.fitness.push(...s.fitness);
    report.accuracy.push(...s.accuracy);
  }
  return report;
}

/** A seeded random batch for the small shape (8 inputs in [0, 1], 3 classes). */
function smallBatch(seed: number, count = 40): Batch {
  const rng = stream(seed, 0, 'test');
  const inputs = new Float32Array(SMALL.inputs * count).map(() => rng.float());
  const labels = new Uint8Array(count).map(() => rng.int(SMALL.outputs));
  return { count, features: SMALL.inputs, inputs, labels };
}
const smallShards = Array.from({ length: 60 }, (_, i) => smallBatch(100 + i));
const smallTest = smallBatch(7, 60);

/**
 * The contract driven in one thread on the small shape with fake scores, the population cut into
 * slices of `sliceSize` that are bred in a scrambled order and reported in another. With
 * `recheck`, check generations re-check the champion with a real evaluator on seeded small batches.
 */
function run(
  cfg: SearchConfig,
  generations: number,
  sliceSize = cfg.population,
  scramble = 0,
  recheck = false,
) {
  const params = breedingParams(cfg);
  let population: Genome[] = [];
  let objectives: GenerationObjectives | null = null;
  let champion: ChampionRecord | null = null;
  let candidate: ChampionRecord | null = null;
  const evaluator = new Evaluator();
  const records: GenerationRecord[] = [];
  const populations: Genome[][] = [];
  for (let gen = 0; gen < generations; gen++) {
    const plan = planGeneration(cfg, gen, objectives);
    const starts: number[] = [];
    for (let s = 0; s < cfg.population; s += sliceSize) starts.push(s);
    if (scramble) stream(scramble, gen, 'test').shuffle(starts);
    const next: Genome[] = new Array(cfg.population);
    const reports: SliceReport[] = [];
    for (const s of starts) {
      const slice: Genome[] = [];
      for (let j = s; j < Math.min(cfg.population, s + sliceSize); j++) {
        next[j] = breedMember(
          params,
          gen,
          j,
          plan.elites,
          gen === 0 ? null : population[plan.parents[j]],
          SMALL,
        );
        slice.push(next[j]);
      }
      reports.push(fakeReport(slice, gen, s, cfg.weights));
    }
    if (scramble) stream(scramble, gen, 'test', 1).shuffle(reports);
    const spec = recheck ? recheckSpec(cfg, gen, champion, candidate) : null;
    const member = (m: { generation: number; index: number }) => populations[m.generation][m.index];
    const rechecked = spec
      ? evaluateRecheck(
          evaluator,
          spec,
          { champion: member(spec.champion), candidate: spec.candidate ? member(spec.candidate) : null },
          (shard) => smallShards[shard],
          smallTest,
          cfg.weights,
        )
      : null;
    const done = completeGeneration({
      gen,
      config: cfg,
      population: cfg.population,
      reports,
      champion,
      durationMs: 0,
      recheck: recheck ? { candidate, report: rechecked } : undefined,
    });
    champion = done.champion;
    candidate = done.candidate;
    objectives = done.objectives;
    population = next;
    records.push(done.record);
    populations.push(next);
  }
  return { records, populations, objectives: objectives!, champion };
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

/** Random objectives for a population of n (connections 1…40). */
function randomObjectives(n: number, seed: number): GenerationObjectives {
  const rng = stream(seed, 0, 'test');
  const meanFitness = new Float64Array(n).map(() => -3 + rng.float());
  return {
    meanFitness,
    maxFitness: meanFitness.map((m) => m + rng.float() / 2),
    connections: new Uint32Array(n).map(() => 1 + rng.int(40)),
  };
}

/** The ranking planGeneration(cfg, gen) must use: generation gen−1 on its drawn pair, NaN last. */
function expectedOrder(cfg: SearchConfig, gen: number, o: GenerationObjectives): Int32Array {
  const pair = objectivePair(cfg, gen - 1);
  const n = o.meanFitness.length;
  const mean = new Float64Array(n);
  const second = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const finite = Number.isFinite(o.meanFitness[i]);
    mean[i] = finite ? o.meanFitness[i] : Number.NEGATIVE_INFINITY;
    second[i] = !finite
      ? Number.NEGATIVE_INFINITY
      : pair === 'mean+connections'
        ? 1 / Math.max(1, o.connections[i])
        : o.maxFitness[i];
  }
  return rankOrder(rankPopulation([mean, second]).rank);
}

describe('breeding arithmetic', () => {
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
});

describe('planGeneration', () => {
  const cfg = config({ population: 50, seed: 3, tournamentSize: 4 });
  const { kept, elites, children } = breedingSizes(50, cfg.cullRatio, cfg.eliteRatio);

  it('plans generation 0 without parents, and needs objectives after it', () => {
    expect(planGeneration(cfg, 0, null)).toEqual({
      gen: 0,
      elites: 0,
      parents: new Int32Array(0),
      rankedOn: null,
    });
    expect(() => planGeneration(cfg, 1, null)).toThrow(/needs the objectives of generation 0/);
    expect(() => planGeneration(cfg, 1, randomObjectives(49, 1))).toThrow(/49 members, the config says 50/);
  });

  it('copies the best-ranked as elites, in order, and draws children by two tournaments', () => {
    for (const gen of [1, 2, 3, 7]) {
      const o = randomObjectives(50, gen);
      const plan = planGeneration(cfg, gen, o);
      const order = expectedOrder(cfg, gen, o);
      expect(plan).toMatchObject({ gen, elites, rankedOn: objectivePair(cfg, gen - 1) });
      expect(plan.parents.length).toBe(50);
      expect(Array.from(plan.parents.subarray(0, elites))).toEqual(Array.from(order.subarray(0, elites)));
      for (let c = 0; c < children; c++) {
        const rng = stream(cfg.seed, gen, 'select', c);
        const a = tournament(rng, kept, cfg.tournamentSize);
        const b = tournament(rng, kept, cfg.tournamentSize);
        expect(plan.parents[elites + c]).toBe(order[Math.min(a, b)]);
      }
    }
  });

  it('ranks by mean alone when the second objective ties: elites are the best means', () => {
    const flat = config({ population: 50, seed: 3, tournamentSize: 4, probConnectionObjective: 1 });
    const o = randomObjectives(50, 9);
    o.connections.fill(10);
    const plan = planGeneration(flat, 1, o);
    const byMean = Array.from({ length: 50 }, (_, i) => i).sort(
      (a, b) => o.meanFitness[b] - o.meanFitness[a],
    );
    expect(Array.from(plan.parents.subarray(0, elites))).toEqual(byMean.slice(0, elites));
  });

  it('never picks a culled genome as a parent', () => {
    for (let gen = 1; gen < 6; gen++) {
      const o = randomObjectives(50, 100 + gen);
      const order = expectedOrder(cfg, gen, o);
      const rank = new Int32Array(50);
      order.forEach((idx, r) => {
        rank[idx] = r;
      });
      for (const p of planGeneration(cfg, gen, o).parents) expect(rank[p]).toBeLessThan(kept);
    }
  });

  it('never picks a NaN member before a finite one', () => {
    const o = randomObjectives(50, 5);
    // Fewer NaNs than culled: none is ever a parent.
    const nan = [3, 17, 22, 41];
    for (const i of nan) o.meanFitness[i] = o.maxFitness[i] = Number.NaN;
    o.meanFitness[17] = Number.NaN; // NaN even with the best max fitness and fewest connections
    o.maxFitness[17] = 100;
    o.connections[17] = 1;
    for (let gen = 1; gen < 8; gen++) {
      for (const p of planGeneration(cfg, gen, o).parents) expect(nan).not.toContain(p);
    }
    // Only 3 finite members: elites come from them, and they fill the top of the ranking.
    const mostlyFailed = randomObjectives(50, 6);
    for (let i = 3; i < 50; i++) mostlyFailed.meanFitness[i] = Number.NaN;
    const plan = planGeneration(
      config({ population: 50, seed: 3, tournamentSize: 4, eliteRatio: 0.05 }),
      1,
      mostlyFailed,
    );
    expect(plan.elites).toBe(2);
    for (const p of plan.parents.subarray(0, 2)) expect(p).toBeLessThan(3);
  });

  it('gives the same plan for the same inputs, and another for another seed', () => {
    const o = randomObjectives(50, 11);
    const a = planGeneration(cfg, 4, o);
    expect(planGeneration(cfg, 4, unpackObjectives(packObjectives(o)))).toEqual(a);
    expect(planGeneration({ ...cfg, seed: 4 }, 4, o).parents).not.toEqual(a.parents);
  });
});

describe('breedMember', () => {
  const cfg = config({ population: 40, seed: 11, tournamentSize: 8 });
  const params = breedingParams(cfg);
  // A grown population to breed from (hidden nodes, disabled genes).
  const grown = run(cfg, 10).populations[9];

  it('builds generation 0 from the member init streams (MNIST shape by default)', () => {
    const g7 = breedMember(params, 0, 7, 0, null, SMALL);
    expect(same(g7, initialGenome(8, 3, cfg.initEnableProb, stream(11, 0, 'init', 7)))).toBe(true);
    const mnist = breedMember(params, 0, 0, 0, null);
    expect(mnist.innov.length).toBe(2570);
    expect(lastInnovation(mnist)).toBe(2570);
    expect(() => breedMember(params, 1, 0, 0, null)).toThrow(/needs its parent/);
  });

  it('copies an elite exactly, as a new genome', () => {
    const parent = grown[5];
    const before = populationToBase64([parent]);
    const elite = breedMember(params, 3, 2, 4, parent, SMALL);
    expect(elite).not.toBe(parent);
    expect(elite.acts).not.toBe(parent.acts);
    expect(same(elite, parent)).toBe(true);
    expect(populationToBase64([parent])).toBe(before);
  });

  it('applies exactly one operator, with fresh innovations and dense node ids', () => {
    const seen = new Set<string>();
    for (let j = 0; j < 200; j++) {
      const parent = grown[j % grown.length];
      const before = populationToBase64([parent]);
      const child = breedMember(params, 10, j, 0, parent, SMALL);
      expect(populationToBase64([parent])).toBe(before); // the parent is untouched
      const expected = mutate(
        parent,
        stream(cfg.seed, 10, 'mutate', j),
        { nextInnovation: lastInnovation(parent) + 1, activations: MNIST_ACTIVATIONS },
        cfg,
      );
      expect(same(child, expected.genome)).toBe(true);
      seen.add(expected.operator);

      // One operator's worth of difference: old genes keep their innovations and endpoints.
      const m = parent.innov.length;
      expect(Array.from(child.innov.subarray(0, m))).toEqual(Array.from(parent.innov));
      expect(Array.from(child.src.subarray(0, m))).toEqual(Array.from(parent.src));
      expect(Array.from(child.dst.subarray(0, m))).toEqual(Array.from(parent.dst));
      const added = child.innov.length - m;
      const newNodes = child.acts.length - parent.acts.length;
      let flipped = 0;
      for (let i = 0; i < m; i++) if (child.enabled[i] !== parent.enabled[i]) flipped++;
      let actChanges = 0;
      for (let v = 0; v < parent.acts.length; v++) if (child.acts[v] !== parent.acts[v]) actChanges++;
      const change = `${added}/${newNodes}/${flipped}/${actChanges}`;
      const allowed: Record<string, string[]> = {
        addNode: ['2/1/1/0', '0/0/0/0'],
        addConnection: ['1/0/0/0', '0/0/0/0'],
        enableConnection: ['0/0/1/0', '0/0/0/0'],
        changeActivation: ['0/0/0/1', '0/0/0/0'],
      };
      expect(allowed[expected.operator], `${expected.operator}: ${change}`).toContain(change);
      // New genes continue the parent's innovations; a new node takes the next id and is wired.
      for (let k = 0; k < added; k++) expect(child.innov[m + k]).toBe(lastInnovation(parent) + 1 + k);
      if (newNodes === 1) {
        const id = parent.acts.length;
        expect([child.dst[m], child.src[m + 1]]).toEqual([id, id]);
      }
      expectAcyclic(child);
    }
    expect(seen.size).toBe(4);
  });

  it('is a pure function of (seed, generation, index, parent)', () => {
    const parent = grown[3];
    const a = breedMember(params, 6, 25, 0, parent, SMALL);
    const b = breedMember(params, 6, 25, 0, parent, SMALL);
    expect(same(a, b)).toBe(true);
    const others = [
      breedMember(params, 6, 26, 0, parent, SMALL),
      breedMember(params, 7, 25, 0, parent, SMALL),
      breedMember({ ...params, seed: 12 }, 6, 25, 0, parent, SMALL),
    ];
    expect(others.some((g) => !same(g, a))).toBe(true);
  });
});

describe('a generation end to end (fake scores)', () => {
  const cfg = config({ population: 40, seed: 11, tournamentSize: 8 });

  it('is deterministic, and independent of slicing and of the order slices are bred and reported', () => {
    const a = run(cfg, 8);
    expect(JSON.stringify(run(cfg, 8))).toBe(JSON.stringify(a));
    for (const [size, scramble] of [
      [1, 5],
      [7, 9],
      [13, 0],
    ]) {
      const b = run(cfg, 8, size, scramble);
      expect(b.records).toEqual(a.records);
      expect(b.populations.map((p) => populationToBase64(p))).toEqual(
        a.populations.map((p) => populationToBase64(p)),
      );
    }
    const other = run(config({ population: 40, seed: 12, tournamentSize: 8 }), 8);
    expect(other.records).not.toEqual(a.records);
  });

  it('keeps populations valid and grows hidden nodes', () => {
    const { populations } = run(cfg, 15);
    for (const pop of populations) {
      expect(pop.length).toBe(40);
      for (const g of pop) expectAcyclic(g);
    }
    expect(Math.max(...populations[14].map((g) => g.acts.length))).toBeGreaterThan(firstHidden(SMALL));
  });

  it('draws the objective pair with probConnectionObjective, and records it', () => {
    const always = config({ population: 10, seed: 1, tournamentSize: 4, probConnectionObjective: 1 });
    const never = config({ population: 10, seed: 1, tournamentSize: 4, probConnectionObjective: 0 });
    expect(run(always, 3).records.map((r) => r.objectives)).toEqual(Array(3).fill('mean+connections'));
    expect(run(never, 3).records.map((r) => r.objectives)).toEqual(Array(3).fill('mean+max'));
    const mixedConfig = config({ population: 10, seed: 1, tournamentSize: 4 });
    const mixed = run(mixedConfig, 40).records;
    const share = mixed.filter((r) => r.objectives === 'mean+connections').length / 40;
    expect(share).toBeGreaterThan(0.5);
    expect(share).toBeLessThan(1);
    expect(mixed.map((r) => r.shard)).toEqual(mixed.map((r) => generationShard(mixedConfig, r.gen)));
    expect(new Set(mixed.map((r) => r.shard)).size).toBeGreaterThan(20); // of 60 shards
  });
});

describe('completeGeneration', () => {
  const cfg = config({ population: 6, seed: 5, tournamentSize: 2, weights: [-1, 1, 2] });
  /** Members 0…5 over two slices, weights [−1, 1, 2]; member 4 failed (NaN at one weight). */
  const fitness = [
    [-2, -2, -2], // mean −2
    [-1, -1.5, -0.5], // mean −1, max −0.5
    [-3, -1, -2], // mean −2
    [-0.5, -1.5, -1], // mean −1 (ties member 1: the lower index wins)
    [0, Number.NaN, 0], // failed
    [-4, -2, -3], // mean −3
  ];
  const accuracy = fitness.map((_, j) => [0.1 * j, 0.2, 0.3]);
  const connections = [5, 7, 9, 11, 13, 15];
  const nodes = [12, 13, 12, 14, 12, 12];
  const report = (start: number, end: number, gen = 0): SliceReport => ({
    gen,
    sliceStart: start,
    sliceEnd: end,
    weights: 3,
    fitness: fitness.slice(start, end).flat(),
    accuracy: accuracy.slice(start, end).flat(),
    connections: connections.slice(start, end),
    nodes: nodes.slice(start, end),
    offsets: Array.from({ length: end - start + 1 }, (_, i) => 8 + 40 * i),
  });

  it('computes the record by hand', () => {
    const done = completeGeneration({
      gen: 0,
      config: cfg,
      population: 6,
      reports: [report(4, 6), report(0, 4)],
      champion: null,
      durationMs: 1234.4,
    });
    expect(Array.from(done.objectives.meanFitness)).toEqual([-2, -1, -2, -1, Number.NaN, -3]);
    expect(Array.from(done.objectives.maxFitness)).toEqual([-2, -0.5, -1, -0.5, Number.NaN, -2]);
    expect(Array.from(done.objectives.connections)).toEqual(connections);
    const champion = {
      generation: 0,
      index: 1,
      fitness: -1,
      accuracy: [0.1, 0.2, 0.3],
      connections: 7,
      chosenBy: 'batch',
      recheckedFitness: null,
    };
    expect(done.champion).toEqual(champion);
    expect(done.candidate).toBeNull();
    // Finite means sorted: −3, −2, −2, −1, −1.
    expect(done.record).toEqual({
      gen: 0,
      objectives: objectivePair(cfg, 0),
      shard: generationShard(cfg, 0),
      fitnessMean: (-3 - 2 - 2 - 1 - 1) / 5,
      fitnessMedian: -2,
      fitnessMax: -1,
      bestEverFitness: -1,
      championAccuracy: (0.1 + 0.2 + 0.3) / 3,
      championConnections: 7,
      meanConnections: 60 / 6,
      meanNodes: 75 / 6,
      evaluations: 6,
      durationMs: 1234,
      champion,
      testAccuracy: null,
    });
    expect(generationRecordSchema.parse(JSON.parse(JSON.stringify(done.record)))).toEqual(done.record);
  });

  it('takes the median of an even count as the mean of the middle two', () => {
    // Means −2 −1 −2 −1 −1.5 −3, sorted −3 −2 −2 −1.5 −1 −1.
    const even = fitness.map((f, j) => (j === 4 ? [-1.5, -1.5, -1.5] : f));
    const r: SliceReport = { ...report(0, 6), fitness: even.flat() };
    expect(
      completeGeneration({ gen: 0, config: cfg, population: 6, reports: [r], champion: null, durationMs: 0 })
        .record.fitnessMedian,
    ).toBe(-1.75);
  });

  it('replaces the champion only with a strictly better mean fitness', () => {
    const older: ChampionRecord = {
      generation: 3,
      index: 2,
      fitness: -1,
      accuracy: [1, 1, 1],
      connections: 1,
      chosenBy: 'batch',
      recheckedFitness: null,
    };
    const tie = completeGeneration({
      gen: 4,
      config: cfg,
      population: 6,
      reports: [report(0, 6, 4)],
      champion: older,
      durationMs: 0,
    });
    expect(tie.champion).toBe(older);
    expect(tie.record.champion).toEqual(older);
    expect(tie.record.bestEverFitness).toBe(-1);
    // This generation's best is still reported, by index.
    expect(tie.record.championConnections).toBe(7);
    const better = completeGeneration({
      gen: 4,
      config: cfg,
      population: 6,
      reports: [report(0, 6, 4)],
      champion: { ...older, fitness: -1.5 },
      durationMs: 0,
    });
    expect(better.champion).toMatchObject({ generation: 4, index: 1, fitness: -1 });
    const worse = completeGeneration({
      gen: 4,
      config: cfg,
      population: 6,
      reports: [report(0, 6, 4)],
      champion: { ...older, fitness: -0.5 },
      durationMs: 0,
    });
    expect(worse.champion?.fitness).toBe(-0.5);
  });

  it('never crowns a failed evaluation, and survives a generation where all failed', () => {
    // Member 4: far the best at two weights, NaN at the third.
    const huge: SliceReport = {
      ...report(0, 6),
      fitness: fitness.flatMap((f, j) => (j === 4 ? [100, Number.NaN, 100] : f)),
    };
    expect(
      completeGeneration({
        gen: 0,
        config: cfg,
        population: 6,
        reports: [huge],
        champion: null,
        durationMs: 0,
      }).champion?.index,
    ).toBe(1);

    const failed: SliceReport = { ...report(0, 6), fitness: fitness.flat().map(() => Number.NaN) };
    const done = completeGeneration({
      gen: 0,
      config: cfg,
      population: 6,
      reports: [failed],
      champion: null,
      durationMs: 0,
    });
    expect(done.champion).toBeNull();
    expect(done.record).toMatchObject({
      fitnessMean: null,
      fitnessMedian: null,
      fitnessMax: null,
      bestEverFitness: null,
      championAccuracy: null,
      championConnections: null,
      champion: null,
    });
    expect(generationRecordSchema.parse(JSON.parse(JSON.stringify(done.record)))).toEqual(done.record);
    // The next generation can still be planned (every member ranks last alike).
    expect(planGeneration(cfg, 1, done.objectives).parents.length).toBe(6);
  });

  it('refuses reports that do not cover the population exactly', () => {
    expect(() =>
      completeGeneration({
        gen: 0,
        config: cfg,
        population: 6,
        reports: [report(0, 4)],
        champion: null,
        durationMs: 0,
      }),
    ).toThrow(/member 4 has no report/);
    expect(() =>
      completeGeneration({
        gen: 0,
        config: cfg,
        population: 6,
        reports: [report(0, 4), report(3, 6)],
        champion: null,
        durationMs: 0,
      }),
    ).toThrow(/member 3 reported twice/);
    expect(() =>
      completeGeneration({
        gen: 1,
        config: cfg,
        population: 6,
        reports: [report(0, 6)],
        champion: null,
        durationMs: 0,
      }),
    ).toThrow(/report of generation 0/);
  });
});

describe('champion re-check', () => {
  // Re-check every 4 generations on 3 of 10 shards; members and scores as in 'completeGeneration'.
  const cfg = config({
    population: 6,
    seed: 5,
    tournamentSize: 2,
    weights: [-1, 1, 2],
    trainShards: 10,
    recheckEvery: 4,
    recheckBatches: 3,
  });
  const fitness = [
    [-2, -2, -2],
    [-1, -1.5, -0.5], // mean −1: every generation's best
    [-3, -1, -2],
    [-1.5, -1.5, -1.5],
    [-2.5, -2.5, -2.5],
    [-4, -2, -3],
  ];
  const report = (gen: number): SliceReport => ({
    gen,
    sliceStart: 0,
    sliceEnd: 6,
    weights: 3,
    fitness: fitness.flat(),
    accuracy: fitness.flatMap(() => [0.1, 0.2, 0.3]),
    connections: [5, 7, 9, 11, 13, 15],
    nodes: [12, 13, 12, 14, 12, 12],
    offsets: Array.from({ length: 7 }, (_, i) => 8 + 40 * i),
  });
  const member = (generation: number, index: number, f: number, rechecked: number | null = null) =>
    ({
      generation,
      index,
      fitness: f,
      accuracy: [0.5, 0.5, 0.5],
      connections: 4,
      chosenBy: 'batch',
      recheckedFitness: rechecked,
    }) satisfies ChampionRecord;
  const champion = member(2, 0, -0.8);
  /** Lucky: the best batch fitness ever seen, on one easy shard. */
  const candidate = member(6, 3, -0.2);
  const recheckOf = (
    gen: number,
    champ: ChampionRecord,
    cand: ChampionRecord | null,
    championFitness: number[],
    candidateFitness: number[],
    testAccuracy = 0.42,
  ): RecheckReport => {
    const spec = recheckSpec(cfg, gen, champ, cand)!;
    return { ...spec, championFitness, candidateFitness, testAccuracy };
  };

  describe('tell', () => {
    /** A driver's opaque handle; here a string, so the state stays plain JSON. */
    const locateIn = (gen: number) => (index: number) => `generation ${gen} member ${index}`;
    const nowhere = () => {
      throw new Error('asked to locate a member that is neither the new champion nor the candidate');
    };

    it("locates a new candidate by the driver's handle and keeps the champion's", () => {
      const state: SearchState<string> = {
        generation: 5,
        champion: { champion: member(2, 0, -1.5), location: 'champion object' },
        candidate: null,
      };
      const told = tell(
        state,
        { slices: [report(5)], recheck: null, locate: locateIn(5), durationMs: 7 },
        cfg,
      );
      expect(told.state).toEqual({
        generation: 6,
        champion: state.champion,
        candidate: {
          champion: { ...member(5, 1, -1), accuracy: [0.1, 0.2, 0.3], connections: 7 },
          location: 'generation 5 member 1',
        },
      });
      expect(JSON.parse(JSON.stringify(told.state))).toEqual(told.state);
      expect(told.record).toEqual(
        completeGeneration({
          gen: 5,
          config: cfg,
          population: 6,
          reports: [report(5)],
          champion: member(2, 0, -1.5),
          durationMs: 7,
          recheck: { candidate: null, report: null },
        }).record,
      );
    });

    it("applies the re-check and carries the winner's location from before", () => {
      const state: SearchState<string> = {
        generation: 8,
        champion: { champion, location: 'champion object' },
        candidate: { champion: candidate, location: 'candidate object' },
      };
      const recheck = recheckOf(8, champion, candidate, [-1, -1, -1], [-0.9, -0.9, -0.9]);
      const told = tell(state, { slices: [report(8)], recheck, locate: nowhere, durationMs: 0 }, cfg);
      expect(told.state).toEqual({
        generation: 9,
        champion: {
          champion: { ...candidate, chosenBy: 'recheck', recheckedFitness: -0.9 },
          location: 'candidate object',
        },
        candidate: null,
        // Crowned by this generation's re-check: what patience counts from (patience.ts).
        championSince: 8,
      });
      expect(told.record.testAccuracy).toBe(0.42);
    });

    it('never makes a failed (NaN) member best, nor asks where it lies', () => {
      const state: SearchState<string> = {
        generation: 9,
        champion: { champion, location: 'champion object' },
        candidate: { champion: candidate, location: 'candidate object' },
      };
      // Member 4 is far the best at two weights and NaN at the third; the rest failed outright.
      const nan: SliceReport = {
        ...report(9),
        fitness: fitness.flatMap((_, j) => (j === 4 ? [100, Number.NaN, 100] : [Number.NaN, 0, 0])),
      };
      const told = tell(state, { slices: [nan], recheck: null, locate: nowhere, durationMs: 0 }, cfg);
      expect(told.state).toEqual({ ...state, generation: 10 });
      expect(told.record).toMatchObject({
        fitnessMax: null,
        championConnections: null,
        bestEverFitness: -0.8,
      });
      // From the start, an all-failed generation leaves no champion.
      const first = tell(
        initialSearchState<string>(),
        { slices: [{ ...nan, gen: 0 }], recheck: null, locate: nowhere, durationMs: 0 },
        cfg,
      );
      expect(first.state).toEqual({ generation: 1, champion: null, candidate: null });
    });

    it('refuses a re-check the state does not call for', () => {
      const state: SearchState<string> = {
        generation: 9,
        champion: { champion, location: 'champion object' },
        candidate: null,
      };
      const recheck = recheckOf(8, champion, null, [-1, -1, -1], []);
      expect(() =>
        tell(state, { slices: [report(9)], recheck, locate: locateIn(9), durationMs: 0 }, cfg),
      ).toThrow(/generation 9 has no re-check, yet one was reported/);
    });
  });

  it('checks at every recheckEvery-th generation after 0, on distinct seeded shards', () => {
    expect([0, 1, 3, 4, 5, 8, 12].map((g) => isRecheckGeneration(cfg, g))).toEqual([
      false,
      false,
      false,
      true,
      false,
      true,
      true,
    ]);
    expect(isRecheckGeneration({ recheckEvery: 0, generations: 9 }, 8)).toBe(false);
    // The run's last generation is a check generation too, whatever its number.
    expect(isRecheckGeneration({ recheckEvery: 4, generations: 8 }, 7)).toBe(true);
    expect(isRecheckGeneration({ recheckEvery: 4, generations: 8 }, 6)).toBe(false);
    expect(isRecheckGeneration({ recheckEvery: 0, generations: 8 }, 7)).toBe(false);
    const shards = recheckShards(cfg, 8);
    expect(shards).toHaveLength(3);
    expect(new Set(shards).size).toBe(3);
    for (const s of shards) expect(s >= 0 && s < 10).toBe(true);
    expect(recheckShards(cfg, 8)).toEqual(shards);
    const others = [12, 16, 20, 24].map((g) => recheckShards(cfg, g).join());
    expect(others.some((o) => o !== shards.join())).toBe(true);
    // Never more than the run's shards, each once.
    expect(recheckShards({ ...cfg, trainShards: 2, recheckBatches: 20 }, 8).sort()).toEqual([0, 1]);
    expect(recheckSpec(cfg, 8, null, null)).toBeNull(); // no champion yet: nothing to check
    expect(recheckSpec(cfg, 7, champion, candidate)).toBeNull();
    expect(recheckSpec(cfg, 8, champion, candidate)).toEqual({
      gen: 8,
      shards,
      champion: { generation: 2, index: 0 },
      candidate: { generation: 6, index: 3 },
    });
  });

  it('between checks, a better batch fitness waits as the candidate; the champion stays', () => {
    const low = member(2, 0, -1.5);
    const done = completeGeneration({
      gen: 5,
      config: cfg,
      population: 6,
      reports: [report(5)],
      champion: low,
      durationMs: 0,
      recheck: { candidate: null, report: null },
    });
    expect(done.champion).toBe(low);
    expect(done.candidate).toEqual({ ...member(5, 1, -1), accuracy: [0.1, 0.2, 0.3], connections: 7 });
    expect(done.record).toMatchObject({ bestEverFitness: -1.5, champion: low, testAccuracy: null });
    // The champion's reference is its batch fitness until re-checked: −1 does not beat −0.5…
    const higher = completeGeneration({
      gen: 5,
      config: cfg,
      population: 6,
      reports: [report(5)],
      champion: member(2, 0, -0.5),
      durationMs: 0,
      recheck: {
        candidate: null,
        report: null,
      },
    });
    expect(higher.candidate).toBeNull();
    // A champion with a re-checked fitness is beaten by beating that instead.
    const rechecked = completeGeneration({
      gen: 5,
      config: cfg,
      population: 6,
      reports: [report(5)],
      champion: member(2, 0, -0.5, -1.2),
      durationMs: 0,
      recheck: {
        candidate: null,
        report: null,
      },
    });
    expect(rechecked.candidate?.index).toBe(1);
    // A waiting candidate is replaced only by a strictly better batch fitness.
    const tie = member(3, 2, -1);
    expect(
      completeGeneration({
        gen: 5,
        config: cfg,
        population: 6,
        reports: [report(5)],
        champion: member(2, 0, -2),
        durationMs: 0,
        recheck: { candidate: tie, report: null },
      }).candidate,
    ).toBe(tie);
    const better = member(3, 2, -0.95);
    expect(
      completeGeneration({
        gen: 5,
        config: cfg,
        population: 6,
        reports: [report(5)],
        champion: member(2, 0, -2),
        durationMs: 0,
        recheck: { candidate: better, report: null },
      }).candidate,
    ).toBe(better);
    const worse = member(3, 2, -1.2);
    expect(
      completeGeneration({
        gen: 5,
        config: cfg,
        population: 6,
        reports: [report(5)],
        champion: member(2, 0, -2),
        durationMs: 0,
        recheck: { candidate: worse, report: null },
      }).candidate,
    ).toMatchObject({ generation: 5, index: 1 });
  });

  it('rejects a lucky candidate: the champion stays, re-measured', () => {
    const r = recheckOf(8, champion, candidate, [-1.2, -1, -1.1], [-1.5, -1.3, -1.4]);
    const done = completeGeneration({
      gen: 8,
      config: cfg,
      population: 6,
      reports: [report(8)],
      champion,
      durationMs: 0,
      recheck: { candidate, report: r },
    });
    expect(done.champion).toEqual({ ...champion, recheckedFitness: (-1.2 - 1 - 1.1) / 3 });
    expect(done.champion?.chosenBy).toBe('batch');
    // Generation 8's best (−1) beats the re-checked −1.1: it is the next candidate.
    expect(done.candidate).toMatchObject({ generation: 8, index: 1, fitness: -1 });
    expect(done.record).toMatchObject({ testAccuracy: 0.42, bestEverFitness: -0.8, champion: done.champion });
  });

  it('accepts a truly better candidate', () => {
    const r = recheckOf(8, champion, candidate, [-1.2, -1, -1.1], [-0.9, -0.8, -1], 0.61);
    const done = completeGeneration({
      gen: 8,
      config: cfg,
      population: 6,
      reports: [report(8)],
      champion,
      durationMs: 0,
      recheck: { candidate, report: r },
    });
    expect(done.champion).toEqual({ ...candidate, chosenBy: 'recheck', recheckedFitness: -0.9 });
    // Generation 8's best (−1) does not beat the new champion's −0.9.
    expect(done.candidate).toBeNull();
    expect(done.record).toMatchObject({ testAccuracy: 0.61, bestEverFitness: -0.2 });
    // A tie keeps the champion; a failed champion loses to any finite candidate.
    const tie = recheckOf(8, champion, candidate, [-1, -1, -1], [-1, -1, -1]);
    expect(
      completeGeneration({
        gen: 8,
        config: cfg,
        population: 6,
        reports: [report(8)],
        champion,
        durationMs: 0,
        recheck: { candidate, report: tie },
      }).champion?.index,
    ).toBe(0);
    const failed = recheckOf(8, champion, candidate, [Number.NaN, -1, -1], [-3, -3, -3]);
    const replaced = completeGeneration({
      gen: 8,
      config: cfg,
      population: 6,
      reports: [report(8)],
      champion,
      durationMs: 0,
      recheck: { candidate, report: failed },
    });
    expect(replaced.champion).toMatchObject({ generation: 6, index: 3, chosenBy: 'recheck' });
  });

  it('re-measures the champion when no candidate is waiting', () => {
    const r = recheckOf(8, champion, null, [-0.5, -0.7, -0.6], []);
    const done = completeGeneration({
      gen: 8,
      config: cfg,
      population: 6,
      reports: [report(8)],
      champion,
      durationMs: 0,
      recheck: { candidate: null, report: r },
    });
    expect(done.champion).toEqual({ ...champion, recheckedFitness: -0.6 });
    expect(done.candidate).toBeNull(); // −1 does not beat −0.6
    expect(done.record.testAccuracy).toBe(0.42);
  });

  it('off (recheckEvery 0) is the best-ever rule, whatever the driver passes', () => {
    const off = { ...cfg, recheckEvery: 0 };
    const done = completeGeneration({
      gen: 8,
      config: off,
      population: 6,
      reports: [report(8)],
      champion,
      durationMs: 0,
      recheck: { candidate, report: null },
    });
    expect(done.champion).toBe(champion); // −1 does not beat −0.8
    expect(done.candidate).toBeNull();
    const worse = member(2, 0, -1.5);
    const replaced = completeGeneration({
      gen: 8,
      config: off,
      population: 6,
      reports: [report(8)],
      champion: worse,
      durationMs: 0,
      recheck: { candidate: null, report: null },
    });
    expect(replaced.champion).toEqual(
      completeGeneration({
        gen: 8,
        config: off,
        population: 6,
        reports: [report(8)],
        champion: worse,
        durationMs: 0,
      }).champion,
    );
    expect(replaced.champion).toMatchObject({
      generation: 8,
      index: 1,
      chosenBy: 'batch',
      recheckedFitness: null,
    });
    expect(replaced.record.testAccuracy).toBeNull();
  });

  it('refuses a missing, unexpected or mismatched re-check', () => {
    const r = recheckOf(8, champion, candidate, [-1, -1, -1], [-1, -1, -1]);
    const complete = (gen: number, rep: RecheckReport | null, cand: ChampionRecord | null = candidate) =>
      completeGeneration({
        gen,
        config: cfg,
        population: 6,
        reports: [report(gen)],
        champion,
        durationMs: 0,
        recheck: { candidate: cand, report: rep },
      });
    expect(() => complete(8, null)).toThrow(/generation 8 needs its re-check/);
    expect(() => complete(9, { ...r, gen: 9 })).toThrow(/generation 9 has no re-check/);
    expect(() => complete(8, r, null)).toThrow(/evaluated another candidate/);
    expect(() => complete(8, { ...r, champion: { generation: 2, index: 1 } })).toThrow(/another champion/);
    expect(() => complete(8, { ...r, shards: [...r.shards].reverse() })).toThrow(/used shards/);
  });

  it('the report schema checks one value per shard', () => {
    const r = recheckOf(8, champion, candidate, [-1, Number.NaN, -1], [-1, -1, -1]);
    expect(recheckReportSchema.safeParse(r).success).toBe(true);
    const issues = (x: unknown) =>
      recheckReportSchema.safeParse(x).error?.issues.map((i) => `${i.path.join('.')}: ${i.message}`) ?? [];
    expect(issues({ ...r, candidateFitness: [-1] })).toEqual(['candidateFitness: expected 3 values, got 1']);
    expect(issues({ ...r, candidate: null })).toEqual(['candidateFitness: expected 0 values, got 3']);
    expect(issues({ ...r, testAccuracy: 1.5 })[0]).toMatch(/^testAccuracy/);
    expect(issues({ ...r, shards: [] })[0]).toMatch(/^shards/);
    expect(issues({ ...r, championFitness: [-1, Infinity, -1] })).toEqual([
      'championFitness.1: expected a number or NaN, got Infinity',
    ]);
    expect(issues({ ...r, candidateFitness: [-1, null, -1] })[0]).toMatch(/^candidateFitness\.1/);
  });

  it('evaluateRecheck: each genome per shard, the rule, the winner on the test batch', () => {
    const params = breedingParams(cfg);
    let a = breedMember(params, 0, 0, 0, null, SMALL);
    let b = breedMember(params, 0, 1, 0, null, SMALL);
    for (let g = 1; g < 6; g++) {
      a = breedMember(params, g, 5, 0, a, SMALL);
      b = breedMember(params, g, 6, 0, b, SMALL);
    }
    const evaluator = new Evaluator();
    const spec = recheckSpec(cfg, 8, champion, candidate)!;
    const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;
    const per = (g: Genome) =>
      spec.shards.map((s) => mean(evaluator.evaluate(compile(g), smallShards[s], cfg.weights).fitness));
    const shardOf = (s: number) => smallShards[s];
    const r = evaluateRecheck(
      evaluator,
      spec,
      { champion: a, candidate: b },
      shardOf,
      smallTest,
      cfg.weights,
    );
    expect(recheckReportSchema.parse(r)).toEqual(r);
    expect(r.championFitness).toEqual(per(a));
    expect(r.candidateFitness).toEqual(per(b));
    expect(mean(per(a))).not.toBe(mean(per(b)));
    const winner = mean(per(b)) > mean(per(a)) ? b : a;
    expect(r.testAccuracy).toBe(ensembleAccuracy(compile(winner), smallTest, cfg.weights, evaluator));
    // Swapping the roles swaps the winner only through the rule.
    const swapped = evaluateRecheck(
      evaluator,
      spec,
      { champion: b, candidate: a },
      shardOf,
      smallTest,
      cfg.weights,
    );
    expect(swapped.championFitness).toEqual(per(b));
    const alone = evaluateRecheck(
      evaluator,
      { ...spec, candidate: null },
      { champion: a, candidate: null },
      shardOf,
      smallTest,
      cfg.weights,
    );
    expect(alone.candidateFitness).toEqual([]);
    expect(alone.testAccuracy).toBe(ensembleAccuracy(compile(a), smallTest, cfg.weights, evaluator));
  });

  it('end to end: records independent of slicing; the population the same as with the re-check off', () => {
    const on = config({ population: 30, seed: 11, tournamentSize: 8, recheckEvery: 3, recheckBatches: 4 });
    const a = run(on, 10, on.population, 0, true);
    expect(a.records.filter((r) => r.testAccuracy !== null).map((r) => r.gen)).toEqual([3, 6, 9]);
    for (const [size, scramble] of [
      [1, 5],
      [7, 9],
    ]) {
      expect(run(on, 10, size, scramble, true).records).toEqual(a.records);
    }
    const off = run({ ...on, recheckEvery: 0 }, 10, on.population, 0, true);
    const population = (r: GenerationRecord) => {
      const { champion: _c, bestEverFitness: _b, testAccuracy: _t, ...rest } = r;
      return rest;
    };
    expect(off.records.map(population)).toEqual(a.records.map(population));
    expect(off.records.every((r) => r.testAccuracy === null)).toBe(true);
    // With these fake scores the rule made a difference somewhere.
    expect(off.records.map((r) => r.champion)).not.toEqual(a.records.map((r) => r.champion));
  });
});

describe('sliceReportSchema', () => {
  const valid: SliceReport = {
    gen: 2,
    sliceStart: 10,
    sliceEnd: 12,
    weights: 2,
    fitness: [-1, Number.NaN, -2, -3],
    accuracy: [0.5, 0, 0.25, 1],
    connections: [4, 5],
    nodes: [270, 268],
    offsets: [8, 300, 650],
  };
  const reason = (r: unknown) => {
    const parsed = sliceReportSchema.safeParse(r);
    return parsed.success
      ? 'accepted'
      : parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
  };

  it('accepts a well-formed report (NaN fitness included)', () => {
    expect(reason(valid)).toBe('accepted');
  });

  it.each([
    ['a missing fitness value', { fitness: [-1, -2, -3] }, /fitness: expected 4 values, got 3/],
    ['an accuracy outside [0, 1]', { accuracy: [0.5, 0, 0.25, 1.5] }, /accuracy\.3/],
    [
      'an infinite fitness',
      { fitness: [-1, Number.NaN, -Infinity, -3] },
      /fitness\.2: expected a number or NaN/,
    ],
    [
      'a fitness that is not a number',
      { fitness: [-1, '2', -2, -3] },
      /fitness\.1: expected a number or NaN, got 2/,
    ],
    ['a NaN accuracy', { accuracy: [0.5, Number.NaN, 0.25, 1] }, /accuracy\.1/],
    ['a fractional connection count', { connections: [4, 5.5] }, /connections\.1: expected an integer ≥ 0/],
    ['a hidden node count of 0', { nodes: [0, 268] }, /nodes\.0: expected an integer ≥ 1/],
    ['a negative offset', { offsets: [-8, 300, 650] }, /offsets\.0/],
    ['fitness that is not an array', { fitness: 'lots' }, /fitness/],
    ['a connections count per member', { connections: [4] }, /connections: expected 2 values, got 1/],
    ['non-increasing offsets', { offsets: [8, 300, 300] }, /offsets\.2: offsets must increase/],
    ['one offset too few', { offsets: [8, 300] }, /offsets: expected 3 values, got 2/],
    ['an empty slice', { sliceEnd: 10 }, /sliceEnd must exceed sliceStart/],
    ['a fractional generation', { gen: 1.5 }, /gen/],
    ['an unknown field', { extra: 1 }, /extra|Unrecognized/],
  ])('rejects %s with a reason', (_, change, why) => {
    expect(reason({ ...valid, ...change })).toMatch(why);
  });
});

describe('packObjectives', () => {
  it('round-trips, NaN included', () => {
    const o: GenerationObjectives = {
      meanFitness: Float64Array.from([-1.5, Number.NaN, -2.25]),
      maxFitness: Float64Array.from([-1, Number.NaN, Number.NEGATIVE_INFINITY]),
      connections: Uint32Array.from([3, 0, 4_000_000]),
    };
    const packed = packObjectives(o);
    expect(packed.length).toBe(9);
    const back = unpackObjectives(packed);
    expect(back).toEqual(o);
    expect(Number.isNaN(back.meanFitness[1])).toBe(true);
    expect(back.connections).toBeInstanceOf(Uint32Array);
    expect(() => unpackObjectives(new Float64Array(4))).toThrow(/length 4/);
  });
});
