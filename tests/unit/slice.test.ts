/**
 * `evaluateSlice` is the one slice loop the evaluator Worker, LocalSearch and the Node pool share:
 * it must equal breeding each member from its parent, encoding the slice and evaluating it, and ask
 * the driver for exactly the parents the slice's members name.
 */
import { describe, expect, it } from 'vitest';
import { stream } from '../../src/random';
import { MNIST_INPUTS } from '../../src/wann/config';
import { breedingParams, breedMember, evaluateMembers } from '../../src/wann/generation';
import { decodePopulation, encodePopulation, type Genome, populationOffsets } from '../../src/wann/genome';
import { Evaluator } from '../../src/wann/network';
import { evaluateSlice } from '../../src/wann/slice';
import type { Batch } from '../../src/wann/types';

const breeding = breedingParams({
  seed: 11,
  initEnableProb: 0.05,
  probAddConnection: 0.2,
  probAddNode: 0.25,
  probEnable: 0.05,
  probChangeActivation: 0.5,
});
const weights = [-2, -1, 1, 2];

function randomBatch(count: number): Batch {
  const rng = stream(3, 0, 'test', count);
  const inputs = new Float32Array(MNIST_INPUTS * count);
  for (let i = 0; i < inputs.length; i++) inputs[i] = rng.float();
  const labels = Uint8Array.from({ length: count }, () => rng.int(10));
  return { count, features: MNIST_INPUTS, inputs, labels };
}

describe('evaluateSlice', () => {
  const batch = randomBatch(40);
  const evaluator = new Evaluator();
  const generation0 = Array.from({ length: 8 }, (_, j) => breedMember(breeding, 0, j, 0, null));

  it('breeds generation 0 without asking for parents', () => {
    const asked: number[] = [];
    const work = { gen: 0, sliceStart: 2, sliceEnd: 6, elites: 0, parents: [], breeding, weights };
    const slice = evaluateSlice(
      evaluator,
      work,
      (index) => {
        asked.push(index);
        return generation0[index];
      },
      batch,
    );
    expect(asked).toEqual([]);
    expect(slice.members).toEqual(generation0.slice(2, 6));
    expect(decodePopulation(slice.blob)).toEqual(slice.members);
  });

  it('equals breeding, encoding and evaluating by hand, and asks for each named parent', () => {
    const parents = [5, 5, 0, 7, 2];
    const asked: [number, number][] = [];
    const work = { gen: 1, sliceStart: 1, sliceEnd: 6, elites: 2, parents, breeding, weights };
    const slice = evaluateSlice(
      evaluator,
      work,
      (index, member) => {
        asked.push([index, member]);
        return generation0[index];
      },
      batch,
    );
    expect(asked).toEqual(parents.map((p, i) => [p, 1 + i]));
    const byHand: Genome[] = parents.map((p, i) => breedMember(breeding, 1, 1 + i, 2, generation0[p]));
    const blob = encodePopulation(byHand);
    expect(slice.members).toEqual(byHand);
    expect(slice.blob).toEqual(blob);
    expect(slice.report).toEqual(
      evaluateMembers(evaluator, byHand, batch, weights, { gen: 1, sliceStart: 1 }, populationOffsets(blob)),
    );
    expect(slice.report).toMatchObject({ gen: 1, sliceStart: 1, sliceEnd: 6, weights: 4 });
  });

  it('lets the driver refuse a parent it does not hold', () => {
    const work = { gen: 1, sliceStart: 0, sliceEnd: 2, elites: 0, parents: [0, 9], breeding, weights };
    expect(() =>
      evaluateSlice(
        evaluator,
        work,
        (index, member) => {
          if (index >= generation0.length) throw new Error(`parent ${index} of member ${member} is missing`);
          return generation0[index];
        },
        batch,
      ),
    ).toThrow('parent 9 of member 1 is missing');
  });
});
