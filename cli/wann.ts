/**
 * `wann`: start, watch, share and query WANN searches from a terminal.
 *
 *   wann start --population 64 --generations 50 --seed 1 [--watch]
 *   wann watch <run>                 progress bar with live best fitness and accuracy
 *   wann predict <run> digit.png     the published model's answer for a PNG
 *   wann share <run> --expires 7d    a read-only link for a collaborator
 *
 * <run> is a run id, a run page URL, or a share link URL (then no API token is needed to watch or
 * predict). Base URL and token: --url / WANN_URL (default http://127.0.0.1:8787), --token / WANN_TOKEN.
 */
import { readFileSync } from 'node:fs';
import { Presets, SingleBar } from 'cli-progress';
import { Command, InvalidArgumentError, Option } from 'commander';
import type { ChampionRecord, GenerationRecord } from '../src/wann/record';
import { CliError, Client, type RunTarget, readSse, runTarget } from './client';

/** What the CLI shows of a champion (run resources and status events carry at least this). */
type Champion = Pick<ChampionRecord, 'fitness' | 'generation' | 'connections' | 'accuracy'>;

interface Run {
  id: string;
  status: string;
  generation: number;
  generations: number;
  bestFitness: number | null;
  champion: Champion | null;
  error: string | null;
  config: { seed: number; population: number };
  urls: Record<string, string>;
}

interface Snapshot {
  status: string;
  generation: number;
  generations: number;
  bestEverFitness: number | null;
  champion: Champion | null;
  error: string | null;
}

const TERMINAL = new Set(['completed', 'cancelled', 'failed']);

function integer(name: string, min: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < min) {
      throw new InvalidArgumentError(`${name} must be an integer ≥ ${min}`);
    }
    return n;
  };
}

const mean = (xs: readonly number[] | null | undefined) =>
  xs?.length ? xs.reduce((a, b) => a + b, 0) / xs.length : null;
const fixed = (v: number | null | undefined, digits = 4) =>
  typeof v === 'number' && Number.isFinite(v) ? v.toFixed(digits) : '–';
const percent = (v: number | null | undefined) =>
  typeof v === 'number' && Number.isFinite(v) ? `${(v * 100).toFixed(1)}%` : '–';

const program = new Command()
  .name('wann')
  .description('Start, watch, share and query Weight Agnostic Neural Network searches')
  .addOption(
    new Option('--url <url>', 'base URL of the platform').env('WANN_URL').default('http://127.0.0.1:8787'),
  )
  .addOption(
    new Option('--token <token>', 'API token (or a share token: reads and predictions of its run)').env(
      'WANN_TOKEN',
    ),
  )
  .showHelpAfterError()
  .configureOutput({ outputError: (text, write) => write(text) });

function client(): Client {
  const { url, token } = program.opts<{ url: string; token?: string }>();
  return new Client({ url, token });
}

function target(arg: string): { api: Client; run: RunTarget } {
  const base = client();
  const run = runTarget(arg, base.base);
  return { api: run.base === base.base ? base : base.withBase(run.base), run };
}

function summary(id: string, s: Snapshot | Run): string {
  const best = 'bestEverFitness' in s ? s.bestEverFitness : s.bestFitness;
  const parts = [
    `run ${id} ${s.status}: generation ${s.generation}/${s.generations}`,
    `best fitness ${fixed(best)}`,
    `champion accuracy ${percent(mean(s.champion?.accuracy))}`,
  ];
  if (s.champion) parts.push(`${s.champion.connections} connections`);
  return parts.join(', ') + (s.error ? `\n  error: ${s.error}` : '');
}

program
  .command('start')
  .description('start a search and print its page URL')
  .option('--population <n>', 'genomes per generation', integer('population', 1))
  .option('--generations <n>', 'generation budget', integer('generations', 1))
  .option('--seed <n>', 'random seed (default: the server draws one)', integer('seed', 0))
  .option('--slice-size <n>', 'genomes per slice task (never changes results)', integer('slice size', 1))
  .option(
    '--train-shards <n>',
    'training shards (1,000 images each) batches are drawn from',
    integer('train shards', 1),
  )
  .option('--config <json>', 'more config fields as a JSON object, e.g. \'{"probAddNode":0.3}\'')
  .option('--watch', 'then watch it until it ends')
  .action(
    async (opts: {
      population?: number;
      generations?: number;
      seed?: number;
      sliceSize?: number;
      trainShards?: number;
      config?: string;
      watch?: boolean;
    }) => {
      let extra: Record<string, unknown> = {};
      if (opts.config) {
        try {
          extra = JSON.parse(opts.config) as Record<string, unknown>;
        } catch (e) {
          throw new CliError(`--config is not JSON: ${(e as Error).message}`, 2);
        }
        if (typeof extra !== 'object' || extra === null || Array.isArray(extra)) {
          throw new CliError('--config must be a JSON object', 2);
        }
      }
      const config = {
        ...extra,
        ...(opts.population !== undefined && { population: opts.population }),
        ...(opts.generations !== undefined && { generations: opts.generations }),
        ...(opts.seed !== undefined && { seed: opts.seed }),
        ...(opts.sliceSize !== undefined && { sliceSize: opts.sliceSize }),
        ...(opts.trainShards !== undefined && { trainShards: opts.trainShards }),
      };
      const api = client();
      const run = await api.json<Run>('/api/runs', { method: 'POST', json: config, auth: 'required' });
      console.log(run.urls.page);
      console.error(
        `started run ${run.id}: population ${run.config.population}, ${run.generations} generations, seed ${run.config.seed}`,
      );
      if (opts.watch) process.exitCode = await watch(api, runTarget(run.id, api.base));
    },
  );

program
  .command('watch')
  .description('show a progress bar with the live best fitness and accuracy until the run ends')
  .argument('<run>', 'run id, run page URL or share link URL')
  .action(async (arg: string) => {
    const { api, run } = target(arg);
    process.exitCode = await watch(api, run);
  });

async function watch(api: Client, target: RunTarget): Promise<number> {
  const run = await api.json<Run>(target.api, { auth: 'optional' });
  if (TERMINAL.has(run.status)) {
    // Already over (small runs finish in a second): show the final progress line, then the summary.
    process.stderr.write(
      `gen ${run.generation}/${run.generations} | best fitness ${fixed(run.bestFitness)} | accuracy ${percent(mean(run.champion?.accuracy))}\n`,
    );
    console.log(summary(run.id, run));
    return run.status === 'completed' ? 0 : 1;
  }
  const bar = new SingleBar(
    {
      format:
        'gen {value}/{total} {bar} {percentage}% | best fitness {best} | accuracy {acc} | ETA {eta_formatted}',
      hideCursor: true,
      noTTYOutput: true,
      notTTYSchedule: 2000,
      etaBuffer: 20,
      stream: process.stderr,
    },
    Presets.shades_classic,
  );
  bar.start(run.generations, run.generation, {
    best: fixed(run.bestFitness),
    acc: percent(mean(run.champion?.accuracy)),
  });
  let since = run.generation - 1;
  let final: Snapshot | null = null;
  let failures = 0;
  try {
    while (!final) {
      try {
        const res = await api.fetch(`${target.api}/events?since=${since}`, {
          accept: 'text/event-stream',
          auth: 'optional',
        });
        failures = 0;
        for await (const event of readSse(res.body!)) {
          if (event.event === 'generation') {
            const g: GenerationRecord = JSON.parse(event.data);
            since = g.gen;
            bar.update(g.gen + 1, {
              best: fixed(g.bestEverFitness),
              acc: percent(g.championAccuracy),
            });
          } else if (event.event === 'status') {
            const s = JSON.parse(event.data) as Snapshot | null;
            if (s) {
              bar.setTotal(s.generations);
              bar.update(s.generation, {
                best: fixed(s.bestEverFitness),
                acc: percent(mean(s.champion?.accuracy)),
              });
              if (TERMINAL.has(s.status)) {
                final = s;
                break;
              }
            }
          }
        }
      } catch (e) {
        if (e instanceof CliError && !/cannot reach/.test(e.message)) throw e;
        if (++failures > 5) throw e;
      }
      if (!final) await new Promise((r) => setTimeout(r, 1000)); // the stream ended early: reconnect
    }
  } finally {
    bar.stop();
  }
  console.log(summary(run.id, final));
  return final.status === 'completed' ? 0 : 1;
}

program
  .command('status')
  .description("print a run's status once")
  .argument('<run>', 'run id, run page URL or share link URL')
  .action(async (arg: string) => {
    const { api, run } = target(arg);
    const r = await api.json<Run>(run.api, { auth: 'optional' });
    console.log(summary(r.id, r));
  });

program
  .command('predict')
  .description("classify digit images (PNG) with the run's published model")
  .argument('<run>', 'run id, run page URL or share link URL (with predict scope)')
  .argument('<png...>', 'PNG files: a digit, light on dark like MNIST, any size')
  .option('--top-k <k>', 'how many classes to show', integer('top-k', 1), 3)
  .option('--weight <w>', 'a single shared weight instead of the ensemble')
  .action(async (arg: string, files: string[], opts: { topK: number; weight?: string }) => {
    const { api, run } = target(arg);
    const query = new URLSearchParams({ top_k: String(opts.topK) });
    if (opts.weight !== undefined) query.set('shared_weight', opts.weight);
    for (const file of files) {
      let bytes: Uint8Array;
      try {
        bytes = new Uint8Array(readFileSync(file));
      } catch (e) {
        throw new CliError(`cannot read ${file}: ${(e as Error).message}`, 2);
      }
      const body = await api.json<{ predictions: { label: number; score: number }[][] }>(
        `${run.api}/predict?${query}`,
        { method: 'POST', body: bytes, contentType: 'image/png', auth: run.share ? undefined : 'required' },
      );
      const top = body.predictions[0] ?? [];
      console.log(`${file}: ${top.map((p) => `${p.label} (${(p.score * 100).toFixed(1)}%)`).join(', ')}`);
    }
  });

program
  .command('share')
  .description('create a read-only share link (or list / revoke them)')
  .argument('<run>', 'run id or run page URL')
  .option('--expires <duration>', 'lifetime, e.g. 12h, 7d, 30d (default 30d)')
  .option('--predict', 'let link holders ask for predictions too (scope view+predict)')
  .option('--list', "list this run's links instead")
  .option('--revoke <linkId>', 'revoke a link instead')
  .action(
    async (arg: string, opts: { expires?: string; predict?: boolean; list?: boolean; revoke?: string }) => {
      const { api, run } = target(arg);
      if (run.share)
        throw new CliError('share links are managed with the run id and the API token, not a share link', 2);
      interface Link {
        id: string;
        scope: string;
        status: string;
        expiresAt: string;
        revokedAt: string | null;
        url?: string;
      }
      if (opts.list) {
        const { links } = await api.json<{ links: Link[] }>(`${run.api}/share`, { auth: 'required' });
        if (links.length === 0) console.log('no share links');
        for (const l of links) {
          console.log(`${l.id}  ${l.status.padEnd(7)}  ${l.scope.padEnd(12)}  expires ${l.expiresAt}`);
        }
        return;
      }
      if (opts.revoke) {
        const l = await api.json<Link>(`${run.api}/share/${encodeURIComponent(opts.revoke)}`, {
          method: 'DELETE',
          auth: 'required',
        });
        console.log(`revoked ${l.id} (at ${l.revokedAt})`);
        return;
      }
      const link = await api.json<Link>(`${run.api}/share`, {
        method: 'POST',
        json: {
          scope: opts.predict ? 'view+predict' : 'view',
          ...(opts.expires && { expiresIn: opts.expires }),
        },
        auth: 'required',
      });
      console.log(link.url);
      console.error(
        `scope ${link.scope}, expires ${link.expiresAt}, link id ${link.id} (revoke: wann share ${run.id} --revoke ${link.id})`,
      );
    },
  );

program
  .command('cancel')
  .description('cancel a running search')
  .argument('<run>', 'run id or run page URL')
  .action(async (arg: string) => {
    const { api, run } = target(arg);
    const r = await api.json<Run>(`${run.api}/cancel`, { method: 'POST', auth: 'required' });
    console.log(summary(r.id, r));
  });

try {
  await program.parseAsync();
} catch (e) {
  if (e instanceof CliError) {
    console.error(`wann: ${e.message}`);
    process.exitCode = e.exitCode;
  } else {
    throw e;
  }
}
