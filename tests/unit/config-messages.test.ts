/**
 * A bad search config is refused in plain words (issue 19: "raw validator text"): each field's
 * message says what it takes and its limit, the way the start form, the CLI and API clients show it
 * (`field: message`), never the validator's own "Too small: expected number to be >=1".
 */
import { describe, expect, it } from 'vitest';
import { searchConfigSchema } from '../../src/wann/config';

function refusal(input: Record<string, unknown>): string {
  const parsed = searchConfigSchema.safeParse(input);
  if (parsed.success) return 'accepted';
  return parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
}

describe('search config messages', () => {
  it.each([
    [{ generations: 0 }, 'generations: at least 1 generation'],
    [{ generations: 1.5 }, 'generations: a whole number of generations'],
    [{ generations: 'many' }, 'generations: expected a whole number of generations'],
    [{ generations: 100_001 }, 'generations: at most 100,000 generations'],
    [{ sliceSize: 2000 }, 'sliceSize: at most 1,000 genomes'],
    [{ trainShards: 61 }, 'trainShards: at most 60 shards'],
    [{ recheckBatches: 0 }, 'recheckBatches: at least 1 shard'],
    [{ recheckEvery: -1 }, 'recheckEvery: at least 0 generations'],
    [{ cullRatio: 2 }, 'cullRatio: at most 0.9'],
    [{ eliteRatio: 'half' }, 'eliteRatio: expected a fraction from 0 to 1'],
    [{ probAddConnection: 1.5 }, 'probAddConnection: at most 1'],
    [{ weights: [] }, 'weights: at least one weight'],
    [{ weights: [1, 'a'] }, 'weights.1: expected a weight from -100 to 100'],
    [{ weights: [1, 200] }, 'weights.1: at most 100'],
    [{ seed: -1 }, 'seed: at least 0'],
    [{ seed: 2 ** 32 }, 'seed: at most 4,294,967,295'],
    [{ population: 2, tournamentSize: 2 }, 'population: at least 4 genomes'],
  ])('%j → %s', (input, message) => {
    expect(refusal(input)).toBe(message);
  });

  it('no message is the validator’s own wording', () => {
    const bad = {
      generations: -5,
      sliceSize: 0,
      tournamentSize: 0,
      publishEvery: 0.5,
      patience: -1,
      probEnable: 9,
      initEnableProb: -1,
    };
    const text = refusal(bad);
    expect(text).not.toBe('accepted');
    expect(text).not.toMatch(/Too (small|big)|Invalid input|expected number|[<>]=/);
    for (const key of Object.keys(bad)) expect(text).toContain(`${key}: `);
  });
});
