import { describe, expect, it } from 'vitest';
import { type SoakSummary, soakTable } from '../../bench/soak-table';
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
    samples: samples.map(([minute, kib]) => ({ minute, kib })),
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

describe('soakTable: the README block', () => {
  const summary: SoakSummary = {
    minutes: 30,
    search: {
      population: 960,
      generations: 600,
      seed: 21,
      status: 'completed',
      endedAtMinute: 28.5,
      identicalToReference: true,
    },
    predictions: { ratePerSecond: 4, answered: 7200, errors: 0, p50Ms: 90, p99Ms: 1150 },
    streams: {
      subscribers: 20,
      ownerSubscribers: 4,
      linkSubscribers: 16,
      connects: 2600,
      outcomes: { left: 2500, 'link revoked': 230 },
    },
    shareLinks: { minted: 64, revoked: 60, errors: 0 },
    training: { steps: 32000, status: 'done', step: 32000, endedMinute: 1.2 },
    evaluatorKills: [
      { restartedPid: 11, restartSeconds: 1.6 },
      { restartedPid: null, restartSeconds: null },
    ],
    memory: {
      baselineMinute: 5,
      endMinute: 30,
      isolates: [
        memoryVerdict(
          {
            role: 'wann-api',
            pid: 7,
            samples: [
              { minute: 5, kib: 8000 },
              { minute: 30, kib: 8200 },
            ],
          },
          5,
          30,
        ),
      ],
      processes: [
        memoryVerdict(
          {
            role: 'wrangler dev (workerd)',
            pid: 7,
            samples: [
              { minute: 5, kib: 400_000 },
              { minute: 30, kib: 480_000 },
            ],
          },
          5,
          30,
        ),
        memoryVerdict(
          { role: 'evaluator peer (workerd)', pid: 9, samples: [{ minute: 30, kib: 100_000 }] },
          5,
          30,
        ),
      ],
    },
    findings: [{ minute: 30, what: 'wrangler dev (workerd) 7: 390.6 → 468.8 MiB (+20 %)' }],
    cores: 2,
    date: '2026-12-07T06:00:00.000Z',
  };

  it('says each check, a failed restart, a grown process and the finding', () => {
    const table = soakTable(summary);
    expect(table).toContain('identical to the undisturbed reference: **yes**');
    expect(table).toContain('7200 answered, 0 errors; latency p50 90 ms, p99 1150 ms');
    expect(table).toContain('2600 connects; left 2500, link revoked 230');
    expect(table).toContain('2 times; started again 1 times (after 1.6 s, –)');
    expect(table).toContain('| wrangler dev (workerd) 7 | 390.6 MiB | 468.8 MiB | +20 % | grew |');
    expect(table).toContain('| evaluator peer (workerd) 9 | – | 97.7 MiB | – | not comparable |');
    expect(table).toContain('| errors (findings) | 1: wrangler dev (workerd) 7');
    expect(table).toContain('by `npm run bench:soak` (2 cores');
    // The isolates are judged; the processes' RSS is listed as not judged.
    expect(table).toContain('| wann-api (pid 7) | 7.8 MiB | 8 MiB | +2.5 % | flat |');
    expect(table).toMatch(/\| process \(RSS, listed, not judged/);
    // Every row of the three tables has the columns its header has.
    for (const block of table.split('\n\n').slice(0, 3)) {
      const rows = block.split('\n');
      const columns = rows[0].split('|').length;
      for (const row of rows) expect(row.split('|').length, row).toBe(columns);
    }
  });

  it('a soak recorded before isolates were read shows its RSS table alone, as recorded', () => {
    const { isolates: _, ...old } = summary.memory;
    const table = soakTable({ ...summary, memory: old });
    expect(table).not.toContain('Worker isolate');
    expect(table).toContain(`| process (RSS) | minute 5 | minute 30 | change | within 10 %? |`);
  });

  it('a shortened soak names its length in the command', () => {
    const trial = soakTable({ ...summary, minutes: 3, memory: { ...summary.memory, baselineMinute: 1 } });
    expect(trial).toContain('`npm run bench:soak -- --minutes 3`');
    expect(trial).toContain('A trial shorter than 10 minutes: memory is judged from minute 1');
    expect(soakTable(summary)).not.toContain('A trial');
  });
});
