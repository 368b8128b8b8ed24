/**
 * Ablation: equal-budget searches (`node/search.ts`, same seeds), each varying one thing from the
 * default (the paper's rules), to find what moves test accuracy per minute (issue "The paper's
 * MNIST table in an hour", item 5). Every variant runs once per seed; the runs of one variant run
 * side by side (one worker thread each, `--parallel` at a time), so the load of the machine falls
 * on every seed of a variant alike, and no variant gets more CPU than another.
 *
 *   npm run bench:ablation                       (10 minutes per run, seeds 1 and 2: ~50 minutes)
 *   npm run bench:ablation -- --minutes 2 --seeds 1 --variants default,no-recheck   (a quick look;
 *     writes neither bench/results/ablation.json nor the README)
 *
 * Variants (node/search.ts flags; src/wann/generation.ts `SearchVariant`):
 * - default: the paper's rules as the platform runs them (re-check on, 60 fixed training shards,
 *   textbook crowding, disabled genes carry nothing);
 * - no-recheck: champion = best single-batch mean fitness (`--recheck-every 0`);
 * - subsets: each generation one of 1,000 seeded 1,000-image subsets of the 60,000 training images,
 *   as the reference draws, instead of one of the 60 fixed shards (`--batches subsets`);
 * - reference-crowding: the reference's crowding scale |1/max − min| (`--crowding reference`);
 * - reference-disabled: a split hidden→hidden connection stays active (`--keep-hidden-splits`).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { updateReadmeTable } from '../scripts/readme-table';

const HERE = fileURLToPath(new URL('.', import.meta.url));

const VARIANTS: Record<string, { flags: string[]; what: string }> = {
  default: { flags: [], what: "the paper's rules (the platform's defaults)" },
  'no-recheck': { flags: ['--recheck-every', '0'], what: 'no champion re-check' },
  subsets: { flags: ['--batches', 'subsets'], what: '1,000 seeded subsets instead of 60 fixed shards' },
  'reference-crowding': { flags: ['--crowding', 'reference'], what: "the reference's crowding scale" },
  'reference-disabled': {
    flags: ['--keep-hidden-splits'],
    what: 'split hidden→hidden connections stay active',
  },
};

const { values: args } = parseArgs({
  options: {
    minutes: { type: 'string', default: '10' },
    seeds: { type: 'string', default: '1,2' },
    variants: { type: 'string', default: Object.keys(VARIANTS).join(',') },
    parallel: { type: 'string', default: '2' },
  },
});
const minutes = Number(args.minutes);
const seeds = (args.seeds ?? '1,2').split(',').map(Number);
const variants = (args.variants ?? '').split(',');
for (const v of variants)
  if (!VARIANTS[v]) throw new Error(`unknown variant ${v}; known: ${Object.keys(VARIANTS)}`);
const parallel = Number(args.parallel);
const full = minutes === 10 && variants.length === Object.keys(VARIANTS).length && seeds.length >= 2;

interface SearchSummary {
  generations: number;
  secondsPerGeneration: number;
  championConnections: number;
  meanTestAccuracy: number;
  ensembleTestAccuracy: number;
  tunedTestAccuracy: number;
  trainedTestAccuracy: number | null;
  meanLoadAverage: number;
  checkpoints: { seconds: number; generation: number; ensembleTestAccuracy: number }[];
}

interface Run {
  variant: string;
  seed: number;
  summary?: SearchSummary;
}

const tmp = mkdtempSync(join(tmpdir(), 'wann-ablation-'));
const runOne = (run: Run): Promise<void> =>
  new Promise((resolve, reject) => {
    const out = join(tmp, `${run.variant}-${run.seed}.json`);
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        join(HERE, '..', 'node', 'search.ts'),
        '--minutes',
        String(minutes),
        '--seed',
        String(run.seed),
        '--threads',
        '1',
        '--out',
        out,
        ...VARIANTS[run.variant].flags,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let tail = '';
    let partial = '';
    child.stdout.on('data', (d: Buffer) => {
      tail = (tail + d.toString()).slice(-4000);
      const lines = (partial + d.toString()).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) {
        if (line.includes('test set @')) console.log(`[${run.variant} seed ${run.seed}]${line}`);
      }
    });
    child.on('error', reject);
    child.on('exit', (code) => {
      if (code !== 0) return reject(new Error(`${run.variant} seed ${run.seed} exited ${code}:\n${tail}`));
      run.summary = JSON.parse(readFileSync(out, 'utf8')) as SearchSummary;
      const s = run.summary;
      console.log(
        `${run.variant} seed ${run.seed}: ${s.generations} generations, ensemble ${(100 * s.ensembleTestAccuracy).toFixed(2)} %`,
      );
      resolve();
    });
  });

// The runs of one variant side by side; variants one after another.
const runs: Run[] = variants.flatMap((variant) => seeds.map((seed) => ({ variant, seed })));
const started = new Date().toISOString().slice(0, 10);
const loads: number[] = [];
try {
  for (let i = 0; i < runs.length; i += parallel) {
    const timer = setInterval(() => loads.push(loadavg()[0]), 30_000);
    await Promise.all(runs.slice(i, i + parallel).map(runOne));
    clearInterval(timer);
  }
} finally {
  rmSync(tmp, { recursive: true, force: true });
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const pct = (x: number) => `${(100 * x).toFixed(2)} %`;
const rows = variants.map((variant) => {
  const rs = runs.filter((r) => r.variant === variant).map((r) => r.summary!);
  const at = (minute: number) =>
    mean(
      rs.map(
        (s) => s.checkpoints.find((c) => Math.round(c.seconds / 60) === minute)?.ensembleTestAccuracy ?? NaN,
      ),
    );
  return {
    variant,
    what: VARIANTS[variant].what,
    seeds,
    ensembleTestAccuracy: rs.map((s) => s.ensembleTestAccuracy),
    meanEnsemble: mean(rs.map((s) => s.ensembleTestAccuracy)),
    meanTuned: mean(rs.map((s) => s.tunedTestAccuracy)),
    meanOverWeights: mean(rs.map((s) => s.meanTestAccuracy)),
    meanTrained: rs.every((s) => s.trainedTestAccuracy !== null)
      ? mean(rs.map((s) => s.trainedTestAccuracy!))
      : null,
    meanGenerations: Math.round(mean(rs.map((s) => s.generations))),
    meanChampionConnections: Math.round(mean(rs.map((s) => s.championConnections))),
    /** Mean over seeds of the champion's ensemble test accuracy at each whole minute. */
    ensemblePerMinute: Array.from({ length: Math.floor(minutes) }, (_, m) => +at(m + 1).toFixed(4)),
    runs: rs.map((s, k) => ({ seed: seeds[k], ...s })),
  };
});
const base = rows.find((r) => r.variant === 'default');
const result = {
  measured: started,
  minutesPerRun: minutes,
  threadsPerRun: 1,
  runsAtOnce: parallel,
  meanLoadAverage: +mean(loads.length ? loads : [loadavg()[0]]).toFixed(2),
  rows,
};
console.log(
  JSON.stringify(
    rows.map(({ runs: _, ...r }) => r),
    null,
    2,
  ),
);
if (!full) {
  console.log('(a partial ablation: neither bench/results/ablation.json nor the README is written)');
} else {
  writeFileSync(join(HERE, 'results', 'ablation.json'), `${JSON.stringify(result, null, 2)}\n`);
  const minutesShown = [2, 4, 6, 8, 10].filter((m) => m <= minutes);
  updateReadmeTable(
    'ablation',
    [
      `| variant | ensemble, seed ${seeds.join(' / ')} | mean | vs default | tuned | mean over weights | trained | ${minutesShown.map((m) => `@${m} min`).join(' | ')} | generations | champion conns |`,
      `|---|---:|---:|---:|---:|---:|---:|${minutesShown.map(() => '---:|').join('')}---:|---:|`,
      ...rows.map(
        (r) =>
          `| ${r.variant}: ${r.what} | ${r.ensembleTestAccuracy.map(pct).join(' / ')} | ${pct(r.meanEnsemble)} | ${base && r !== base ? `${r.meanEnsemble >= base.meanEnsemble ? '+' : '−'}${(100 * Math.abs(r.meanEnsemble - base.meanEnsemble)).toFixed(2)} pt` : '-'} | ${pct(r.meanTuned)} | ${pct(r.meanOverWeights)} | ${r.meanTrained === null ? '-' : pct(r.meanTrained)} | ${minutesShown.map((m) => pct(r.ensemblePerMinute[m - 1])).join(' | ')} | ${r.meanGenerations} | ${r.meanChampionConnections} |`,
      ),
      '',
      `_Measured ${started} by \`npm run bench:ablation\`: ${minutes} minutes per run on one worker thread, ${parallel} runs at once (the seeds of one variant side by side), mean load average ${result.meanLoadAverage} on 2 cores. Test accuracy on the 10,000 test images; "@N min" is the mean over seeds of the champion's ensemble accuracy at that minute._`,
    ].join('\n'),
  );
}
