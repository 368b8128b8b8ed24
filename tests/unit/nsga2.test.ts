import { describe, expect, it } from 'vitest';
import { stream } from '../../src/random';
import { crowdingDistances, nonDominatedFronts, rankPopulation } from '../../src/wann/nsga2';

const INF = Number.POSITIVE_INFINITY;

/** Points as rows → objectives as columns (the API takes one array per objective). */
function columns(points: number[][]): number[][] {
  return points[0].map((_, k) => points.map((p) => p[k]));
}

function dominates(a: number[], b: number[]): boolean {
  const fix = (v: number) => (Number.isNaN(v) ? -INF : v);
  let better = false;
  for (let k = 0; k < a.length; k++) {
    if (fix(a[k]) < fix(b[k])) return false;
    if (fix(a[k]) > fix(b[k])) better = true;
  }
  return better;
}

describe('non-dominated fronts', () => {
  it('sorts hand-made points into their known fronts', () => {
    const points = [
      [1, 5], // 0 A
      [2, 4], // 1 B
      [3, 3], // 2 C
      [1, 1], // 3 D: dominated by E
      [2, 2], // 4 E: dominated by B and C
      [0, 0], // 5 F: dominated by everyone
      [3, 3], // 6 G: equal to C, so neither dominates the other
    ];
    expect(nonDominatedFronts(columns(points))).toEqual([[0, 1, 2, 6], [4], [3], [5]]);
  });

  it('accepts Float64Array objectives and checks their lengths', () => {
    expect(nonDominatedFronts([Float64Array.of(1, 2), Float64Array.of(2, 1)])).toEqual([[0, 1]]);
    expect(() => nonDominatedFronts([[1, 2], [1]])).toThrow(/objective 1/);
    expect(() => nonDominatedFronts([])).toThrow();
  });
});

describe('crowding distance', () => {
  it('normalises by each objective range and gives boundaries Infinity', () => {
    // obj0 range 4: interior gaps 3/4, 3/4; obj1 range 10: (10-3)/10, (6-0)/10.
    const obj = columns([
      [0, 10],
      [1, 6],
      [3, 3],
      [4, 0],
    ]);
    const d = crowdingDistances(obj, [0, 1, 2, 3]);
    expect(d[0]).toBe(INF);
    expect(d[3]).toBe(INF);
    expect(d[1]).toBeCloseTo(0.75 + 0.7, 12);
    expect(d[2]).toBeCloseTo(0.75 + 0.6, 12);
  });

  it('lets a flat objective contribute nothing, not even boundary Infinity', () => {
    // Objective 0 is equal on the whole front; with index tie-breaks a "boundary" would land on 0.
    const obj = columns([
      [1, 1, 1],
      [1, 0, 2],
      [1, 2, 0],
    ]);
    expect([...crowdingDistances(obj, [0, 1, 2])]).toEqual([2, INF, INF]);
    const flat = columns([
      [5, 5],
      [5, 5],
      [5, 5],
    ]);
    expect([...crowdingDistances(flat, [0, 1, 2])]).toEqual([0, 0, 0]);
    expect([...crowdingDistances(flat, [1])]).toEqual([0]);
  });

  it('only looks at the front it is given', () => {
    const obj = columns([
      [0, 10],
      [100, 100], // not in the front: must not widen the range
      [1, 6],
      [3, 3],
      [4, 0],
    ]);
    const d = crowdingDistances(obj, [0, 2, 3, 4]);
    expect(d[1]).toBeCloseTo(1.45, 12);
    expect(d[2]).toBeCloseTo(1.35, 12);
  });
});

describe('rankPopulation', () => {
  it('orders by front, then crowding descending, then index', () => {
    const points = [
      [1, 5],
      [2, 4],
      [3, 3],
      [1, 1],
      [2, 2],
      [0, 0],
      [3, 3],
    ];
    // Front 0 crowding: 0 → ∞, 1 → 1 + 1 = 2, 2 → ∞, 6 → ∞ (C and G tie; index decides).
    const r = rankPopulation(columns(points));
    expect([...r.order]).toEqual([0, 2, 6, 1, 4, 3, 5]);
    expect([...r.rank]).toEqual([0, 3, 1, 5, 4, 6, 2]);
    expect([...r.front]).toEqual([0, 0, 0, 2, 1, 3, 0]);
    expect(r.crowding[1]).toBeCloseTo(2, 12);
  });

  it('ranks an all-equal population by index', () => {
    const r = rankPopulation([
      [7, 7, 7, 7],
      [1, 1, 1, 1],
    ]);
    expect([...r.order]).toEqual([0, 1, 2, 3]);
    expect([...r.front]).toEqual([0, 0, 0, 0]);
  });

  it('reads NaN as −Infinity so it never ranks well', () => {
    const withNaN = rankPopulation([
      [Number.NaN, 1, 0.5, Number.NaN],
      [Number.NaN, 1, 0.5, 2],
    ]);
    const withInf = rankPopulation([
      [-INF, 1, 0.5, -INF],
      [-INF, 1, 0.5, 2],
    ]);
    expect([...withNaN.order]).toEqual([...withInf.order]);
    expect([...withNaN.front]).toEqual([...withInf.front]);
    expect(withNaN.order[withNaN.order.length - 1]).toBe(0); // NaN everywhere: worst
    expect(withNaN.rank[1]).toBe(0);
    for (const c of withNaN.crowding) expect(Number.isNaN(c)).toBe(false);
  });

  it('satisfies the NSGA-II invariants on random populations', () => {
    for (let t = 0; t < 20; t++) {
      const rng = stream(99, t, 'test');
      const n = 40 + rng.int(80);
      const m = 2 + rng.int(2);
      // Coarse values so there are many ties and equal points.
      const points = Array.from({ length: n }, () =>
        Array.from({ length: m }, () => (rng.chance(0.05) ? Number.NaN : rng.int(12))),
      );
      const r = rankPopulation(columns(points));
      expect([...r.order].sort((a, b) => a - b)).toEqual(Array.from({ length: n }, (_, i) => i));
      for (let i = 0; i < n; i++) {
        expect(r.order[r.rank[i]]).toBe(i);
        for (let j = 0; j < n; j++) {
          if (dominates(points[i], points[j])) {
            expect(r.front[i]).toBeLessThan(r.front[j]);
            expect(r.rank[i]).toBeLessThan(r.rank[j]);
          }
        }
        // Someone in the previous front dominates every member of a later front.
        if (r.front[i] > 0) {
          const prev = [...r.order].filter((j) => r.front[j] === r.front[i] - 1);
          expect(prev.some((j) => dominates(points[j], points[i]))).toBe(true);
        }
      }
      for (let k = 1; k < n; k++) {
        const a = r.order[k - 1];
        const b = r.order[k];
        expect(r.front[a]).toBeLessThanOrEqual(r.front[b]);
        if (r.front[a] === r.front[b]) {
          expect(r.crowding[a]).toBeGreaterThanOrEqual(r.crowding[b]);
          if (r.crowding[a] === r.crowding[b]) expect(a).toBeLessThan(b);
        }
      }
    }
  });

  it('ranks a population of 960 quickly', () => {
    const rng = stream(5, 0, 'test');
    const mean = Float64Array.from({ length: 960 }, () => -2.3 + rng.float());
    const conns = Float64Array.from({ length: 960 }, () => 1 / (1 + rng.int(2000)));
    const t0 = performance.now();
    const r = rankPopulation([mean, conns]);
    const ms = performance.now() - t0;
    expect(r.order.length).toBe(960);
    expect(ms).toBeLessThan(500);
  });
});
