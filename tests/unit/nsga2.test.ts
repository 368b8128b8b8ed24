import { describe, expect, it } from 'vitest';
import { type Rng, stream } from '../../src/random';
import {
  crowdingDistances,
  nonDominatedFronts,
  nonDominatedFrontsPairwise,
  type Objectives,
  type Ranking,
  rankPopulation,
} from '../../src/wann/nsga2';

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

  it("with the reference's rule scales gaps by |1/max − min| and keeps boundaries Infinity on a flat objective", () => {
    const obj = columns([
      [0, 10],
      [1, 6],
      [3, 3],
      [4, 0],
    ]);
    const d = crowdingDistances(obj, [0, 1, 2, 3], 'reference');
    // obj0: max 4, min 0 → scale |1/4 − 0| = 0.25; obj1: max 10, min 0 → 0.1.
    expect(d[0]).toBe(INF);
    expect(d[3]).toBe(INF);
    expect(d[1]).toBeCloseTo(3 * 0.25 + 7 * 0.1, 12);
    expect(d[2]).toBeCloseTo(3 * 0.25 + 6 * 0.1, 12);
    // Negative fitness and 1/connections, as the search ranks them: the scales differ from 1/range.
    const search = columns([
      [-2, 0.01],
      [-1.5, 0.005],
      [-1.2, 0.004],
      [-1, 0.002],
    ]);
    const r = crowdingDistances(search, [0, 1, 2, 3], 'reference');
    const s0 = Math.abs(1 / -1 - -2); // 1
    const s1 = Math.abs(1 / 0.01 - 0.002); // 99.998
    expect(r[1]).toBeCloseTo(0.8 * s0 + 0.006 * s1, 10);
    expect(r[2]).toBeCloseTo(0.5 * s0 + 0.003 * s1, 10);
    const t = crowdingDistances(search, [0, 1, 2, 3]);
    expect(t[1]).toBeCloseTo(0.8 / 1 + 0.006 / 0.008, 12);
    // A flat objective: the reference still marks both ends.
    const flat = columns([
      [5, 1],
      [5, 2],
      [5, 3],
    ]);
    expect([...crowdingDistances(flat, [0, 1, 2], 'reference')]).toEqual([INF, 2 * Math.abs(1 / 3 - 1), INF]);
    expect(rankPopulation(search, 'reference').order.length).toBe(4);
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

  it('ranks a population of 10,000 (its cost is measured by npm run bench:generation, not here)', () => {
    const rng = stream(5, 0, 'test');
    const mean = Float64Array.from({ length: 10_000 }, () => -2.3 + rng.float());
    const conns = Float64Array.from({ length: 10_000 }, () => 1 / (1 + rng.int(2000)));
    const r = rankPopulation([mean, conns]);
    expect(r.order.length).toBe(10_000);
    expect([...r.rank].sort((a, b) => a - b)).toEqual(Array.from({ length: 10_000 }, (_, i) => i));
    expect(r.front[r.order[0]]).toBe(0);
  });
});

/** One value drawn the way `kind` says: spread floats, a handful of tied values, or special values. */
type Kind = 'float' | 'ties' | 'special' | 'correlated' | 'anticorrelated';
const SPECIAL = [Number.NaN, -INF, INF, 0, -0, 1, 2, -1];

/** Two objective columns of n points whose values follow `kind`. */
function twoObjectives(rng: Rng, n: number, kind: Kind): Float64Array[] {
  const f0 = new Float64Array(n);
  const f1 = new Float64Array(n);
  const levels = 2 + rng.int(4); // a handful of values: heavy ties and many identical points
  for (let i = 0; i < n; i++) {
    switch (kind) {
      case 'float':
        f0[i] = rng.float();
        f1[i] = rng.float();
        break;
      case 'ties':
        f0[i] = rng.int(levels);
        f1[i] = rng.int(levels);
        break;
      case 'special':
        f0[i] = rng.chance(0.5) ? SPECIAL[rng.int(SPECIAL.length)] : rng.int(levels);
        f1[i] = rng.chance(0.5) ? SPECIAL[rng.int(SPECIAL.length)] : rng.int(levels);
        break;
      case 'correlated': {
        // Long dominance chains: many fronts, so the binary search goes deep.
        const x = rng.int(1000);
        f0[i] = x + rng.int(30);
        f1[i] = x + rng.int(30);
        break;
      }
      case 'anticorrelated': {
        // Nearly everything on a few wide fronts.
        const x = rng.int(1000);
        f0[i] = x + rng.int(3);
        f1[i] = -x + rng.int(3);
        break;
      }
    }
  }
  return [f0, f1];
}

/** The original crowding distance, written out independently of the production code. */
function referenceCrowding(obj: Objectives, front: readonly number[]): number[] {
  const fix = (v: number) => (Number.isNaN(v) ? -INF : v);
  const size = front.length;
  const dist = new Array<number>(size).fill(0);
  const pos = Array.from({ length: size }, (_, j) => j);
  for (const column of obj) {
    const values = (i: number) => fix(column[i]);
    pos.sort((a, b) => {
      const va = values(front[a]);
      const vb = values(front[b]);
      return va < vb ? -1 : va > vb ? 1 : front[a] - front[b];
    });
    const lo = values(front[pos[0]]);
    const hi = values(front[pos[size - 1]]);
    if (!(hi > lo)) continue;
    const range = hi - lo;
    dist[pos[0]] = INF;
    dist[pos[size - 1]] = INF;
    for (let j = 1; j < size - 1; j++) {
      const gap = (values(front[pos[j + 1]]) - values(front[pos[j - 1]])) / range;
      if (!Number.isNaN(gap)) dist[pos[j]] += gap;
    }
  }
  return dist;
}

/** rankPopulation as originally specified, built on the pairwise fronts and the reference crowding. */
function referenceRanking(obj: Objectives): Ranking {
  const n = obj[0].length;
  const front = new Int32Array(n);
  const crowding = new Float64Array(n);
  const order: number[] = [];
  nonDominatedFrontsPairwise(obj).forEach((members, f) => {
    const dist = referenceCrowding(obj, members);
    members.forEach((i, j) => {
      front[i] = f;
      crowding[i] = dist[j];
    });
    order.push(
      ...[...members].sort((a, b) =>
        crowding[a] > crowding[b] ? -1 : crowding[a] < crowding[b] ? 1 : a - b,
      ),
    );
  });
  const rank = new Int32Array(n);
  order.forEach((i, r) => {
    rank[i] = r;
  });
  return { order: Int32Array.from(order), rank, front, crowding };
}

function expectSameRanking(actual: Ranking, expected: Ranking): void {
  expect([...actual.order]).toEqual([...expected.order]);
  expect([...actual.rank]).toEqual([...expected.rank]);
  expect([...actual.front]).toEqual([...expected.front]);
  // Bit for bit: the same floating-point sums in the same order.
  expect([...actual.crowding]).toEqual([...expected.crowding]);
}

describe('two-objective fast sort', () => {
  const kinds: Kind[] = ['float', 'ties', 'special', 'correlated', 'anticorrelated'];

  it('gives exactly the pairwise fronts and ranking for many seeds, sizes and kinds of values', () => {
    const sizes = [0, 1, 2, 3, 4, 5, 7, 10, 16, 33, 64, 150, 400];
    for (const kind of kinds) {
      for (const n of sizes) {
        for (let t = 0; t < 12; t++) {
          const rng = stream(2024, n * 100 + t, `test-${kind}`);
          const obj = twoObjectives(rng, n, kind);
          expect(nonDominatedFronts(obj)).toEqual(nonDominatedFrontsPairwise(obj));
          expectSameRanking(rankPopulation(obj), referenceRanking(obj));
        }
      }
    }
  });

  it('gives exactly the pairwise fronts and ranking at n = 2,000', () => {
    for (const kind of kinds) {
      const rng = stream(7, 2000, `test-${kind}`);
      const obj = twoObjectives(rng, 2000, kind);
      expect(nonDominatedFronts(obj)).toEqual(nonDominatedFrontsPairwise(obj));
      expectSameRanking(rankPopulation(obj), referenceRanking(obj));
    }
  });

  it('handles identical points, ties and special values as the pairwise sort does', () => {
    const cases: number[][][] = [
      [[5, 5]],
      [
        [1, 1],
        [1, 1],
      ],
      [
        [1, 2],
        [1, 1],
      ],
      [
        [2, 1],
        [1, 1],
        [1, 1],
        [2, 1],
      ],
      [
        [Number.NaN, 0],
        [-INF, 0],
        [-INF, -INF],
        [Number.NaN, Number.NaN],
        [INF, -INF],
        [-INF, INF],
        [INF, INF],
        [INF, INF],
        [0, -0],
        [-0, 0],
      ],
      // A staircase with repeats: one point per front.
      Array.from({ length: 12 }, (_, i) => [i >> 1, i >> 1]),
    ];
    for (const points of cases) {
      const obj = columns(points);
      expect(nonDominatedFronts(obj)).toEqual(nonDominatedFrontsPairwise(obj));
      expectSameRanking(rankPopulation(obj), referenceRanking(obj));
    }
    expect(nonDominatedFronts(columns(cases[3]))).toEqual([
      [0, 3],
      [1, 2],
    ]);
  });

  it('keeps other numbers of objectives on the pairwise sort, with the same ranking', () => {
    for (let t = 0; t < 20; t++) {
      const rng = stream(31, t, 'test');
      const m = t % 2 === 0 ? 1 : 3;
      const n = 1 + rng.int(60);
      const obj = Array.from({ length: m }, () =>
        Float64Array.from({ length: n }, () =>
          rng.chance(0.1) ? SPECIAL[rng.int(SPECIAL.length)] : rng.int(4),
        ),
      );
      expect(nonDominatedFronts(obj)).toEqual(nonDominatedFrontsPairwise(obj));
      expectSameRanking(rankPopulation(obj), referenceRanking(obj));
    }
  });

  it('gives crowding distances equal to the reference for arbitrary fronts', () => {
    for (let t = 0; t < 30; t++) {
      const rng = stream(12, t, 'test');
      const n = 1 + rng.int(50);
      const obj = twoObjectives(rng, n, t % 2 === 0 ? 'special' : 'float');
      const front = Array.from({ length: n }, (_, i) => i).filter(() => rng.chance(0.6));
      // Any order, not just ascending: crowdingDistances takes whatever front it is given.
      for (let j = front.length - 1; j > 0; j--) {
        const k = rng.int(j + 1);
        [front[j], front[k]] = [front[k], front[j]];
      }
      expect([...crowdingDistances(obj, front)]).toEqual(referenceCrowding(obj, front));
    }
  });
});
