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
  return obj.length === 2 ? fronts2(obj[0], obj[1]) : frontsPairwise(obj);
}

/**
 * Deb's pairwise sort, any number of objectives: O(m·n²) time and O(n²) memory for the `dominated`
 * lists. The reference for the two-objective sort below, and the sort for m ≠ 2.
 */
function frontsPairwise(obj: Float64Array[]): number[][] {
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

/**
 * The same fronts as `frontsPairwise` for exactly two objectives, in O(n log n) time and O(n) memory.
 *
 * The pairwise sort puts p in front 0 if nothing dominates it, else in 1 + the highest front of its
 * dominators. Points are visited by (f0 desc, f1 desc, index asc), so every dominator of p is visited
 * before p. Inside a front no member dominates another, so along the visit order f0 never rises and
 * f1 never falls (members with equal f0 are identical points); the member visited last, L, therefore
 * has the largest f1 and the smallest f0 so far, and every member visited so far has f0 ≥ p's.
 * So some member q dominates p iff L does: q1 ≥ p1 gives L1 ≥ p1 and L0 ≥ p0, and if L equalled p
 * in both, q (≥ in both, > in one) would dominate L, its own front-mate. "Front k dominates p" is
 * monotone in k (a dominator in front k + 1 is itself dominated by, and visited after, a member of
 * front k), so p's front is the first front whose last member does not dominate it: a binary search.
 */
function fronts2(f0: Float64Array, f1: Float64Array): number[][] {
  const n = f0.length;
  const visit = new Int32Array(n);
  for (let i = 0; i < n; i++) visit[i] = i;
  // No NaN remains after sanitize, so these comparisons are a total order (with −0 equal to 0).
  visit.sort((a, b) => {
    const a0 = f0[a];
    const b0 = f0[b];
    if (a0 !== b0) return a0 > b0 ? -1 : 1;
    const a1 = f1[a];
    const b1 = f1[b];
    if (a1 !== b1) return a1 > b1 ? -1 : 1;
    return a - b;
  });
  const frontOf = new Int32Array(n);
  const last = new Int32Array(n); // last[k] = the member of front k visited last
  let count = 0;
  for (let v = 0; v < n; v++) {
    const p = visit[v];
    const p0 = f0[p];
    const p1 = f1[p];
    // Smallest k in [0, count) whose last member does not dominate p; count if all of them do.
    let lo = 0;
    let hi = count;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const q = last[mid];
      const q0 = f0[q];
      const q1 = f1[q];
      if (q0 >= p0 && q1 >= p1 && (q0 > p0 || q1 > p1)) lo = mid + 1;
      else hi = mid;
    }
    if (lo === count) count++;
    frontOf[p] = lo;
    last[lo] = p;
  }
  // Bucket by front in index order, so every front lists its members ascending, as the pairwise sort does.
  const result: number[][] = Array.from({ length: count }, () => []);
  for (let i = 0; i < n; i++) result[frontOf[i]].push(i);
  return result;
}

/**
 * How crowding gaps are scaled: 'textbook' divides each objective's gap by its range in the front
 * (Deb et al.); 'reference' multiplies it by |1/max − min|, what the WANN reference's
 * `crowd *= abs((1/sortedObj[-1]-sortedObj[0]))` computes (operator precedence), with both ends
 * infinite even when the objective is flat. Only for ablations (bench/ablation.ts).
 */
export type CrowdingRule = 'textbook' | 'reference';

function crowding(
  obj: Float64Array[],
  front: readonly number[],
  rule: CrowdingRule = 'textbook',
): Float64Array {
  const size = front.length;
  const dist = new Float64Array(size);
  if (size === 0) return dist;
  const pos = new Int32Array(size);
  for (let j = 0; j < size; j++) pos[j] = j;
  // This objective's values aligned with `front`, so the sort reads them without a double lookup.
  const v = new Float64Array(size);
  for (const values of obj) {
    for (let j = 0; j < size; j++) v[j] = values[front[j]];
    pos.sort((a, b) => {
      const va = v[a];
      const vb = v[b];
      return va < vb ? -1 : va > vb ? 1 : front[a] - front[b];
    });
    const lo = v[pos[0]];
    const hi = v[pos[size - 1]];
    // A flat objective says nothing about spread; its "boundary" would only be an index artefact
    // (the reference marks its ends all the same).
    const flat = !(hi > lo);
    if (flat && rule === 'textbook') continue;
    dist[pos[0]] = Number.POSITIVE_INFINITY;
    dist[pos[size - 1]] = Number.POSITIVE_INFINITY;
    if (flat) continue;
    const range = hi - lo;
    const scale = Math.abs(1 / hi - lo);
    for (let j = 1; j < size - 1; j++) {
      const diff = v[pos[j + 1]] - v[pos[j - 1]];
      const gap = rule === 'reference' ? diff * scale : diff / range;
      // Infinite values give ∞/∞ = NaN; count it as no spread rather than poison the sort.
      if (!Number.isNaN(gap)) dist[pos[j]] += gap;
    }
  }
  return dist;
}

/**
 * Non-dominated fronts, best first; each front lists individual indices in ascending order.
 * O(n log n) for two objectives, O(m·n²) otherwise.
 */
export function nonDominatedFronts(objectives: Objectives): number[][] {
  return fronts(sanitize(objectives));
}

/**
 * The same fronts by the O(m·n²) pairwise comparison, whatever the number of objectives: the
 * reference the fast two-objective sort is tested against. Not for production use at large n.
 */
export function nonDominatedFrontsPairwise(objectives: Objectives): number[][] {
  return frontsPairwise(sanitize(objectives));
}

/**
 * Crowding distance of each member of `front` (aligned with it), with the textbook normalisation:
 * per objective, the neighbours' gap divided by that front's (max − min), the two boundary members
 * get Infinity. An objective whose values are all equal on this front contributes 0 to every member
 * (boundaries included).
 */
export function crowdingDistances(
  objectives: Objectives,
  front: readonly number[],
  rule: CrowdingRule = 'textbook',
): Float64Array {
  return crowding(sanitize(objectives), front, rule);
}

/** NSGA-II ranking: rank = position when sorted by (front asc, crowding desc, index asc). */
export function rankPopulation(objectives: Objectives, rule: CrowdingRule = 'textbook'): Ranking {
  const obj = sanitize(objectives);
  const n = obj[0].length;
  const front = new Int32Array(n);
  const crowd = new Float64Array(n);
  const order = new Int32Array(n);
  let at = 0;
  fronts(obj).forEach((members, f) => {
    const dist = crowding(obj, members, rule);
    const pos = new Int32Array(members.length);
    for (let j = 0; j < pos.length; j++) pos[j] = j;
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
