import { describe, expect, it } from 'vitest';
import { stream } from '../../src/random';
import { MNIST_ACTIVATIONS } from '../../src/wann/activation-ids';
import {
  decodePopulation,
  encodePopulation,
  type Genome,
  initialGenome,
  populationOffsets,
  slicePopulation,
} from '../../src/wann/genome';
import { addConnection, addNode } from '../../src/wann/mutation';

function population(n: number): Genome[] {
  const ctx = { nextInnovation: 2571, activations: MNIST_ACTIVATIONS };
  return Array.from({ length: n }, (_, i) => {
    const rng = stream(7, 0, 'init', i);
    let g = initialGenome(256, 10, 0.05, rng);
    for (let k = 0; k < i % 5; k++) g = rng.chance(0.5) ? addNode(g, rng, ctx) : addConnection(g, rng, ctx);
    return g;
  });
}

describe('slicePopulation', () => {
  const genomes = population(23);
  const bytes = encodePopulation(genomes);
  const offsets = populationOffsets(bytes);

  it('indexes every genome and the end of the blob', () => {
    expect(offsets).toHaveLength(24);
    expect(offsets[23]).toBe(bytes.length);
  });

  it.each([
    [0, 23],
    [0, 8],
    [8, 16],
    [16, 23],
    [5, 5],
    [22, 23],
  ])('slice [%i, %i) equals encoding the decoded slice', (start, end) => {
    const slice = slicePopulation(bytes, offsets, start, end);
    expect(slice).toEqual(encodePopulation(genomes.slice(start, end)));
    expect(decodePopulation(slice)).toEqual(genomes.slice(start, end));
  });

  it('rejects slices outside the population', () => {
    expect(() => slicePopulation(bytes, offsets, 20, 24)).toThrow(RangeError);
    expect(() => slicePopulation(bytes, offsets, 3, 2)).toThrow(RangeError);
  });
});
