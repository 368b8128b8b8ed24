import { describe, expect, it } from 'vitest';
import { stream } from '../../src/random';
import { MNIST_ACTIVATIONS } from '../../src/wann/activation-ids';
import {
  base64ToBytes,
  bytesToBase64,
  decodePopulation,
  encodePopulation,
  GenomeFormatError,
  genomeToJson,
  initialGenome,
  parseGenome,
  populationFromBase64,
  populationToBase64,
} from '../../src/wann/genome';
import { addConnection, addNode, type MutationContext } from '../../src/wann/mutation';

function grownPopulation(n: number) {
  const ctx: MutationContext = { nextInnovation: 2571, activations: MNIST_ACTIVATIONS };
  return Array.from({ length: n }, (_, i) => {
    const rng = stream(7, 0, 'test', i);
    let g = initialGenome(256, 10, 0.05, rng);
    for (let k = 0; k < i * 3; k++) g = k % 2 ? addConnection(g, rng, ctx) : addNode(g, rng, ctx);
    return g;
  });
}

describe('genome codec', () => {
  it('round-trips populations through binary and base64 exactly', () => {
    const pop = grownPopulation(12);
    const back = decodePopulation(encodePopulation(pop));
    expect(back.map(genomeToJson)).toEqual(pop.map(genomeToJson));
    expect(populationFromBase64(populationToBase64(pop)).map(genomeToJson)).toEqual(pop.map(genomeToJson));
  });

  it('keeps early MNIST genomes small (initial genes as a bitset)', () => {
    const bytes = encodePopulation(grownPopulation(1));
    expect(bytes.length).toBeLessThan(400);
  });

  it('base64 matches the platform encoder for every tail length', () => {
    for (let n = 0; n < 20; n++) {
      const b = Uint8Array.from({ length: n }, (_, i) => (i * 37 + n) & 255);
      expect(bytesToBase64(b)).toBe(Buffer.from(b).toString('base64'));
      expect(Array.from(base64ToBytes(bytesToBase64(b)))).toEqual(Array.from(b));
    }
    expect(() => base64ToBytes('ab$d')).toThrow(GenomeFormatError);
  });

  it('rejects truncated or foreign blobs with a clear error', () => {
    const bytes = encodePopulation(grownPopulation(3));
    expect(() => decodePopulation(bytes.subarray(0, bytes.length - 5))).toThrow(/truncated/);
    expect(() => decodePopulation(new Uint8Array([1, 2, 3]))).toThrow(/bad magic/);
  });
});

describe('wann-genome/1 JSON', () => {
  const good = () => genomeToJson(grownPopulation(4)[3]);

  it('round-trips', () => {
    const doc = good();
    expect(genomeToJson(parseGenome(JSON.stringify(doc)))).toEqual(doc);
  });

  it.each([
    ['not JSON', '{', /not valid JSON/],
    ['wrong format', { ...good(), format: 'x' }, /format/],
    ['unknown field', { ...good(), extra: 1 }, /extra|unrecognized/i],
    [
      'bad node id order',
      { ...good(), nodes: good().nodes.map((n, i) => (i === 3 ? { ...n, id: 99 } : n)) },
      /nodes\.3\.id/,
    ],
    [
      'wrong kind',
      { ...good(), nodes: good().nodes.map((n, i) => (i === 0 ? { ...n, kind: 'input' } : n)) },
      /nodes\.0\.kind/,
    ],
    [
      'unknown activation',
      { ...good(), nodes: good().nodes.map((n, i) => (i === 257 ? { ...n, act: 12 } : n)) },
      /activation/,
    ],
    [
      'edge into an input',
      { ...good(), conns: [...good().conns, { innov: 1e6, src: 0, dst: 5, enabled: true }] },
      /into input/,
    ],
    [
      'output to output',
      { ...good(), conns: [...good().conns, { innov: 1e6, src: 257, dst: 258, enabled: true }] },
      /output→output/,
    ],
    [
      'missing node',
      { ...good(), conns: [...good().conns, { innov: 1e6, src: 9999, dst: 258, enabled: true }] },
      /does not exist/,
    ],
    ['innovations not increasing', { ...good(), conns: [...good().conns].reverse() }, /strictly increase/],
    ['too few nodes', { ...good(), nodes: good().nodes.slice(0, 10) }, /at least 267/],
  ])('rejects %s', (_name, doc, message) => {
    expect(() => parseGenome(doc)).toThrow(GenomeFormatError);
    expect(() => parseGenome(doc)).toThrow(message);
  });
});
