/**
 * One slice of a generation, assembled and evaluated: each member bred from its parent
 * (`breedMember`), the slice encoded as a population blob, the members scored on the generation's
 * batch (`evaluateMembers`). Written once here; the evaluator Worker, LocalSearch and the Node pool's
 * worker threads differ only in where parents and batches come from.
 */
import { type BreedingParams, breedMember, evaluateMembers, type SliceReport } from './generation';
import { encodePopulation, type Genome, populationOffsets } from './genome';
import type { Evaluator } from './network';
import type { Batch } from './types';

/** Which members to build and how (a slice task carries exactly these fields). */
export interface SliceWork {
  gen: number;
  /** Members [sliceStart, sliceEnd) of generation `gen`. */
  sliceStart: number;
  sliceEnd: number;
  /** Members with an index below this are copies of their parents. */
  elites: number;
  /** parents[i]: index in generation gen−1 of member sliceStart+i's parent; unread in generation 0. */
  parents: ArrayLike<number>;
  breeding: BreedingParams;
  weights: readonly number[];
}

export interface EvaluatedSlice {
  members: Genome[];
  /** The members as stored (population codec); `report.offsets` locate each one in it. */
  blob: Uint8Array;
  report: SliceReport;
}

/**
 * Breed, encode and evaluate one slice. `parentOf(index, member)` gives member `index` of generation
 * gen−1, the parent of member `member` (it may throw when the driver lacks it); `onError` hears of a member that failed (it scores NaN).
 */
export function evaluateSlice(
  evaluator: Evaluator,
  work: SliceWork,
  parentOf: (index: number, member: number) => Genome,
  batch: Batch,
  onError?: (index: number, error: unknown) => void,
): EvaluatedSlice {
  const { gen, sliceStart, sliceEnd } = work;
  const members: Genome[] = [];
  for (let j = sliceStart; j < sliceEnd; j++) {
    const parent = gen === 0 ? null : parentOf(work.parents[j - sliceStart], j);
    members.push(breedMember(work.breeding, gen, j, work.elites, parent));
  }
  const blob = encodePopulation(members);
  const report = evaluateMembers(
    evaluator,
    members,
    batch,
    work.weights,
    { gen, sliceStart },
    populationOffsets(blob),
    onError,
  );
  return { members, blob, report };
}
