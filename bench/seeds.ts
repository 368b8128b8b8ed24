/**
 * Three seeds, 30 minutes each (issue 20 item 2): gathers the runs of
 *   npm run search -- --minutes 30 --seed S --out bench/results/seeds-S.json      (S = 1, 2, 3)
 * into bench/results/seeds.json (each seed's figures, the median over seeds against the paper's
 * table, and what the runs say about stalling) and the README's `<!-- bench:seeds -->` block.
 * Where bench/results/train-defaults-chosen.json trained these seeds' champions with the training defaults
 * chosen on validation, their test figures are shown beside the search's own trained figure.
 *
 *   npm run bench:seeds -- [--seeds 1,2,3]
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { SearchSummary } from '../node/search-readme';
import { updateReadmeTable } from '../scripts/readme-table';

const HERE = fileURLToPath(new URL('.', import.meta.url));
const RESULTS = join(HERE, 'results');
const { values: args } = parseArgs({ options: { seeds: { type: 'string', default: '1,2,3' } } });
const seeds = (args.seeds ?? '').split(',').map(Number);

/** The paper's MNIST table (WANN.md): what the median must meet. */
const PAPER = { ensemble: 0.916, tuned: 0.919, trained: 0.942 };

interface Checkpoint {
  seconds: number;
  generation: number;
  ensembleTestAccuracy: number;
  meanTestAccuracy: number;
  ensembleTrainAccuracy?: number;
  championGeneration?: number;
  championConnections?: number;
  meanConnections?: number;
}
type Run = Omit<SearchSummary, 'checkpoints'> & { checkpoints: Checkpoint[] };

const runs = seeds.map((s) => {
  const file = join(RESULTS, `seeds-${s}.json`);
  if (!existsSync(file))
    throw new Error(`${file} is missing: run npm run search -- --minutes 30 --seed ${s} --out ${file}`);
  return JSON.parse(readFileSync(file, 'utf8')) as Run;
});

/** Chosen-defaults training of these champions (bench/train-defaults.ts), by champion file. */
// The chosen candidate tested alone (npm run bench:train-defaults with its grid narrowed to it).
const trainDefaultsFile = join(RESULTS, 'train-defaults-chosen.json');
const trainDefaults = existsSync(trainDefaultsFile)
  ? (JSON.parse(readFileSync(trainDefaultsFile, 'utf8')) as {
      chosen: { learningRate: number; schedule: string; steps: number };
      tested: { genome: string; testAccuracy: number }[];
    })
  : null;
const chosenTrained = (seed: number): number | null =>
  trainDefaults?.tested.find((t) => t.genome.endsWith(`seeds-${seed}-champion.json`))?.testAccuracy ?? null;

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/** Per 5-minute window: re-checks, how many crowned a new champion, the champion's age at the end. */
const windows = (r: Run) =>
  Array.from({ length: Math.ceil((r.budgetMinutes ?? 30) / 5) }, (_, w) => {
    const from = w * 300;
    const to = from + 300;
    const at = r.checkpoints.filter((c) => c.seconds > from && c.seconds <= to);
    const last = at[at.length - 1];
    const firstGen = r.checkpoints.filter((c) => c.seconds <= from).at(-1)?.generation ?? 0;
    const lastGen = last?.generation ?? firstGen;
    const inWindow = r.rechecks.filter((c) => c.gen >= firstGen && c.gen < lastGen);
    let crowned = 0;
    let previous = r.rechecks.filter((c) => c.gen < firstGen).at(-1)?.championGeneration;
    for (const c of inWindow) {
      if (c.championGeneration !== previous) crowned++;
      previous = c.championGeneration;
    }
    return {
      minutes: `${w * 5}–${w * 5 + 5}`,
      generations: [firstGen, lastGen],
      rechecks: inWindow.length,
      crowned,
      ensembleTest: last?.ensembleTestAccuracy ?? null,
      ensembleTrain: last?.ensembleTrainAccuracy ?? null,
      /** Generations since the champion was made, at the window's end. */
      championAge: last?.championGeneration === undefined ? null : last.generation - last.championGeneration,
      meanConnections: last?.meanConnections ?? null,
    };
  });

const perSeed = runs.map((r) => ({
  seed: r.seed,
  generations: r.generations,
  secondsPerGeneration: r.secondsPerGeneration,
  championConnections: r.championConnections,
  championHiddenNodes: r.championHiddenNodes,
  ensemble: r.ensembleTestAccuracy,
  tuned: r.tunedTestAccuracy,
  tunedWeight: r.tunedWeight,
  mean: r.meanTestAccuracy,
  trained: r.trainedTestAccuracy,
  trainingSteps: r.trainingSteps,
  trainedChosenDefaults: chosenTrained(r.seed),
  meanLoadAverage: r.meanLoadAverage,
  perMinute: r.checkpoints.map((c) => ({
    minute: Math.round(c.seconds / 60),
    generation: c.generation,
    ensemble: c.ensembleTestAccuracy,
    mean: c.meanTestAccuracy,
    ensembleTrain: c.ensembleTrainAccuracy ?? null,
  })),
  windows: windows(r),
}));

const med = {
  ensemble: median(perSeed.map((s) => s.ensemble)),
  tuned: median(perSeed.map((s) => s.tuned)),
  mean: median(perSeed.map((s) => s.mean)),
  trained: median(perSeed.map((s) => s.trained ?? 0)),
  trainedChosenDefaults: perSeed.every((s) => s.trainedChosenDefaults !== null)
    ? median(perSeed.map((s) => s.trainedChosenDefaults ?? 0))
    : null,
  generations: median(perSeed.map((s) => s.generations)),
  championConnections: median(perSeed.map((s) => s.championConnections)),
};
const meets = {
  ensemble: med.ensemble >= PAPER.ensemble,
  tuned: med.tuned >= PAPER.tuned,
  trained: (med.trainedChosenDefaults ?? med.trained) >= PAPER.trained,
};

writeFileSync(
  join(RESULTS, 'seeds.json'),
  `${JSON.stringify(
    {
      measured: runs.map((r) => r.measured).sort()[0],
      command: 'npm run search -- --minutes 30 --seed S --out bench/results/seeds-S.json',
      paper: PAPER,
      median: med,
      meetsPaper: meets,
      trainDefaults: trainDefaults?.chosen ?? null,
      seeds: perSeed,
    },
    null,
    2,
  )}\n`,
);

const pct = (x: number | null) => (x === null ? '–' : `${(100 * x).toFixed(2)} %`);
const mark = (ok: boolean) => (ok ? 'meets' : 'short');
const minutes = [1, 2, 5, 10, 15, 20, 25, 30];
const lines = [
  `| MNIST test accuracy | paper | ${perSeed.map((s) => `seed ${s.seed}`).join(' | ')} | median |`,
  `|---|---:|${perSeed.map(() => '---:').join('|')}|---:|`,
  `| ensemble of the 6 shared weights | 91.6 % | ${perSeed.map((s) => pct(s.ensemble)).join(' | ')} | **${pct(med.ensemble)}** (${mark(meets.ensemble)}) |`,
  `| tuned shared weight | 91.9 % | ${perSeed.map((s) => `${pct(s.tuned)} (w = ${s.tunedWeight})`).join(' | ')} | **${pct(med.tuned)}** (${mark(meets.tuned)}) |`,
  `| mean over the 6 weights | 82.0 % (random weights) | ${perSeed.map((s) => pct(s.mean)).join(' | ')} | ${pct(med.mean)} |`,
  `| trained weights, the search's own (${perSeed[0].trainingSteps} steps, constant lr) | 94.2 % | ${perSeed.map((s) => pct(s.trained)).join(' | ')} | ${pct(med.trained)} |`,
  ...(trainDefaults
    ? [
        `| trained weights, defaults chosen on validation (${trainDefaults.chosen.steps} steps, ${trainDefaults.chosen.schedule} lr ${trainDefaults.chosen.learningRate}) | 94.2 % | ${perSeed.map((s) => pct(s.trainedChosenDefaults)).join(' | ')} | **${pct(med.trainedChosenDefaults)}** (${mark(meets.trained)}) |`,
      ]
    : []),
  `| generations in 30 min | 4,096 | ${perSeed.map((s) => s.generations.toLocaleString('en')).join(' | ')} | ${med.generations.toLocaleString('en')} |`,
  `| champion connections (hidden nodes) | – | ${perSeed.map((s) => `${s.championConnections} (${s.championHiddenNodes})`).join(' | ')} | ${med.championConnections} |`,
  '',
  "Ensemble test accuracy of each seed's champion by minute (training shards 0–4 in brackets: the same champion on images the search saw):",
  '',
  `| minute | ${minutes.join(' | ')} |`,
  `|---|${minutes.map(() => '---:').join('|')}|`,
  ...perSeed.map(
    (s) =>
      `| seed ${s.seed} | ${minutes
        .map((m) => {
          const c = s.perMinute.find((p) => p.minute === m);
          return c
            ? `${(100 * c.ensemble).toFixed(2)} (${c.ensembleTrain === null ? '–' : (100 * c.ensembleTrain).toFixed(1)})`
            : '–';
        })
        .join(' | ')} |`,
  ),
  '',
  'Re-checks that crowned a new champion, per 5 minutes (of all re-checks in that window):',
  '',
  `| seed | ${perSeed[0].windows.map((w) => `min ${w.minutes}`).join(' | ')} |`,
  `|---|${perSeed[0].windows.map(() => '---:').join('|')}|`,
  ...perSeed.map(
    (s) => `| ${s.seed} | ${s.windows.map((w) => `${w.crowned} / ${w.rechecks}`).join(' | ')} |`,
  ),
  '',
  `_Measured ${runs.map((r) => r.measured).sort()[0]} by \`npm run search -- --minutes 30 --seed S\` (2 threads, mean load average ${perSeed.map((s) => s.meanLoadAverage).join(' / ')} on 2 cores, one run at a time, nothing else running); \`bench/results/seeds.json\` (\`npm run bench:seeds\` gathers it from \`bench/results/seeds-S.json\`)._`,
];
updateReadmeTable('seeds', lines.join('\n'));
console.log(lines.join('\n'));
