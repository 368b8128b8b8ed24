/**
 * NSGA-II ranking (Deb et al. 2002), maximising every objective: fast non-dominated sort into fronts,
 * then crowding distance inside each front. Objectives are given one array per objective, each as
 * long as the population (`objectives[k][i]` is objective k of individual i).
 *
 * NaN is read as −Infinity everywhere, so a failed evaluation can never dominate or look better than
 * a real value. All ties are broken by index, so the ranking is a pure function of the values.
 */

export type Objectives = readonly ArrayLike<number>[];

export interface Ranking {
  /** Individual indices, best first: by front ascending, then crowding distance descending, then index. */
  order: Int32Array;
  /** rank[i] = position of individual i in `order` (0 is best). */
  rank: Int32Array;
  /** front[i] = index of individual i's non-dominated front (0 is the Pareto front). */
  front: Int32Array;
  /** crowding[i] = crowding distance of individual i within its front. */
  crowding: Float64Array;
}

/** Copies into Float64Arrays with NaN → −Infinity, after checking the shape. */
function sanitize(objectives: Objectives): Float64Array[] {
  if (objectives.length === 0) throw new RangeError('NSGA-II needs at least one objective');
  const n = objectives[0].length;
  return objectives.map((values, k) => {
    if (values.length !== n) {
      throw new RangeError(`objective ${k} has ${values.length} values, objective 0 has ${n}`);
    }
    const out = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      const v = values[i];
      out[i] = Number.isNaN(v) ? Number.NEGATIVE_INFINITY : v;
    }
    return out;
  });
}

function fronts(obj: Float64Array[]): number[][] {
  const n = obj[0].length;
  const m = obj.length;
  const dominated: number[][] = Array.from({ length: n }, () => []);
  const dominators = new Int32Array(n);
  // Each pair is compared once: p dominates q iff p ≥ q everywhere and p > q somewhere.
  for (let p = 0; p < n; p++) {
    for (let q = p + 1; q < n; q++) {
      let pBetter = false;
      let qBetter = false;
      for (let k = 0; k < m; k++) {
        const a = obj[k][p];
        const b = obj[k][q];
        if (a > b) pBetter = true;
        else if (b > a) qBetter = true;
      }
      if (pBetter && !qBetter) {
        dominated[p].push(q);
        dominators[q]++;
      } else if (qBetter && !pBetter) {
        dominated[q].push(p);
        dominators[p]++;
      }
    }
  }
  const result: number[][] = [];
  let current: number[] = [];
  for (let i = 0; i < n; i++) if (dominators[i] === 0) current.push(i);
  while (current.length > 0) {
    result.push(current);
    const next: number[] = [];
    for (const p of current) {
      for (const q of dominated[p]) if (--dominators[q] === 0) next.push(q);
    }
    next.sort((a, b) => a - b);
    current = next;
  }
  return result;
}

function crowding(obj: Float64Array[], front: readonly number[]): Float64Array {
  const size = front.length;
  const dist = new Float64Array(size);
  const pos = Array.from({ length: size }, (_, j) => j);
  for (const values of obj) {
    pos.sort((a, b) => {
      const va = values[front[a]];
      const vb = values[front[b]];
      return va < vb ? -1 : va > vb ? 1 : front[a] - front[b];
    });
    const lo = values[front[pos[0]]];
    const hi = values[front[pos[size - 1]]];
    // A flat objective says nothing about spread; its "boundary" would only be an index artefact.
    if (!(hi > lo)) continue;
    const range = hi - lo;
    dist[pos[0]] = Number.POSITIVE_INFINITY;
    dist[pos[size - 1]] = Number.POSITIVE_INFINITY;
    for (let j = 1; j < size - 1; j++) {
      const gap = (values[front[pos[j + 1]]] - values[front[pos[j - 1]]]) / range;
      // Infinite values give ∞/∞ = NaN; count it as no spread rather than poison the sort.
      if (!Number.isNaN(gap)) dist[pos[j]] += gap;
    }
  }
  return dist;
}

/** Non-dominated fronts, best first; each front lists individual indices in ascending order. */
export function nonDominatedFronts(objectives: Objectives): number[][] {
  return fronts(sanitize(objectives));
}

/**
 * Crowding distance of each member of `front` (aligned with it), with the textbook normalisation:
 * per objective, the neighbours' gap divided by that front's (max − min), the two boundary members
 * get Infinity. An objective whose values are all equal on this front contributes 0 to every member
 * (boundaries included).
 */
export function crowdingDistances(objectives: Objectives, front: readonly number[]): Float64Array {
  return crowding(sanitize(objectives), front);
}

/** NSGA-II ranking: rank = position when sorted by (front asc, crowding desc, index asc). */
export function rankPopulation(objectives: Objectives): Ranking {
  const obj = sanitize(objectives);
  const n = obj[0].length;
  const front = new Int32Array(n);
  const crowd = new Float64Array(n);
  const order = new Int32Array(n);
  let at = 0;
  fronts(obj).forEach((members, f) => {
    const dist = crowding(obj, members);
    const pos = Array.from({ length: members.length }, (_, j) => j);
    // Members are in ascending index order, so equal distances keep index order.
    pos.sort((a, b) => (dist[a] > dist[b] ? -1 : dist[a] < dist[b] ? 1 : members[a] - members[b]));
    for (const j of pos) {
      front[members[j]] = f;
      crowd[members[j]] = dist[j];
      order[at++] = members[j];
    }
  });
  const rank = new Int32Array(n);
  for (let r = 0; r < n; r++) rank[order[r]] = r;
  return { order, rank, front, crowding: crowd };
}
