/**
 * The README's budgeted-search block (`<!-- bench:search -->`) from a `node/search.ts` summary:
 * our figures beside the paper's MNIST table, the per-minute test curve and the re-checks. Written
 * by `npm run search -- --minutes N` at the end of a run; re-rendered from the recorded summary by
 *   npx tsx node/search-readme.ts        (reads bench/results/search.json)
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { updateReadmeTable } from '../scripts/readme-table';
import type { ChampionReport } from '../src/wann/report';

const HERE = fileURLToPath(new URL('.', import.meta.url));

/** What the block reads of bench/results/search.json. */
export interface SearchSummary extends ChampionReport {
  measured: string;
  population: number;
  seed: number;
  trainShards: number;
  /**
   * Training shards the tuned weight was chosen on (src/wann/report.ts TUNING_SHARDS); absent in
   * summaries recorded before Node tuned on the platform's shards, which tuned on shard 0 alone.
   */
  tuningShards?: number;
  recheckEvery: number;
  recheckBatches: number;
  threads: number;
  budgetMinutes: number | null;
  generations: number;
  secondsPerGeneration: number;
  championConnections: number;
  championHiddenNodes: number;
  meanLoadAverage: number;
  cores: number;
  trainedTestAccuracy: number | null;
  trainingSteps: number;
  trainingSeconds: number | null;
  checkpoints: {
    seconds: number;
    generation: number;
    ensembleTestAccuracy: number;
    meanTestAccuracy: number;
  }[];
  rechecks: { gen: number; testAccuracy: number; chosenBy: string; championGeneration: number }[];
}

/**
 * What the baseline row reads of bench/results/baseline.json (`npm run bench:baseline`): a record
 * of the epoch count chosen on validation (today's bench), or one of fixed epoch counts (recorded
 * before the choice moved to a validation split; its row reads as it did until re-recorded).
 */
export type BaselineSummary = FixedEpochsBaseline | ValidatedBaselineSummary;

export interface FixedEpochsBaseline {
  learningRate: number;
  batchSize: number;
  platformDefaultEpochs: number;
  summary: { epochs: number; testAccuracy: number }[];
}

export interface ValidatedBaselineSummary {
  learningRate: number;
  batchSize: number;
  chosenEpoch: number;
  validationAccuracy: number;
  testAccuracy: number;
}

const BASELINE_FILE = join(HERE, '..', 'bench', 'results', 'baseline.json');

/** The recorded MNIST baseline, or null where `npm run bench:baseline` has not been run. */
export function recordedBaseline(): BaselineSummary | null {
  return existsSync(BASELINE_FILE)
    ? (JSON.parse(readFileSync(BASELINE_FILE, 'utf8')) as BaselineSummary)
    : null;
}

const pct = (x: number) => `${(100 * x).toFixed(2)} %`;

/** The linear baseline beside the WANN's figures (issue 18): its longest run, the platform's default and one epoch. */
function baselineRow(b: BaselineSummary): string {
  if ('chosenEpoch' in b) {
    return `| single layer, softmax regression (our shards) | - | ${pct(b.testAccuracy)} (Adam lr ${b.learningRate}, batch ${b.batchSize}, ${b.chosenEpoch} epochs chosen on a validation split of the training shards, where it scores ${pct(b.validationAccuracy)}; \`npm run bench:baseline\`, \`bench/results/baseline.json\`) |`;
  }
  const longest = b.summary.reduce((a, x) => (x.epochs > a.epochs ? x : a));
  const others = b.summary
    .filter((x) => x !== longest && (x.epochs === 1 || x.epochs === b.platformDefaultEpochs))
    .sort((x, y) => y.epochs - x.epochs)
    .map(
      (x) =>
        `${pct(x.testAccuracy)} after ${x.epochs}${x.epochs === b.platformDefaultEpochs ? " (the platform's default)" : ''}`,
    );
  return `| single layer, softmax regression (our shards) | - | ${pct(longest.testAccuracy)} (Adam lr ${b.learningRate}, batch ${b.batchSize}, ${longest.epochs} epochs; ${others.join(', ')}; \`npm run bench:baseline\`, \`bench/results/baseline.json\`) |`;
}

export function searchReadmeBlock(
  s: SearchSummary,
  baseline: BaselineSummary | null = recordedBaseline(),
): string {
  const sd = Math.sqrt(
    s.testAccuracy.reduce((a, x) => a + (x - s.meanTestAccuracy) ** 2, 0) / s.testAccuracy.length,
  );
  const budget = s.budgetMinutes === null ? `${s.generations} generations` : `${s.budgetMinutes} min`;
  const newChampions = s.rechecks.filter(
    (c, i) => c.chosenBy === 'recheck' && c.championGeneration !== s.rechecks[i - 1]?.championGeneration,
  ).length;
  // Every minute up to 12 checkpoints; beyond, minutes 1–5 and every 5th (search.json has them all).
  const minute = (c: { seconds: number }) => Math.round(c.seconds / 60);
  const shown =
    s.checkpoints.length <= 12
      ? s.checkpoints
      : s.checkpoints.filter((c) => minute(c) <= 5 || minute(c) % 5 === 0);
  const command =
    s.budgetMinutes === null ? `--generations ${s.generations}` : `--minutes ${s.budgetMinutes}`;
  return [
    `| MNIST test accuracy (10,000 images) | paper: 4,096 generations of population 960 on 96 cores | ours: ${budget} on ${s.threads} threads, ${s.generations} generations of population ${s.population} |`,
    '|---|---:|---:|',
    `| shared weight, mean over weights (± s.d.) | 82.0 % ± 18.7 (random weights) | ${pct(s.meanTestAccuracy)} ± ${(100 * sd).toFixed(1)} (the ${s.weights.length} weights ${s.weights.join(', ')}) |`,
    `| ensemble of the shared weights (majority vote) | 91.6 % | **${pct(s.ensembleTestAccuracy)}** |`,
    `| tuned shared weight | 91.9 % | ${pct(s.tunedTestAccuracy)} (w = ${s.tunedWeight}, tuned on ${tunedOn(s.tuningShards)}) |`,
    `| trained individual weights | 94.2 % | ${s.trainedTestAccuracy === null ? 'not run' : `${pct(s.trainedTestAccuracy)} (Adam, ${s.trainingSteps} steps, ${s.trainingSeconds} s on one thread)`} |`,
    ...(baseline ? [baselineRow(baseline)] : []),
    '',
    `Champion: ${s.championConnections} connections, ${s.championHiddenNodes} hidden nodes; ${s.secondsPerGeneration} s per generation over the run.`,
    ...(s.rechecks.length === 0
      ? []
      : [
          `Re-checks (every ${s.recheckEvery} generations on ${Math.min(s.recheckBatches, s.trainShards)} training shards): ${s.rechecks.length}, of which ${newChampions} crowned a new champion; the last one's test-subset (test shard 0) accuracy: ${pct(s.rechecks[s.rechecks.length - 1].testAccuracy)}.`,
        ]),
    '',
    'Ensemble test accuracy of the champion, per minute:',
    '',
    `| minute | ${shown.map(minute).join(' | ')} |`,
    `|---|${shown.map(() => '---:|').join('')}`,
    `| generation | ${shown.map((c) => c.generation).join(' | ')} |`,
    `| ensemble % | ${shown.map((c) => (100 * c.ensembleTestAccuracy).toFixed(2)).join(' | ')} |`,
    '',
    `_Measured ${s.measured} by \`npm run search -- ${command}\` (seed ${s.seed}, ${s.trainShards} training shards; mean load average ${s.meanLoadAverage} on ${s.cores} cores); the full record, with every re-check, is \`bench/results/search.json\`._`,
  ].join('\n');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const summary = JSON.parse(
    readFileSync(join(HERE, '..', 'bench', 'results', 'search.json'), 'utf8'),
  ) as SearchSummary;
  updateReadmeTable('search', searchReadmeBlock(summary));
}

/** Where a summary's weight was tuned, in words ("a training shard" for the summaries before). */
function tunedOn(shards: number | undefined): string {
  return shards === undefined || shards === 1 ? 'a training shard' : `${shards} training shards`;
}
