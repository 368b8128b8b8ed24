import { describe, expect, it } from 'vitest';
import { stream } from '../../src/random';
import { MNIST_ACTIVATIONS } from '../../src/wann/activation-ids';
import { breedingSizes, rankOrder, tournament } from '../../src/wann/breeding';
import { resolveConfig, type SearchConfig, type SearchConfigInput } from '../../src/wann/config';
import {
  breedingParams,
  breedMember,
  completeGeneration,
  type GenerationObjectives,
  generationShard,
  objectivePair,
  packObjectives,
  planGeneration,
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
import { rankPopulation } from '../../src/wann/nsga2';
import { type ChampionRecord, type GenerationRecord, generationRecordSchema } from '../../src/wann/record';

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

/**
 * The contract driven in one thread on the small shape with fake scores, the population cut into
 * slices of `sliceSize` that are bred in a scrambled order and reported in another.
 */
function run(cfg: SearchConfig, generations: number, sliceSize = cfg.population, scramble = 0) {
  const params = breedingParams(cfg);
  let population: Genome[] = [];
  let objectives: GenerationObjectives | null = null;
  let champion: ChampionRecord | null = null;
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
    const done = completeGeneration(gen, cfg, cfg.population, reports, champion, 0);
    champion = done.champion;
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
    const done = completeGeneration(0, cfg, 6, [report(4, 6), report(0, 4)], null, 1234.4);
    expect(Array.from(done.objectives.meanFitness)).toEqual([-2, -1, -2, -1, Number.NaN, -3]);
    expect(Array.from(done.objectives.maxFitness)).toEqual([-2, -0.5, -1, -0.5, Number.NaN, -2]);
    expect(Array.from(done.objectives.connections)).toEqual(connections);
    const champion = { generation: 0, index: 1, fitness: -1, accuracy: [0.1, 0.2, 0.3], connections: 7 };
    expect(done.champion).toEqual(champion);
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
    });
    expect(generationRecordSchema.parse(JSON.parse(JSON.stringify(done.record)))).toEqual(done.record);
  });

  it('takes the median of an even count as the mean of the middle two', () => {
    // Means −2 −1 −2 −1 −1.5 −3, sorted −3 −2 −2 −1.5 −1 −1.
    const even = fitness.map((f, j) => (j === 4 ? [-1.5, -1.5, -1.5] : f));
    const r: SliceReport = { ...report(0, 6), fitness: even.flat() };
    expect(completeGeneration(0, cfg, 6, [r], null, 0).record.fitnessMedian).toBe(-1.75);
  });

  it('replaces the champion only with a strictly better mean fitness', () => {
    const older: ChampionRecord = {
      generation: 3,
      index: 2,
      fitness: -1,
      accuracy: [1, 1, 1],
      connections: 1,
    };
    const tie = completeGeneration(4, cfg, 6, [report(0, 6, 4)], older, 0);
    expect(tie.champion).toBe(older);
    expect(tie.record.champion).toEqual(older);
    expect(tie.record.bestEverFitness).toBe(-1);
    // This generation's best is still reported, by index.
    expect(tie.record.championConnections).toBe(7);
    const better = completeGeneration(4, cfg, 6, [report(0, 6, 4)], { ...older, fitness: -1.5 }, 0);
    expect(better.champion).toMatchObject({ generation: 4, index: 1, fitness: -1 });
    const worse = completeGeneration(4, cfg, 6, [report(0, 6, 4)], { ...older, fitness: -0.5 }, 0);
    expect(worse.champion?.fitness).toBe(-0.5);
  });

  it('never crowns a failed evaluation, and survives a generation where all failed', () => {
    // Member 4: far the best at two weights, NaN at the third.
    const huge: SliceReport = {
      ...report(0, 6),
      fitness: fitness.flatMap((f, j) => (j === 4 ? [100, Number.NaN, 100] : f)),
    };
    expect(completeGeneration(0, cfg, 6, [huge], null, 0).champion?.index).toBe(1);

    const failed: SliceReport = { ...report(0, 6), fitness: fitness.flat().map(() => Number.NaN) };
    const done = completeGeneration(0, cfg, 6, [failed], null, 0);
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
    expect(() => completeGeneration(0, cfg, 6, [report(0, 4)], null, 0)).toThrow(/member 4 has no report/);
    expect(() => completeGeneration(0, cfg, 6, [report(0, 4), report(3, 6)], null, 0)).toThrow(
      /member 3 reported twice/,
    );
    expect(() => completeGeneration(1, cfg, 6, [report(0, 6)], null, 0)).toThrow(/report of generation 0/);
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
