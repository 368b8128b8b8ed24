/**
 * `npm start`'s evaluator processes: one per core by default, any K on request, never more than
 * half the memory holds; and the evaluator config it writes binds exactly K peers.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  evaluatorConfigWithPeers,
  evaluatorCount,
  PEER_RSS_BYTES,
  peerCountOf,
} from '../../scripts/evaluator-peers';

const GiB = 1024 ** 3;
const PRODUCTION = /^\[env\.production\]$/m;

describe('evaluatorCount', () => {
  it.each([
    { requested: undefined, cores: 2, memory: 8 * GiB, expected: 2 },
    { requested: undefined, cores: 16, memory: 128 * GiB, expected: 16 },
    { requested: undefined, cores: 64, memory: 256 * GiB, expected: 64 },
    { requested: 1, cores: 16, memory: 128 * GiB, expected: 1 },
    { requested: 9, cores: 2, memory: 8 * GiB, expected: 9 },
    { requested: 6.7, cores: 2, memory: 8 * GiB, expected: 6 },
    { requested: Number.NaN, cores: 4, memory: 8 * GiB, expected: 4 },
    { requested: 0, cores: 4, memory: 8 * GiB, expected: 4 },
    { requested: -3, cores: 4, memory: 8 * GiB, expected: 4 },
    { requested: undefined, cores: 0, memory: 8 * GiB, expected: 1 },
  ])('$requested on $cores cores → $expected', ({ requested, cores, memory, expected }) => {
    expect(evaluatorCount(requested, { cores, totalMemoryBytes: memory })).toBe(expected);
  });

  it('holds the peers to half the memory, however many are asked for', () => {
    const machine = { cores: 64, totalMemoryBytes: 4 * GiB };
    const k = evaluatorCount(1000, machine);
    expect(k).toBe(Math.floor((2 * GiB) / PEER_RSS_BYTES));
    expect(k * PEER_RSS_BYTES).toBeLessThanOrEqual(machine.totalMemoryBytes / 2);
    expect(evaluatorCount(undefined, machine)).toBe(k);
    expect(evaluatorCount(undefined, { cores: 8, totalMemoryBytes: 64 * 1024 * 1024 })).toBe(1);
  });

  it('runs peers only for two evaluators or more', () => {
    expect([1, 2, 5].map(peerCountOf)).toEqual([0, 2, 5]);
  });
});

describe('evaluatorConfigWithPeers', () => {
  const toml = readFileSync(new URL('../../workers/evaluator/wrangler.toml', import.meta.url), 'utf8');
  const bindings = (text: string) => [...text.matchAll(/^binding = "(EVAL_PEER_\d+)"$/gm)].map((m) => m[1]);

  it('the checked-in config declares four peers, in the local part only', () => {
    expect(bindings(toml)).toEqual(['EVAL_PEER_1', 'EVAL_PEER_2', 'EVAL_PEER_3', 'EVAL_PEER_4']);
  });

  it.each([0, 1, 3, 16])('binds exactly %i peers, each to its own process', (k) => {
    const out = evaluatorConfigWithPeers(toml, k);
    expect(bindings(out)).toEqual(Array.from({ length: k }, (_, i) => `EVAL_PEER_${i + 1}`));
    for (let i = 1; i <= k; i++) expect(out).toContain(`service = "wann-evaluator-peer-${i}"`);
    // Everything else as checked in: production untouched but for its paths, one folder deeper.
    const production = out.slice(out.search(PRODUCTION));
    expect(production).not.toContain('EVAL_PEER');
    expect(production.replaceAll('"../../../migrations"', '"../../migrations"')).toBe(
      toml.slice(toml.search(PRODUCTION)),
    );
    expect(out).toMatch(/^main = "\.\.\/index\.ts"$/m);
    expect(out).not.toMatch(/migrations_dir = "\.\.\/\.\.\/migrations"/);
  });
});
