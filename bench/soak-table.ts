/**
 * The README's `bench:soak` block, from what `npm run bench:soak` wrote to
 * bench/results/soak.json (bench/soak.ts). Pure, so its shape is tested alone
 * (tests/unit/soak-verdicts.test.ts).
 */
import type { MemoryVerdict, StreamOutcome } from './soak-verdicts';

/** The parts of the soak's result the table shows. */
export interface SoakSummary {
  minutes: number;
  search: {
    population: number;
    generations: number;
    seed: number;
    status: string;
    endedAtMinute: number | null;
    identicalToReference: boolean;
  };
  predictions: { ratePerSecond: number; answered: number; errors: number; p50Ms: number; p99Ms: number };
  streams: {
    subscribers: number;
    ownerSubscribers: number;
    linkSubscribers: number;
    connects: number;
    outcomes: Partial<Record<StreamOutcome, number>>;
  };
  shareLinks: { minted: number; revoked: number; errors: number };
  training: { steps: number; status: string; step: number; endedMinute: number | null };
  evaluatorKills: { restartedPid: number | null; restartSeconds: number | null }[];
  memory: {
    baselineMinute: number;
    endMinute: number;
    /** Each Worker isolate's heap after a full GC: what is judged (a soak recorded before has none). */
    isolates?: MemoryVerdict[];
    /** Each process's resident memory: listed, not judged (see `soakTable`). */
    processes: MemoryVerdict[];
  };
  findings: { minute: number; what: string }[];
  cores: number;
  date: string;
}

const percent = (change: number | null) =>
  change === null ? '–' : `${change >= 0 ? '+' : ''}${Math.round(change * 1000) / 10} %`;

const size = (value: number | null) => (value === null ? '–' : `${value} MiB`);

export function soakTable(r: SoakSummary): string {
  const { search, predictions: p, streams: s, shareLinks: links, training: t, evaluatorKills: kills } = r;
  const outcomes = Object.entries(s.outcomes)
    .map(([outcome, n]) => `${outcome} ${n}`)
    .join(', ');
  const findings = r.findings.length
    ? `${r.findings.length}: ${r.findings
        .slice(0, 3)
        .map((f) => f.what.slice(0, 80))
        .join('; ')}${r.findings.length > 3 ? '; …' : ''}`
    : '0';
  return [
    `| ${r.minutes} min on 127.0.0.1 | result |`,
    '|---|---|',
    `| compared search: population ${search.population}, ${search.generations} generations, seed ${search.seed} | ${search.status}${search.endedAtMinute !== null ? ` at minute ${search.endedAtMinute}` : ''}; records and champion identical to the undisturbed reference: **${search.identicalToReference ? 'yes' : 'no'}** |`,
    `| predictions, ${p.ratePerSecond}/s (JSON /v2 infer and PNG /predict) | ${p.answered} answered, ${p.errors} errors; latency p50 ${p.p50Ms} ms, p99 ${p.p99Ms} ms |`,
    `| ${s.subscribers} event streams coming and going (${s.ownerSubscribers} owner, ${s.linkSubscribers} on share links) | ${s.connects} connects; ${outcomes} |`,
    `| share links minted / revoked | ${links.minted} / ${links.revoked}, ${links.errors} errors |`,
    `| one training of the published version (${t.steps} steps) | ${t.status}${t.endedMinute !== null ? ` at minute ${t.endedMinute}` : `, step ${t.step}`} |`,
    `| an evaluator peer killed (SIGKILL) | ${kills.length} times; started again ${kills.filter((k) => k.restartedPid !== null).length} times${kills.length ? ` (after ${kills.map((k) => (k.restartSeconds === null ? '–' : `${k.restartSeconds} s`)).join(', ')})` : ''} |`,
    `| errors (findings) | ${findings} |`,
    '',
    ...(r.memory.isolates
      ? [
          `| Worker isolate (JS heap after a full GC, judged) | minute ${r.memory.baselineMinute} | minute ${r.memory.endMinute} | change | within 10 %? |`,
          '|---|---:|---:|---:|---|',
          ...r.memory.isolates.map(
            (m) =>
              `| ${m.role} (pid ${m.pid}) | ${size(m.baselineMiB)} | ${size(m.endMiB)} | ${percent(m.change)} | ${m.verdict} |`,
          ),
          '',
        ]
      : []),
    `| process (RSS${r.memory.isolates ? ', listed, not judged: the dev runtime grows alike under a Worker that does nothing, `bench:memory-probe`' : ''}) | minute ${r.memory.baselineMinute} | minute ${r.memory.endMinute} | change | within 10 %? |`,
    '|---|---:|---:|---:|---|',
    ...r.memory.processes.map(
      (m) =>
        `| ${m.role} ${m.pid} | ${size(m.baselineMiB)} | ${size(m.endMiB)} | ${percent(m.change)} | ${m.verdict} |`,
    ),
    '',
    `_Measured ${r.date.slice(0, 10)} by \`npm run bench:soak${r.minutes === 30 ? '' : ` -- --minutes ${r.minutes}`}\` (${r.cores} cores shared with other work; source: \`bench/results/soak.json\`, with every memory sample)${r.minutes < 10 ? `. A trial shorter than 10 minutes: memory is judged from minute ${r.memory.baselineMinute}, where warm-up still shows as growth; the 30-minute soak judges from minute 5` : ''}._`,
  ].join('\n');
}
