/**
 * Patience (src/wann/patience.ts): the pure stop rule, the config field that is absent when off,
 * and a tiny LocalSearch that stops early exactly where the rule says, on the trajectory it would
 * have had without patience.
 */
import { describe, expect, it } from 'vitest';
import { stream } from '../../src/random';
import { resolveConfig, searchConfigSchema } from '../../src/wann/config';
import { estimateRemaining, estimateWithEarlyEnd } from '../../src/wann/eta';
import { LocalSearch } from '../../src/wann/local-search';
import { Evaluator } from '../../src/wann/network';
import {
  championSince,
  championSinceInRecords,
  describeStop,
  earliestEnd,
  patienceStop,
  recordedStop,
} from '../../src/wann/patience';
import type { ChampionRecord, GenerationRecord } from '../../src/wann/record';
import type { Batch } from '../../src/wann/types';

const champ = (generation: number, index = 0): { champion: ChampionRecord; location: null } => ({
  champion: {
    generation,
    index,
    fitness: -1,
    accuracy: [],
    connections: 1,
    chosenBy: 'batch',
    recheckedFitness: null,
  },
  location: null,
});

/** The state after generation `completed − 1` with a champion crowned at `since`. */
const stateAfter = (completed: number, since: number) => ({
  generation: completed,
  champion: champ(since),
  championSince: since,
});

describe('patienceStop', () => {
  const off = { generations: 100, recheckEvery: 0 };

  it('never stops with patience 0 or absent', () => {
    expect(patienceStop(off, stateAfter(50, 0))).toBeNull();
    expect(patienceStop({ ...off, patience: 0 }, stateAfter(50, 0))).toBeNull();
  });

  it('re-check off: stops after the first generation `patience` on from the last new champion', () => {
    const c = { ...off, patience: 5 };
    // Generation 14 completed (state.generation 15), champion crowned at 10: 4 generations.
    expect(patienceStop(c, stateAfter(15, 10))).toBeNull();
    expect(patienceStop(c, stateAfter(16, 10))).toEqual({ reason: 'patience', generation: 15, patience: 5 });
    expect(describeStop({ reason: 'patience', generation: 15, patience: 5 })).toBe(
      'stopped at generation 15: no improvement for 5 generations',
    );
  });

  it('is no early stop at the budget’s last generation, nor before a champion or a generation', () => {
    const c = { ...off, patience: 1 };
    expect(patienceStop(c, stateAfter(100, 0))).toBeNull();
    expect(patienceStop(c, { generation: 3, champion: null })).toBeNull();
    expect(patienceStop(c, { generation: 0, champion: null })).toBeNull();
  });

  it('re-check on: decides only at check generations, so a short patience waits for the next check', () => {
    const c = { generations: 100, recheckEvery: 8, patience: 3 };
    for (let completed = 9; completed <= 16; completed++)
      expect(patienceStop(c, stateAfter(completed, 8)), `after ${completed - 1}`).toBeNull();
    expect(patienceStop(c, stateAfter(17, 8))?.generation).toBe(16);
    // A champion crowned at the check of generation 16 holds the run until the check of 24.
    expect(patienceStop(c, stateAfter(17, 16))).toBeNull();
    expect(patienceStop(c, stateAfter(25, 16))?.generation).toBe(24);
  });

  it('reads state from before patience existed by the champion’s own generation', () => {
    const old = { generation: 30, champion: champ(12) };
    expect(championSince(old)).toBe(12);
    expect(championSince({ ...old, championSince: 16 })).toBe(16);
    expect(championSince({ champion: null })).toBeNull();
    expect(patienceStop({ generations: 100, recheckEvery: 0, patience: 17 }, old)?.generation).toBe(29);
  });
});

describe('earliestEnd and recordedStop', () => {
  it('the ETA’s low end: the generations completed at the soonest stop, at most the budget', () => {
    const c = { generations: 100, recheckEvery: 0, patience: 10 };
    expect(earliestEnd({ ...c, patience: 0 }, 5, 0)).toBeNull();
    expect(earliestEnd(c, 5, 0)).toBe(11);
    expect(earliestEnd(c, 40, 0)).toBe(41);
    expect(earliestEnd(c, 95, 90)).toBe(100);
    // Re-check on: the next check generation at least 10 after the crowning at 8 is 24.
    expect(earliestEnd({ ...c, recheckEvery: 8 }, 9, 8)).toBe(25);
  });

  it('a completed run short of its budget with patience on stopped after its last generation', () => {
    const c = { generations: 100, patience: 10 };
    expect(recordedStop(c, 'completed', 37)).toEqual({ reason: 'patience', generation: 36, patience: 10 });
    expect(recordedStop(c, 'completed', 100)).toBeNull();
    expect(recordedStop(c, 'cancelled', 37)).toBeNull();
    expect(recordedStop(c, 'running', 37)).toBeNull();
    expect(recordedStop({ generations: 100 }, 'completed', 37)).toBeNull();
  });

  it('championSinceInRecords: the first of the consecutive records showing the last champion', () => {
    const r = (gen: number, g: number | null, index = 0) => ({
      gen,
      champion: g === null ? null : { generation: g, index },
    });
    expect(championSinceInRecords([])).toBeNull();
    expect(championSinceInRecords([r(0, null)])).toBeNull();
    expect(championSinceInRecords([r(0, 0), r(1, 0), r(2, 1), r(3, 1), r(4, 1)])).toBe(2);
    expect(championSinceInRecords([r(0, 0), r(1, 0, 1), r(2, 0, 1)])).toBe(1);
    // Records with a gap (a page of the latest ones): only the consecutive run counts.
    expect(championSinceInRecords([r(3, 1), r(7, 1), r(8, 1)])).toBe(7);
  });
});

describe('the ETA with patience', () => {
  // 100 generations of 1 s each so far, at a steady size.
  const history = Array.from({ length: 100 }, (_, gen) => ({ gen, durationMs: 1000, meanConnections: 200 }));

  it('keeps the budget as the high end and the likely value, and lowers the low end to the soonest stop', () => {
    const budget = estimateRemaining(history, 1000);
    const patient = estimateWithEarlyEnd(history, 1000, 150);
    expect(budget).not.toBeNull();
    expect(patient?.highS).toBe(budget?.highS);
    expect(patient?.midS).toBe(budget?.midS);
    // 50 generations of ~1 s: the soonest stop.
    expect(patient?.lowS).toBeLessThan(60);
    expect(patient?.lowS).toBeGreaterThan(40);
    expect(budget?.lowS).toBeGreaterThan(800);
  });

  it('is the budget’s estimate when patience is off or cannot end the run before the budget', () => {
    const budget = estimateRemaining(history, 1000);
    expect(estimateWithEarlyEnd(history, 1000, null)).toEqual(budget);
    expect(estimateWithEarlyEnd(history, 1000, 1000)).toEqual(budget);
  });
});

describe('the config field', () => {
  it('is absent from a resolved config when 0 or not given, and kept when positive', () => {
    expect(resolveConfig({}, () => 1)).not.toHaveProperty('patience');
    expect(resolveConfig({ patience: 0 }, () => 1)).toEqual(resolveConfig({}, () => 1));
    expect(resolveConfig({ patience: 40 }, () => 1).patience).toBe(40);
  });

  it('refuses a negative or fractional patience, naming the field', () => {
    for (const bad of [-1, 1.5, '3']) {
      const parsed = searchConfigSchema.safeParse({ patience: bad });
      expect(parsed.success).toBe(false);
      expect(parsed.error?.issues[0].path).toEqual(['patience']);
    }
  });
});

/** A 256-feature, 10-class batch where feature f leans towards class ⌊f·10/256⌋. */
function syntheticBatch(count: number, seed: number): Batch {
  const features = 256;
  const rng = stream(seed, 0, 'synthetic');
  const inputs = new Float32Array(features * count);
  const labels = new Uint8Array(count);
  for (let i = 0; i < count; i++) {
    const label = rng.int(10);
    labels[i] = label;
    for (let f = 0; f < features; f++) {
      const hot = Math.floor((f * 10) / features) === label;
      inputs[f * count + i] = (hot ? 0.6 : 0) + 0.4 * rng.float();
    }
  }
  return { count, features, inputs, labels };
}

describe('LocalSearch with patience', () => {
  const shards = [0, 1].map((s) => syntheticBatch(100, s));
  const test = syntheticBatch(100, 9);
  const evaluator = new Evaluator();

  function run(patience: number, recheckEvery: number, seed: number) {
    const config = resolveConfig(
      {
        population: 16,
        generations: 40,
        seed,
        tournamentSize: 4,
        trainShards: 2,
        recheckEvery,
        recheckBatches: 2,
        patience,
      },
      () => 0,
    );
    const search = new LocalSearch(config, (s) => shards[s], evaluator, test);
    const records: GenerationRecord[] = [];
    const since: (number | null)[] = [];
    while (search.generation < config.generations && !search.stop) {
      records.push(search.step());
      since.push(championSince(search.state));
    }
    return { records, since, stop: search.stop };
  }

  // Seeds whose runs crown new champions for a while, then stall.
  for (const [recheckEvery, seed] of [
    [0, 5],
    [4, 3],
  ]) {
    it(`stops early on the trajectory it has without patience (re-check every ${recheckEvery})`, () => {
      const full = run(0, recheckEvery, seed);
      expect(full.records).toHaveLength(40);
      expect(full.stop).toBeNull();
      const patient = run(3, recheckEvery, seed);
      const stop = patient.stop;
      expect(stop).not.toBeNull();
      expect(stop?.generation).toBeLessThan(39);
      expect(new Set(patient.since).size).toBeGreaterThan(1);
      // The same records as far as it went: patience ends a run, it never changes one.
      expect(patient.records).toEqual(full.records.slice(0, patient.records.length));
      expect(patient.records[patient.records.length - 1].gen).toBe(stop?.generation);
      // tell's championSince is what the records show, generation by generation…
      for (let i = 0; i < patient.records.length; i++)
        expect(patient.since[i]).toBe(championSinceInRecords(patient.records.slice(0, i + 1)));
      // …and the stop is the first generation the rule allows: no earlier one qualified.
      const g = stop?.generation ?? 0;
      const since = patient.since[patient.since.length - 1] ?? 0;
      expect(g - since).toBeGreaterThanOrEqual(3);
      if (recheckEvery > 0) expect(g % recheckEvery).toBe(0);
      for (let i = 0; i < patient.records.length - 1; i++) {
        const decides = recheckEvery === 0 || (i > 0 && i % recheckEvery === 0);
        if (decides) expect(i - (patient.since[i] ?? 0)).toBeLessThan(3);
      }
    });
  }
});
