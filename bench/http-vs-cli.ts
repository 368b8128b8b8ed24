/**
 * The path users take against the CLI: how many generations a search started over HTTP on the local
 * platform (`npm start`'s servers, one evaluator per core) makes in M minutes, against
 * `npm run search` with the same config and seed on the same machine (one thread per core).
 *
 *   npm run bench:http-vs-cli                      # 10 minutes each, 1 round (CLI, then HTTP)
 *   npm run bench:http-vs-cli -- --minutes 3 --rounds 2
 *   npm run bench:http-vs-cli -- --first http --add   # one more round, HTTP first, added to the record
 *
 * Rounds alternate which goes first (CLI-HTTP, HTTP-CLI, …), so a load that comes and goes hits
 * both alike. Each minute's generation count is kept for both; the ratio is HTTP / CLI at each
 * minute of each round. Results: bench/results/http-vs-cli.json and the README
 * (`<!-- bench:http-vs-cli -->`). Needs a quiet machine: run nothing else meanwhile.
 *
 * The CLI's count at each minute is its own checkpoint (node/search.ts), which spends some of its
 * time scoring the champion; the HTTP count is the run's `generation` as GET /api/runs/:id tells
 * it, read once a second. Neither trains weights here (`--train-steps 0`).
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { startLocalPlatform } from '../scripts/local-platform';
import { updateReadmeTable } from '../scripts/readme-table';
import { json } from './platform-run';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const { values: args } = parseArgs({
  options: {
    minutes: { type: 'string', default: '10' },
    rounds: { type: 'string', default: '1' },
    population: { type: 'string', default: '960' },
    seed: { type: 'string', default: '1' },
    /** Which side goes first in the first round (then they alternate). */
    first: { type: 'string', default: 'cli' },
    /** Add this invocation's rounds to those already recorded (same minutes, population, seed). */
    add: { type: 'boolean', default: false },
    /** Write here instead of bench/results/http-vs-cli.json (and leave the README alone). */
    out: { type: 'string' },
  },
});
const MINUTES = Number(args.minutes);
const ROUNDS = Number(args.rounds);
const POPULATION = Number(args.population);
const SEED = Number(args.seed);
const cores = availableParallelism();
if (!(MINUTES >= 1 && Number.isInteger(MINUTES))) throw new Error('--minutes must be a whole number ≥ 1');
if (!(ROUNDS >= 1 && Number.isInteger(ROUNDS))) throw new Error('--rounds must be a whole number ≥ 1');
if (args.first !== 'cli' && args.first !== 'http') throw new Error('--first must be cli or http');
const FIRST = args.first;

interface Side {
  /** Generations completed at the end of minutes 1…M. */
  generationsAtMinute: number[];
  meanLoadAverage: number;
}

/** `npm run search` for MINUTES minutes; its per-minute checkpoints give the counts. */
async function cliSide(): Promise<Side> {
  const dir = mkdtempSync(join(tmpdir(), 'wann-http-vs-cli-'));
  const out = join(dir, 'search.json');
  try {
    await new Promise<void>((done, fail) => {
      execFile(
        join(ROOT, 'node_modules', '.bin', 'tsx'),
        [
          'node/search.ts',
          ...['--minutes', String(MINUTES), '--population', String(POPULATION), '--seed', String(SEED)],
          ...['--threads', String(cores), '--train-steps', '0', '--out', out],
        ],
        { cwd: ROOT, maxBuffer: 64 << 20 },
        (error, _stdout, stderr) => (error ? fail(new Error(`npm run search failed: ${stderr}`)) : done()),
      );
    });
    const summary = JSON.parse(readFileSync(out, 'utf8')) as {
      checkpoints: { seconds: number; generation: number }[];
      meanLoadAverage: number;
    };
    return {
      generationsAtMinute: summary.checkpoints.slice(0, MINUTES).map((c) => c.generation),
      meanLoadAverage: summary.meanLoadAverage,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A search started with POST /api/runs on a fresh local platform, read each second. */
async function httpSide(): Promise<Side> {
  const platform = await startLocalPlatform({ evaluators: cores });
  try {
    const auth = { Authorization: `Bearer ${platform.token}` };
    const run = await json<{ id: string }>(
      await fetch(`${platform.url}/api/runs`, {
        method: 'POST',
        headers: { ...auth, 'Content-Type': 'application/json' },
        body: JSON.stringify({ population: POPULATION, seed: SEED, generations: 100_000 }),
      }),
      'start the search',
    );
    const started = Date.now();
    const counts: number[] = [];
    const loads: number[] = [];
    while (counts.length < MINUTES) {
      const due = started + (counts.length + 1) * 60_000;
      let generation = 0;
      for (;;) {
        const body = await json<{ generation: number; status: string; error: string | null }>(
          await fetch(`${platform.url}/api/runs/${run.id}`, { headers: auth }),
          'read the run',
        );
        if (body.status !== 'running' && body.status !== 'queued')
          throw new Error(`the search stopped: ${body.status} ${body.error ?? ''}`);
        generation = body.generation;
        if (Date.now() >= due) break;
        await new Promise((r) => setTimeout(r, Math.min(1_000, due - Date.now())));
      }
      counts.push(generation);
      loads.push(loadavg()[0]);
      console.log(`  HTTP minute ${counts.length}: generation ${generation}`);
    }
    await fetch(`${platform.url}/api/runs/${run.id}/cancel`, { method: 'POST', headers: auth });
    return { generationsAtMinute: counts, meanLoadAverage: loads.reduce((a, b) => a + b, 0) / loads.length };
  } finally {
    await platform.stop();
  }
}

interface Round {
  first: 'cli' | 'http';
  cli: Side;
  http: Side;
  /** HTTP / CLI generations at the end of each minute. */
  ratioAtMinute: number[];
}

const out = args.out ?? join(ROOT, 'bench', 'results', 'http-vs-cli.json');
const rounds: Round[] = [];
if (args.add) {
  const before = JSON.parse(readFileSync(out, 'utf8')) as {
    minutes: number;
    population: number;
    seed: number;
    rounds: Round[];
  };
  if (before.minutes !== MINUTES || before.population !== POPULATION || before.seed !== SEED)
    throw new Error(`--add: ${out} has other minutes, population or seed`);
  rounds.push(...before.rounds);
}
for (let r = 0; r < ROUNDS; r++) {
  const first = (r % 2 === 0) === (FIRST === 'cli') ? 'cli' : 'http';
  const sides: Partial<Record<'cli' | 'http', Side>> = {};
  for (const side of first === 'cli' ? (['cli', 'http'] as const) : (['http', 'cli'] as const)) {
    console.log(
      `round ${rounds.length + 1}: ${side === 'cli' ? 'npm run search' : 'a search over HTTP'}, ${MINUTES} min`,
    );
    sides[side] = side === 'cli' ? await cliSide() : await httpSide();
  }
  const cli = sides.cli!;
  const http = sides.http!;
  const ratioAtMinute = cli.generationsAtMinute.map((g, i) => round3(http.generationsAtMinute[i] / g));
  console.log(`round ${rounds.length + 1}: HTTP / CLI at each minute ${ratioAtMinute.join(' ')}`);
  rounds.push({ first, cli, http, ratioAtMinute });
}

function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}
function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

const finalRatios = rounds.map((r) => r.ratioAtMinute[MINUTES - 1]);
const result = {
  measuredAt: new Date().toISOString(),
  minutes: MINUTES,
  population: POPULATION,
  seed: SEED,
  cores,
  evaluatorProcesses: cores,
  threads: cores,
  rounds,
  /** HTTP / CLI generations after MINUTES minutes, median over the rounds. */
  ratio: round3(median(finalRatios)),
};
writeFileSync(out, `${JSON.stringify(result, null, 1)}\n`);
console.log(
  `HTTP / CLI generations after ${MINUTES} min: ${result.ratio} (rounds: ${finalRatios.join(', ')})`,
);

if (!args.out) {
  const rows = rounds.map((r, i) => {
    const cliG = r.cli.generationsAtMinute;
    const httpG = r.http.generationsAtMinute;
    return `| ${i + 1} (${r.first === 'cli' ? 'CLI first' : 'HTTP first'}) | ${cliG.at(-1)?.toLocaleString('en-US')} | ${httpG.at(-1)?.toLocaleString('en-US')} | **${r.ratioAtMinute.at(-1)}×** | ${r.ratioAtMinute.join(' · ')} | ${r.cli.meanLoadAverage.toFixed(2)} / ${r.http.meanLoadAverage.toFixed(2)} |`;
  });
  updateReadmeTable(
    'http-vs-cli',
    [
      `Population ${POPULATION}, seed ${SEED}, ${MINUTES} minutes each, ${cores} cores (${cores} threads / ${cores} evaluator processes), measured ${result.measuredAt.slice(0, 10)}:`,
      '',
      '| round | CLI generations | HTTP generations | HTTP / CLI | ratio at each minute | load (CLI / HTTP) |',
      '|---|---:|---:|---:|---|---|',
      ...rows,
    ].join('\n'),
  );
}
