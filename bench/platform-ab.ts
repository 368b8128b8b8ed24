/**
 * The local platform's fixed cost per generation, this checkout against another (a baseline tree
 * with node_modules and data linked): small searches whose evaluation is short, so what they take
 * is mostly the per-generation overhead (queue hops, storage, reports). Rounds alternate the two
 * trees, each round a fresh `npm start` of each, so the others' load on the machine falls on both.
 *
 *   npx tsx bench/platform-ab.ts --base /tmp/pbase [--population 64] [--generations 30] [--rounds 2]
 *     [--slice-size 64] [--out FILE]
 *
 * Records bench/results/platform-ab.json: per tree and round the search's wall seconds (the run's
 * own startedAt → finishedAt) and seconds per generation; the ratio of the medians.
 */
import { writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const HERE = fileURLToPath(new URL('.', import.meta.url));
const { values: args } = parseArgs({
  options: {
    base: { type: 'string' },
    population: { type: 'string', default: '64' },
    generations: { type: 'string', default: '30' },
    seed: { type: 'string', default: '1' },
    /** Members per slice task: small slices give many per generation (lanes stay busy per peer). */
    'slice-size': { type: 'string', default: '64' },
    rounds: { type: 'string', default: '2' },
    evaluators: { type: 'string' },
    out: { type: 'string', default: join(HERE, 'results', 'platform-ab.json') },
  },
});
if (!args.base) throw new Error('--base DIR: the baseline checkout to compare with');
const trees = { base: resolve(args.base), this: resolve(HERE, '..') };
const body = {
  population: Number(args.population),
  generations: Number(args.generations),
  seed: Number(args.seed),
  sliceSize: Number(args['slice-size']),
};

interface Platform {
  url: string;
  token: string;
  stop(): Promise<void>;
}
type Start = (o: { evaluators?: number }) => Promise<Platform>;

async function timedSearch(root: string): Promise<{ seconds: number; load: number }> {
  const { startLocalPlatform } = (await import(join(root, 'scripts', 'local-platform.ts'))) as {
    startLocalPlatform: Start;
  };
  const platform = await startLocalPlatform(
    args.evaluators === undefined ? {} : { evaluators: Number(args.evaluators) },
  );
  try {
    const headers = { Authorization: `Bearer ${platform.token}`, 'Content-Type': 'application/json' };
    const res = await fetch(`${platform.url}/api/runs`, {
      method: 'POST',
      headers,
      body: JSON.stringify(body),
    });
    if (res.status !== 202) throw new Error(`POST /api/runs → ${res.status} ${await res.text()}`);
    const { id } = (await res.json()) as { id: string };
    const load0 = loadavg()[0];
    for (;;) {
      await new Promise((r) => setTimeout(r, 500));
      const run = (await (await fetch(`${platform.url}/api/runs/${id}`, { headers })).json()) as {
        status: string;
        error: string | null;
        timings: { elapsedMs: number | null };
      };
      if (run.status === 'completed') {
        return { seconds: (run.timings.elapsedMs ?? Number.NaN) / 1000, load: (load0 + loadavg()[0]) / 2 };
      }
      if (run.status !== 'running' && run.status !== 'queued')
        throw new Error(`run ${id}: ${run.status} ${run.error}`);
    }
  } finally {
    await platform.stop();
  }
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

const runs: {
  tree: keyof typeof trees;
  round: number;
  seconds: number;
  perGeneration: number;
  load: number;
}[] = [];
for (let round = 0; round < Number(args.rounds); round++) {
  // Alternate which goes first, so a trend in the machine's load does not favour one.
  const order: (keyof typeof trees)[] = round % 2 === 0 ? ['base', 'this'] : ['this', 'base'];
  for (const tree of order) {
    const { seconds, load } = await timedSearch(trees[tree]);
    const perGeneration = seconds / body.generations;
    runs.push({ tree, round, seconds, perGeneration, load });
    console.log(
      `round ${round} ${tree}: ${seconds.toFixed(2)} s, ${perGeneration.toFixed(3)} s/generation (load ${load.toFixed(1)})`,
    );
  }
}
const of = (tree: keyof typeof trees) => runs.filter((r) => r.tree === tree).map((r) => r.perGeneration);
const ratio = median(of('this')) / median(of('base'));
const result = {
  date: new Date().toISOString(),
  config: body,
  evaluators: args.evaluators ?? 'default (one per core)',
  base: trees.base,
  runs,
  medianSecondsPerGeneration: { base: median(of('base')), this: median(of('this')) },
  ratioThisToBase: ratio,
};
console.log(
  `median s/generation: base ${result.medianSecondsPerGeneration.base.toFixed(3)}, this ${result.medianSecondsPerGeneration.this.toFixed(3)}; ratio ${ratio.toFixed(3)}`,
);
writeFileSync(args.out ?? join(HERE, 'results', 'platform-ab.json'), `${JSON.stringify(result, null, 2)}\n`);
