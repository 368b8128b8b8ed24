import { describe, expect, it } from 'vitest';
import {
  baselineMinuteFor,
  firstRecordDifference,
  memoryVerdict,
  percentile,
  streamOutcome,
} from '../../bench/soak-verdicts';
import type { GenerationRecord } from '../../src/wann/record';

describe('percentile (nearest rank)', () => {
  const values = Array.from({ length: 100 }, (_, i) => 100 - i); // 100 … 1, unsorted on purpose

  it.each([
    [50, 50],
    [99, 99],
    [100, 100],
    [1, 1],
  ])('p%i of 1…100 is %i', (p, expected) => {
    expect(percentile(values, p)).toBe(expected);
  });

  it('does not reorder its input, and a single value is every percentile', () => {
    percentile(values, 50);
    expect(values[0]).toBe(100);
    expect(percentile([7], 99)).toBe(7);
  });

  it('p99 of 10 values is the largest (no interpolation below it)', () => {
    expect(percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 1000], 99)).toBe(1000);
    expect(percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 1000], 50)).toBe(5);
  });

  it('is NaN with no values', () => {
    expect(percentile([], 50)).toBeNaN();
  });
});

describe('memoryVerdict: the end against the baseline minute, ±10 %', () => {
  const series = (samples: [number, number][]) => ({
    role: 'workerd',
    pid: 42,
    samples: samples.map(([minute, rssKiB]) => ({ minute, rssKiB })),
  });

  it('flat within 10 %, whatever happened before the baseline', () => {
    const v = memoryVerdict(
      series([
        [0, 10_000],
        [5, 200_000],
        [10, 210_000],
        [30, 219_000],
      ]),
      5,
      30,
    );
    expect(v.verdict).toBe('flat');
    expect(v.change).toBeCloseTo(0.095, 3);
    expect(v.baselineMiB).toBe(195.3);
  });

  it('grew by more than 10 %: a leak', () => {
    expect(
      memoryVerdict(
        series([
          [5, 200_000],
          [30, 221_000],
        ]),
        5,
        30,
      ).verdict,
    ).toBe('grew');
  });

  it('shrank by more than 10 %: not a leak, but said', () => {
    expect(
      memoryVerdict(
        series([
          [5, 200_000],
          [30, 150_000],
        ]),
        5,
        30,
      ).verdict,
    ).toBe('shrank');
  });

  it('a process born after the baseline (a restarted peer) or gone before the end is not judged', () => {
    expect(
      memoryVerdict(
        series([
          [10, 200_000],
          [30, 400_000],
        ]),
        5,
        30,
      ).verdict,
    ).toBe('not comparable');
    expect(
      memoryVerdict(
        series([
          [5, 200_000],
          [10, 400_000],
        ]),
        5,
        30,
      ),
    ).toMatchObject({
      verdict: 'not comparable',
      change: null,
      endMiB: null,
    });
  });

  it('the baseline is minute 5, or the middle of a soak shorter than 10 minutes', () => {
    expect(baselineMinuteFor(30)).toBe(5);
    expect(baselineMinuteFor(10)).toBe(5);
    expect(baselineMinuteFor(3)).toBe(1);
    expect(baselineMinuteFor(6)).toBe(3);
    expect(baselineMinuteFor(1)).toBe(1);
  });
});

describe('streamOutcome: what churn may bring, and what is an error', () => {
  const base = { status: 200, endCode: null, closedByUs: false, runEnded: false, failed: false };

  it.each([
    [{ ...base, closedByUs: true }, 'left'],
    [{ ...base, endCode: 'share_link_revoked' }, 'link revoked'],
    [{ ...base, runEnded: true }, 'run ended'],
    [{ ...base, status: 0, closedByUs: true }, 'left before an answer'],
    [{ ...base, status: 0, failed: true }, 'error'],
    [{ ...base, status: 429 }, 'refused as expected'],
    [{ ...base, status: 410 }, 'refused as expected'],
    [{ ...base, status: 500 }, 'error'],
    [{ ...base, status: 401 }, 'error'],
    [{ ...base, endCode: 'session_ended' }, 'error'],
    [{ ...base, failed: true }, 'error'],
    [base, 'error'],
  ] as const)('%o → %s', (attempt, outcome) => {
    expect(streamOutcome(attempt)).toBe(outcome);
  });
});

describe('firstRecordDifference', () => {
  const record = (gen: number, best: number, durationMs: number) =>
    ({ gen, bestFitness: best, durationMs }) as unknown as GenerationRecord;

  it('ignores wall time only', () => {
    expect(
      firstRecordDifference(
        [record(0, 0.5, 10), record(1, 0.6, 20)],
        [record(0, 0.5, 99), record(1, 0.6, 1)],
      ),
    ).toBeNull();
  });

  it('names the first generation that differs, to the last bit', () => {
    const diff = firstRecordDifference(
      [record(0, 0.5, 10), record(1, 0.6, 20)],
      [record(0, 0.5, 10), record(1, 0.6 + 2 ** -52, 20)],
    );
    expect(diff).toMatch(/^generation 1:/);
  });

  it('a missing generation is a difference', () => {
    expect(firstRecordDifference([record(0, 0.5, 10)], [record(0, 0.5, 10), record(1, 0.6, 20)])).toMatch(
      /1 platform records for 2 reference records/,
    );
  });
});
