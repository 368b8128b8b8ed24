/**
 * `wann`: start, watch, share and query WANN searches from a terminal.
 *
 *   wann start --population 64 --generations 50 --seed 1 --name baseline --tags a,b [--watch]
 *   wann start --from <run> [--seed N | --seeds 1,2,3] [--set key=value]…   a run (or a seed sweep) from a run's config
 *   wann list [--status running] [--tag baseline]   the runs table
 *   wann watch <run>                 progress bar with live best fitness, accuracy and ETA range
 *   wann edit <run> --name … --tags … --notes …
 *   wann fork <run> --generations 200 [--name …]
 *   wann compare <run> <run>…        side-by-side summary
 *   wann open <run> [--browser]      the run page's URL
 *   wann predict <run> digit.png     the published model's answer for a PNG
 *   wann share <run> --expires 7d    a read-only link for a collaborator
 *   wann share --list-all | --revoke-all   every run's links (the API token does not end them)
 *   wann datasets list               the datasets a run can search on (loaded on the server)
 *   wann datasets show <name>        a dataset's manifest: shapes, classes, splits, preprocessing, baseline
 *   wann datasets upload NAME FILE.csv [--label COL] [--test-fraction 0.1] [--test TEST.csv]
 *   wann datasets upload NAME IMAGES LABELS [--image-size 16|WxH] [--deskew] [--classes a,b,…]
 *                        [--test TEST-IMAGES TEST-LABELS]   upload an idx pair (gzipped or not)
 *   wann datasets delete <name>      delete an uploaded dataset no run uses
 *   wann start --dataset fashion-mnist …   a search on another dataset (default mnist)
 *   wann start --patience 200 …            stop once 200 generations bring no new champion
 *
 * <run> is a run id, any unique start of one (as `wann list` prints), a run page URL, or a share
 * link URL (then no API token is needed to watch or predict). Base URL and token: --url / WANN_URL (default http://127.0.0.1:8787), --token / WANN_TOKEN.
 */
import { spawn } from 'node:child_process';
import { closeSync, createReadStream, openSync, readFileSync, readSync, statSync } from 'node:fs';
import { basename } from 'node:path';
import { Readable } from 'node:stream';
import { gunzipSync, constants as zlibConstants } from 'node:zlib';
import { Presets, SingleBar } from 'cli-progress';
import { Command, InvalidArgumentError, Option } from 'commander';
import {
  bestEnsembleFigure,
  bestTrainedFigure,
  describeRunFigures,
  describeVersions,
  formatAccuracy,
  headlineTestFigure,
  RUN_FIGURES,
  type RunFigures,
  versionEnsembleAccuracy,
  versionMeanAccuracy,
  versionTrainedAccuracy,
} from '../src/api/figures';
import { describeAnswer, type ModelAnswer } from '../src/api/model-answer';
import { compareUrl, newRunConfig } from '../src/api/new-run';
import type {
  AllShareLinks,
  CreatedShareLink,
  DatasetBaseline,
  DatasetList,
  DatasetResource,
  GenerationRecord,
  GenerationsPage,
  ModelList,
  ModelResource,
  RevokedShareLinks,
  RunResource as Run,
  RunList,
  RunListEntry,
  ShareLinkList,
  ShareLinkResource,
  RunStatusEvent as Snapshot,
  UploadedDataset,
} from '../src/api/types';
import { TERMINAL_RUN_STATUSES } from '../src/api/vocabulary';
import { MIN_POPULATION } from '../src/wann/config-limits';
import { type EtaSample, estimateWithEarlyEnd, formatRange } from '../src/wann/eta';
import { championSinceInRecords, describeStop, earliestEnd } from '../src/wann/patience';
import {
  CliError,
  Client,
  cleartextRemote,
  describeCredential,
  type RunTarget,
  readSse,
  runTarget,
  terminalText,
} from './client';
import { isRunIdPrefix, parseSeeds, resolveRunPrefix, settings } from './run-args';

const TERMINAL: ReadonlySet<string> = new Set(TERMINAL_RUN_STATUSES);

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
const percent = formatAccuracy;

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

/** stdout and stderr lines, with server-provided text escaped for the terminal (`terminalText`). */
const out = (text: string) => console.log(terminalText(text));
const err = (text: string) => console.error(terminalText(text));

function client(): Client {
  const { url, token } = program.opts<{ url: string; token?: string }>();
  const api = new Client({ url, token });
  if (api.credential.kind === 'token' && cleartextRemote(api.credential.origin))
    err(
      `wann: warning: ${api.credential.origin} is plain http off this machine: the API token crosses the network readable; use https`,
    );
  return api;
}

/**
 * A run argument's client. A pasted URL is resolved against its own origin, and the CLI says on
 * stderr which credential it sends there (the API token only to WANN_URL's origin, a share link as
 * the capability it is, or nothing).
 */
async function target(arg: string): Promise<{ api: Client; run: RunTarget }> {
  const base = client();
  const run = runTarget(isRunIdPrefix(arg) ? await runIdOfPrefix(base, arg) : arg, base.base);
  const api = base.forRun(run);
  if (arg.includes('://') || api.credential.kind !== 'token')
    err(`wann: ${describeCredential(api.credential)}`);
  return { api, run };
}

/**
 * The run id a prefix stands for: the owner's runs whose text matches it (the list's `q` searches
 * ids too), of which exactly one id must start with it.
 */
async function runIdOfPrefix(api: Client, prefix: string): Promise<string> {
  const { runs } = await api.json<RunList>(`/api/runs?limit=100&q=${encodeURIComponent(prefix)}`, {
    auth: 'required',
  });
  return resolveRunPrefix(
    prefix,
    runs.map((r) => r.id),
  );
}

/**
 * The run's test figures and published versions (src/api/figures.ts): the versions from its
 * models, the re-check from its stats (null where the answer has none).
 */
async function testFigures(
  api: Client,
  target: RunTarget,
  run: Run,
): Promise<{ figures: RunFigures; versions: string }> {
  const { models } = await api.json<ModelList>(`${target.api}/models`, { auth: 'optional' });
  const check = run.stats?.checkTestAccuracy ?? null;
  return {
    figures: {
      ensembleTestAccuracy: bestEnsembleFigure(models),
      trainedTestAccuracy: bestTrainedFigure(models),
      checkTestAccuracy: check === null ? null : { value: check, generation: null },
    },
    versions: describeVersions(models),
  };
}

/** `summary` with the test figures and published versions below it. */
async function fullSummary(api: Client, target: RunTarget, id: string, s: Snapshot | Run): Promise<string> {
  const run = await api.json<Run>(target.api, { auth: 'optional' });
  const { figures, versions } = await testFigures(api, target, run);
  return `${summary(id, s)}\n  test: ${describeRunFigures(figures)}\n  published: ${versions}`;
}

function summary(id: string, s: Snapshot | Run): string {
  const best = 'bestEverFitness' in s ? s.bestEverFitness : s.bestFitness;
  const parts = [
    `run ${id} ${s.status}: generation ${s.generation}/${s.generations}`,
    `best fitness ${fixed(best)}`,
    `champion batch accuracy ${percent(mean(s.champion?.accuracy))}`,
  ];
  if (s.champion) parts.push(`${s.champion.connections} connections`);
  const stop = 'stop' in s && s.stop ? `\n  ${describeStop(s.stop)}` : '';
  return parts.join(', ') + stop + (s.error ? `\n  error: ${s.error}` : '');
}

interface IdentityOptions {
  name?: string;
  tags?: string;
  notes?: string;
}

/** The identity flags as the API's top-level keys (the server validates and normalises them). */
function identity(opts: IdentityOptions): { name?: string; tags?: string[]; notes?: string } {
  return {
    ...(opts.name !== undefined && { name: opts.name }),
    ...(opts.tags !== undefined && {
      tags: opts.tags
        .split(',')
        .map((t) => t.trim())
        .filter(Boolean),
    }),
    ...(opts.notes !== undefined && { notes: opts.notes }),
  };
}

function jsonObject(flag: string, text: string | undefined): Record<string, unknown> {
  if (text === undefined) return {};
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new CliError(`${flag} is not JSON: ${(e as Error).message}`, 2);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new CliError(`${flag} must be a JSON object`, 2);
  }
  return value as Record<string, unknown>;
}

/** An owner's run argument (id or run page URL): a share link cannot do this. */
async function ownerTarget(arg: string, what: string): Promise<{ api: Client; run: RunTarget }> {
  const t = await target(arg);
  if (t.run.share)
    throw new CliError(`${what} needs the run id (or its page URL) and the API token, not a share link`, 2);
  return t;
}

/** A table with a header row, columns padded to their widest cell. */
function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i])))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}

/** The test figure the runs table shows, labelled with which it is (src/api/figures.ts). */
function testAccuracy(r: RunListEntry): string {
  const shown = headlineTestFigure(r.stats);
  return shown ? `${percent(shown.value)} ${RUN_FIGURES[shown.figure].short}` : '–';
}

/** What the figure names in the runs table and compare mean, from their one definition. */
const FIGURES_LEGEND = (['ensembleTestAccuracy', 'checkTestAccuracy', 'trainedTestAccuracy'] as const)
  .map((f) => `"${RUN_FIGURES[f].short}" = ${RUN_FIGURES[f].label.toLowerCase()}`)
  .join('; ');

const short = (text: string, max: number) => (text.length > max ? `${text.slice(0, max - 1)}…` : text);

program
  .command('start')
  .description('start a search and print its page URL (--seeds: one run per seed, then a compare URL)')
  .option(
    '--from <run>',
    "start from this run's config (its seed is not carried: --seed, --seeds or a drawn one)",
  )
  .option('--population <n>', 'genomes per generation', integer('population', MIN_POPULATION))
  .option('--generations <n>', 'generation budget', integer('generations', 1))
  .option('--seed <n>', 'random seed (default: the server draws one)', integer('seed', 0))
  .option('--seeds <list>', 'a seed sweep: one run per seed, e.g. 1,2,3; prints a compare URL')
  .option('--slice-size <n>', 'genomes per slice task (never changes results)', integer('slice size', 1))
  .option(
    '--train-shards <n>',
    'training shards (1,000 images each) batches are drawn from',
    integer('train shards', 1),
  )
  .option('--dataset <name>', 'the dataset to search on (default mnist; `wann datasets list` shows them)')
  .option(
    '--patience <n>',
    'stop after this many generations without a new champion (default 0: off)',
    integer('patience', 0),
  )
  .option('--config <json>', 'more config fields as a JSON object, e.g. \'{"probAddNode":0.3}\'')
  .option(
    '--set <key=value>',
    'one config field, e.g. --set probAddNode=0.3 --set weights=-1,1 (repeatable)',
    (value: string, previous: string[] = []) => [...previous, value],
  )
  .option('--name <name>', 'a name for the run (up to 100 characters; with --from: its name and the seed)')
  .option('--tags <tags>', "comma-separated tags, e.g. baseline,mnist (with --from: the run's tags)")
  .option('--notes <text>', 'notes: what this run tries')
  .option('--watch', 'then watch it until it ends (not with --seeds)')
  .action(
    async (
      opts: {
        from?: string;
        population?: number;
        generations?: number;
        seed?: number;
        seeds?: string;
        sliceSize?: number;
        trainShards?: number;
        dataset?: string;
        patience?: number;
        config?: string;
        set?: string[];
        watch?: boolean;
      } & IdentityOptions,
    ) => {
      if (opts.seeds !== undefined && opts.seed !== undefined)
        throw new CliError('give --seed or --seeds, not both', 2);
      if (opts.seeds !== undefined && opts.watch)
        throw new CliError('--watch follows one run: with --seeds, open the compare URL instead', 2);
      const seeds: (number | undefined)[] = opts.seeds !== undefined ? parseSeeds(opts.seeds) : [opts.seed];
      const changes = {
        ...jsonObject('--config', opts.config),
        ...settings(opts.set ?? []),
        ...(opts.population !== undefined && { population: opts.population }),
        ...(opts.generations !== undefined && { generations: opts.generations }),
        ...(opts.sliceSize !== undefined && { sliceSize: opts.sliceSize }),
        ...(opts.trainShards !== undefined && { trainShards: opts.trainShards }),
        ...(opts.dataset !== undefined && { dataset: opts.dataset }),
        ...(opts.patience !== undefined && { patience: opts.patience }),
      };
      let api = client();
      let source: Run | null = null;
      if (opts.from !== undefined) {
        const from = await ownerTarget(opts.from, 'start --from');
        api = from.api;
        source = await api.json<Run>(from.run.api, { auth: 'required' });
      }
      const started: Run[] = [];
      for (const seed of seeds) {
        const config = source ? newRunConfig(source.config, changes) : { ...changes };
        if (seed !== undefined) config.seed = seed;
        const given = identity(opts);
        // From a run: its tags, and its name with the seed, so a sweep's runs tell apart.
        const named = source
          ? {
              name:
                given.name ??
                `${source.name || source.id.slice(0, 8)}${seed !== undefined ? ` seed ${seed}` : ''}`,
              tags: given.tags ?? source.tags,
              ...(given.notes !== undefined && { notes: given.notes }),
            }
          : given;
        let run: Run;
        try {
          run = await api.json<Run>('/api/runs', {
            method: 'POST',
            json: { ...config, ...named },
            auth: 'required',
          });
        } catch (e) {
          // A sweep stopped part way (e.g. 429: too many searches at once) says what did start.
          if (started.length && e instanceof CliError)
            throw new CliError(
              `${e.message}\n  started before it: ${started.map((r) => r.id).join(', ')}${
                started.length > 1
                  ? `\n  compare them: ${compareUrl(
                      api.base,
                      started.map((r) => r.id),
                    )}`
                  : ''
              }`,
            );
          throw e;
        }
        started.push(run);
        out(run.urls.page);
        err(
          `started run ${run.id}${run.name ? ` "${run.name}"` : ''}${source ? ` from ${source.id.slice(0, 8)}'s config` : ''}: population ${run.config.population}, ${run.generations} generations, seed ${run.config.seed}`,
        );
      }
      if (opts.seeds !== undefined) {
        const ids = started.map((r) => r.id);
        if (source) ids.unshift(source.id);
        out(compareUrl(api.base, ids));
        err(
          `compare: the ${source ? 'source run and the ' : ''}${started.length} new run${started.length === 1 ? '' : 's'} side by side`,
        );
      }
      if (opts.watch) process.exitCode = await watch(api, runTarget(started[0].id, api.base));
    },
  );

program
  .command('watch')
  .description('show a progress bar with the live best fitness and accuracy until the run ends')
  .argument('<run>', 'run id, run page URL or share link URL')
  .action(async (arg: string) => {
    const { api, run } = await target(arg);
    process.exitCode = await watch(api, run);
  });

/** A generation as the ETA reads it: its timing and size, and its champion (for patience). */
type HistorySample = EtaSample & Pick<GenerationRecord, 'champion'>;

const etaSample = (g: GenerationRecord): HistorySample => ({
  gen: g.gen,
  durationMs: g.durationMs,
  meanConnections: g.meanConnections,
  champion: g.champion,
});

/** Every finished generation's timing, size and champion (pages of the generations endpoint). */
async function generationHistory(api: Client, target: RunTarget): Promise<HistorySample[]> {
  const out: HistorySample[] = [];
  let path: string | null = `${target.api}/generations?limit=5000`;
  while (path) {
    const page: GenerationsPage = await api.json<GenerationsPage>(path, { auth: 'optional' });
    for (const g of page.generations) out.push(etaSample(g));
    path = page.next ? new URL(page.next).pathname + new URL(page.next).search : null;
  }
  return out;
}

async function watch(api: Client, target: RunTarget): Promise<number> {
  const run = await api.json<Run>(target.api, { auth: 'optional' });
  if (TERMINAL.has(run.status)) {
    // Already over (small runs finish in a second): show the final progress line, then the summary.
    err(
      `gen ${run.generation}/${run.generations} | best fitness ${fixed(run.bestFitness)} | batch accuracy ${percent(mean(run.champion?.accuracy))}`,
    );
    out(await fullSummary(api, target, run.id, run));
    return run.status === 'completed' ? 0 : 1;
  }
  const bar = new SingleBar(
    {
      format:
        'gen {value}/{total} {bar} {percentage}% | best fitness {best} | batch accuracy {acc} | ETA {remaining}',
      hideCursor: true,
      noTTYOutput: true,
      notTTYSchedule: 2000,
      stream: process.stderr,
    },
    Presets.shades_classic,
  );
  // The ETA is a range fitted to how seconds per generation grow with the networks (src/wann/eta.ts),
  // from every generation finished so far, not the progress bar's recent-rate guess.
  // With patience on, the low end is the soonest the run can stop (src/wann/patience.ts).
  const samples: HistorySample[] = await generationHistory(api, target);
  let total = run.generations;
  const eta = () => {
    const completed = samples.length ? samples[samples.length - 1].gen + 1 : 0;
    const patience = {
      generations: total,
      recheckEvery: Number(run.config.recheckEvery ?? 0),
      patience: Number(run.config.patience ?? 0),
    };
    const earliest = earliestEnd(patience, completed, championSinceInRecords(samples));
    const range = estimateWithEarlyEnd(samples, total, earliest);
    if (!range) return '–';
    return `${formatRange(range)}${earliest !== null && earliest < total ? ' (may stop early)' : ''}`;
  };
  bar.start(run.generations, run.generation, {
    best: fixed(run.bestFitness),
    acc: percent(mean(run.champion?.accuracy)),
    remaining: eta(),
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
            if (!samples.length || g.gen > samples[samples.length - 1].gen) samples.push(etaSample(g));
            bar.update(g.gen + 1, {
              best: fixed(g.bestEverFitness),
              // The champion's, as every other line of the bar (the record's `championAccuracy` is
              // the generation's best genome).
              acc: percent(mean(g.champion?.accuracy) ?? g.championAccuracy),
              remaining: eta(),
            });
          } else if (event.event === 'status') {
            const s = JSON.parse(event.data) as Snapshot | null;
            if (s) {
              total = s.generations;
              bar.setTotal(s.generations);
              bar.update(s.generation, {
                best: fixed(s.bestEverFitness),
                acc: percent(mean(s.champion?.accuracy)),
                // A cancelled or failed run is not "done": the bar says how it ended.
                remaining: TERMINAL.has(s.status) ? (s.status === 'completed' ? 'done' : s.status) : eta(),
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
  // A run that patience ended says so in its resource (the status event does not carry it); the
  // last line names the test figures and published versions (a publication at the end is in).
  const early = final.status === 'completed' && final.generation < final.generations;
  out(
    await fullSummary(
      api,
      target,
      run.id,
      early ? await api.json<Run>(target.api, { auth: 'optional' }) : final,
    ),
  );
  return final.status === 'completed' ? 0 : 1;
}

program
  .command('status')
  .description("print a run's status once")
  .argument('<run>', 'run id, run page URL or share link URL')
  .action(async (arg: string) => {
    const { api, run } = await target(arg);
    const r = await api.json<Run>(run.api, { auth: 'optional' });
    const { figures, versions } = await testFigures(api, run, r);
    out(`${summary(r.id, r)}\n  test: ${describeRunFigures(figures)}\n  published: ${versions}`);
    // The dataset's baseline beside the run's figures; a server without one prints nothing more.
    const dataset = await api
      .json<DatasetResource>(`${run.api}/dataset`, { auth: 'optional' })
      .catch(() => null);
    const line = baselineLine(dataset?.baseline);
    if (line) out(line);
  });

program
  .command('predict')
  .description("classify digit images (PNG) with the run's published model")
  .argument('<run>', 'run id, run page URL or share link URL (with predict scope)')
  .argument('<png...>', 'PNG files: a digit, light on dark like MNIST, any size')
  .option('--top-k <k>', 'how many classes to show', integer('top-k', 1), 3)
  .option('--weight <w>', 'a single shared weight instead of the ensemble')
  .option(
    '--version <n>',
    'the published version that answers (a trained one too); default: the newest',
    integer('version', 1),
  )
  .action(async (arg: string, files: string[], opts: { topK: number; weight?: string; version?: number }) => {
    const { api, run } = await target(arg);
    const query = new URLSearchParams({ top_k: String(opts.topK) });
    if (opts.weight !== undefined) query.set('shared_weight', opts.weight);
    if (opts.version !== undefined) query.set('version', String(opts.version));
    for (const file of files) {
      let bytes: Uint8Array;
      try {
        bytes = new Uint8Array(readFileSync(file));
      } catch (e) {
        throw new CliError(`cannot read ${file}: ${(e as Error).message}`, 2);
      }
      const body = await api.json<{
        model?: ModelAnswer;
        predictions: { label: number; score: number }[][];
      }>(`${run.api}/predict?${query}`, {
        method: 'POST',
        body: bytes,
        contentType: 'image/png',
        auth: run.share ? undefined : 'required',
      });
      const top = body.predictions[0] ?? [];
      // Which model answered, in the same words as the pages (src/api/model-answer.ts).
      const by = body.model ? ` (answered by ${describeAnswer(body.model)})` : '';
      out(`${file}: ${top.map((p) => `${p.label} (${(p.score * 100).toFixed(1)}%)`).join(', ')}${by}`);
    }
  });

program
  .command('share')
  .description('create a read-only share link (or list / revoke them, of one run or of all)')
  .argument('[run]', 'run id or run page URL (not with --list-all / --revoke-all)')
  .option('--expires <duration>', 'lifetime, e.g. 12h, 7d, 30d (default 30d)')
  .option('--predict', 'let link holders ask for predictions too (scope view+predict)')
  .option('--list', "list this run's links instead")
  .option('--revoke <linkId>', 'revoke a link instead')
  .option('--list-all', 'list the links of every run')
  .option('--revoke-all', 'revoke every link of every run (rotating the API token does not end them)')
  .action(async (arg: string | undefined, opts: ShareOptions) => {
    if (opts.listAll || opts.revokeAll) {
      if (arg !== undefined)
        throw new CliError('--list-all and --revoke-all take no run: they cover every run', 2);
      await allShareLinks(opts.revokeAll === true);
      return;
    }
    if (arg === undefined) throw new CliError('share needs a run id (or --list-all / --revoke-all)', 2);
    const { api, run } = await target(arg);
    if (run.share)
      throw new CliError('share links are managed with the run id and the API token, not a share link', 2);
    if (opts.list) {
      const { links } = await api.json<ShareLinkList>(`${run.api}/share`, { auth: 'required' });
      if (links.length === 0) out('no share links');
      for (const l of links) {
        out(`${l.id}  ${l.status.padEnd(7)}  ${l.scope.padEnd(12)}  expires ${l.expiresAt}`);
      }
      return;
    }
    if (opts.revoke) {
      const l = await api.json<ShareLinkResource>(`${run.api}/share/${encodeURIComponent(opts.revoke)}`, {
        method: 'DELETE',
        auth: 'required',
      });
      out(`revoked ${l.id} (at ${l.revokedAt})`);
      return;
    }
    const link = await api.json<CreatedShareLink>(`${run.api}/share`, {
      method: 'POST',
      json: {
        scope: opts.predict ? 'view+predict' : 'view',
        ...(opts.expires && { expiresIn: opts.expires }),
      },
      auth: 'required',
    });
    out(link.url);
    err(
      `scope ${link.scope}, expires ${link.expiresAt}, link id ${link.id} (revoke: wann share ${run.id} --revoke ${link.id})`,
    );
  });

interface ShareOptions {
  expires?: string;
  predict?: boolean;
  list?: boolean;
  revoke?: string;
  listAll?: boolean;
  revokeAll?: boolean;
}

/** `wann share --list-all` / `--revoke-all`: every run's links, on WANN_URL with the API token. */
async function allShareLinks(revoke: boolean): Promise<void> {
  const api = client();
  if (revoke) {
    const { revoked } = await api.json<RevokedShareLinks>('/api/share-links', {
      method: 'DELETE',
      auth: 'required',
    });
    out(`revoked ${revoked} share link${revoked === 1 ? '' : 's'}`);
    return;
  }
  const { links } = await api.json<AllShareLinks>('/api/share-links', { auth: 'required' });
  if (links.length === 0) {
    out('no share links');
    return;
  }
  out(
    table(
      ['link', 'run', 'status', 'scope', 'expires', 'revoked'],
      links.map((l) => [l.id, l.runId, l.status, l.scope, l.expiresAt, l.revokedAt ?? '-']),
    ),
  );
}

program
  .command('cancel')
  .description('cancel a running search')
  .argument('<run>', 'run id or run page URL')
  .action(async (arg: string) => {
    const { api, run } = await target(arg);
    const r = await api.json<Run>(`${run.api}/cancel`, { method: 'POST', auth: 'required' });
    out(summary(r.id, r));
  });

program
  .command('list')
  .description('the runs table: newest first, with status, progress, config and test accuracy')
  .option(
    '--status <statuses>',
    'only these statuses, comma-separated (queued, running, completed, cancelled, failed)',
  )
  .option('--tag <tag>', 'only runs with this tag')
  .option('--search <text>', 'only runs whose name, notes, tags or id contain this')
  .option(
    '--limit <n>',
    'at most this many runs (pages of 100 are fetched as needed)',
    integer('limit', 1),
    20,
  )
  .option('--json', 'print the run list entries as JSON instead')
  .action(async (opts: { status?: string; tag?: string; search?: string; limit: number; json?: boolean }) => {
    const api = client();
    const query = new URLSearchParams({ limit: String(Math.min(opts.limit, 100)) });
    if (opts.status) query.set('status', opts.status);
    if (opts.tag) query.set('tag', opts.tag);
    if (opts.search) query.set('q', opts.search);
    const entries: RunListEntry[] = [];
    let path: string | null = `/api/runs?${query}`;
    while (path && entries.length < opts.limit) {
      const page: RunList = await api.json<RunList>(path, { auth: 'required' });
      entries.push(...page.runs);
      path = page.next ? new URL(page.next).pathname + new URL(page.next).search : null;
    }
    const runs = entries.slice(0, opts.limit);
    if (opts.json) {
      out(JSON.stringify(runs, null, 2));
      return;
    }
    if (runs.length === 0) {
      out(opts.status || opts.tag || opts.search ? 'no run matches' : 'no runs yet (wann start)');
      return;
    }
    out(
      table(
        [
          'RUN',
          'NAME',
          'TAGS',
          'STATUS',
          'GEN',
          'POP',
          'SEED',
          'BEST FITNESS',
          'TEST ACC',
          'TRAINED',
          'CREATED',
        ],
        runs.map((r) => [
          r.id.slice(0, 8),
          short(r.name || '–', 32),
          short(r.tags.join(',') || '–', 28),
          r.status,
          `${r.generation}/${r.generations}`,
          String(r.config.population),
          String(r.config.seed),
          fixed(r.bestFitness),
          testAccuracy(r),
          percent(r.stats.trainedTestAccuracy),
          r.timings.createdAt.slice(0, 16).replace('T', ' '),
        ]),
      ),
    );
    err(
      `TEST ACC: ${FIGURES_LEGEND}. RUN: any unique start of an id works where a run is asked for. BEST FITNESS is on training batches.`,
    );
    if (path) err(`(more runs: --limit ${opts.limit + 100})`);
  });

program
  .command('edit')
  .description("change a run's name, tags or notes")
  .argument('<run>', 'run id or run page URL')
  .option('--name <name>', 'the new name ("" clears it)')
  .option('--tags <tags>', 'the new tags, comma-separated ("" clears them)')
  .option('--notes <text>', 'the new notes ("" clears them)')
  .action(async (arg: string, opts: IdentityOptions) => {
    const { api, run } = await ownerTarget(arg, 'edit');
    const edit = identity(opts);
    if (Object.keys(edit).length === 0) throw new CliError('give at least one of --name, --tags, --notes', 2);
    const r = await api.json<Run>(run.api, { method: 'PATCH', json: edit, auth: 'required' });
    out(
      `run ${r.id}: name "${r.name}", tags [${r.tags.join(', ')}]${r.notes ? `, notes: ${short(r.notes.replace(/\s+/g, ' '), 60)}` : ''}`,
    );
  });

program
  .command('fork')
  .description(
    'continue a run from its latest generation with changes (same population); prints the new page URL',
  )
  .argument('<run>', 'run id or run page URL')
  .option(
    '--generations <n>',
    'generation budget of the fork (more than the source has finished)',
    integer('generations', 1),
  )
  .option('--seed <n>', 'random seed from the fork point on', integer('seed', 0))
  .option('--config <json>', 'more config changes as a JSON object')
  .option('--name <name>', 'a name (default: "<source name> (fork)")')
  .option('--tags <tags>', "comma-separated tags (default: the source's)")
  .option('--notes <text>', 'notes')
  .option('--watch', 'then watch it until it ends')
  .action(
    async (
      arg: string,
      opts: { generations?: number; seed?: number; config?: string; watch?: boolean } & IdentityOptions,
    ) => {
      const { api, run } = await ownerTarget(arg, 'fork');
      const body = {
        ...jsonObject('--config', opts.config),
        ...identity(opts),
        ...(opts.generations !== undefined && { generations: opts.generations }),
        ...(opts.seed !== undefined && { seed: opts.seed }),
      };
      const fork = await api.json<Run>(`${run.api}/fork`, { method: 'POST', json: body, auth: 'required' });
      out(fork.urls.page);
      err(
        `forked run ${fork.id} "${fork.name}" from generation ${fork.forkOf?.generation} of ${fork.forkOf?.runId}: ${fork.generations} generations`,
      );
      if (opts.watch) process.exitCode = await watch(api, runTarget(fork.id, api.base));
    },
  );

program
  .command('compare')
  .description(
    'a side-by-side summary of runs: config, status, progress, fitness, test accuracy, size, speed',
  )
  .argument('<runs...>', 'two or more run ids or run page URLs')
  .action(async (args: string[]) => {
    if (args.length < 2) throw new CliError('compare needs two or more runs', 2);
    const targets = [];
    for (const a of args) targets.push(await ownerTarget(a, 'compare'));
    const ids = targets.map((t) => t.run.id!);
    const { api } = targets[0];
    const { runs } = await api.json<RunList>(`/api/runs?limit=100&ids=${[...new Set(ids)].join(',')}`, {
      auth: 'required',
    });
    const byId = new Map(runs.map((r) => [r.id, r]));
    const missing = ids.filter((id) => !byId.has(id));
    if (missing.length) throw new CliError(`no run with id ${missing.join(', ')}`);
    const cols = ids.map((id) => byId.get(id)!);
    const rows: [string, (r: RunListEntry) => string][] = [
      ['name', (r) => short(r.name || '–', 28)],
      ['tags', (r) => short(r.tags.join(',') || '–', 28)],
      ['status', (r) => r.status],
      ['generations', (r) => `${r.generation}/${r.generations}`],
      ['forked from', (r) => (r.forkOf ? `${r.forkOf.runId.slice(0, 8)} @ ${r.forkOf.generation}` : '–')],
      ['best fitness (training batches)', (r) => fixed(r.bestFitness)],
      ['champion batch accuracy', (r) => percent(mean(r.champion?.accuracy))],
      [RUN_FIGURES.ensembleTestAccuracy.label.toLowerCase(), (r) => percent(r.stats.ensembleTestAccuracy)],
      [RUN_FIGURES.trainedTestAccuracy.label.toLowerCase(), (r) => percent(r.stats.trainedTestAccuracy)],
      [RUN_FIGURES.checkTestAccuracy.label.toLowerCase(), (r) => percent(r.stats.checkTestAccuracy)],
      ['champion connections', (r) => (r.champion ? String(r.champion.connections) : '–')],
      [
        's/gen (elapsed / generations)',
        (r) =>
          r.timings.elapsedMs !== null && r.generation > 0
            ? (r.timings.elapsedMs / 1000 / r.generation).toFixed(2)
            : '–',
      ],
    ];
    // Config: every key any of the runs has; the ones that differ are marked with *.
    const keys = [...new Set(cols.flatMap((r) => Object.keys(r.config)))]
      .filter((k) => k !== 'forkOf')
      .sort();
    const show = (v: unknown) => (v === undefined ? '–' : Array.isArray(v) ? v.join(',') : String(v));
    for (const key of keys) {
      const values = cols.map((r) => show((r.config as Record<string, unknown>)[key]));
      const differs = new Set(values).size > 1;
      rows.push([
        `${differs ? '* ' : '  '}config.${key}`,
        (r) => show((r.config as Record<string, unknown>)[key]),
      ]);
    }
    out(
      table(
        ['', ...cols.map((r) => r.id.slice(0, 8))],
        rows.map(([label, f]) => [label, ...cols.map(f)]),
      ),
    );
    err('* config fields that differ.');
  });

// Published models and trained weights (workers/models/train.ts).
function modelRow(m: ModelResource): string[] {
  const t = m.training;
  return [
    String(m.version),
    m.variant === 'trained' ? `trained from v${m.trainedFrom}` : 'shared',
    String(m.generation),
    String(m.connections),
    percent(versionMeanAccuracy(m)),
    percent(versionEnsembleAccuracy(m)),
    m.variant === 'trained'
      ? percent(versionTrainedAccuracy(m))
      : `${percent(m.tunedTestAccuracy)} (w ${m.tunedWeight})`,
    t
      ? `${t.status} ${t.step}/${t.steps}${t.version ? ` → v${t.version}` : ''}${t.error ? `: ${t.error}` : ''}`
      : '',
  ];
}

const MODEL_HEADER = [
  'version',
  'variant',
  'gen',
  'conns',
  'mean',
  'ensemble',
  'tuned / trained',
  'training',
];

program
  .command('models')
  .description('published model versions: test accuracies (shared weights and trained), training progress')
  .argument('<run>', 'run id, run page URL or share link URL')
  .action(async (arg: string) => {
    const { api, run } = await target(arg);
    const list = await api.json<ModelList>(`${run.api}/models`, { auth: 'optional' });
    if (list.models.length === 0) out('no published model yet');
    else out(table(MODEL_HEADER, list.models.map(modelRow)));
  });

program
  .command('train')
  .description("train a published model's per-connection weights (queued work); prints its progress")
  .argument('<run>', 'run id or run page URL')
  .option(
    '--version <n>',
    'the shared-weight version to train (default: the newest one)',
    integer('version', 1),
  )
  .option(
    '--steps <n>',
    'Adam steps of 128 training images (default 32,000: ~68 epochs; at most 64,000)',
    integer('steps', 1),
  )
  .option('--wait', 'then wait until it is done and print the trained version')
  .action(async (arg: string, opts: { version?: number; steps?: number; wait?: boolean }) => {
    const { api, run } = await ownerTarget(arg, 'training');
    let version = opts.version;
    if (version === undefined) {
      const list = await api.json<ModelList>(`${run.api}/models`, { auth: 'optional' });
      version = list.models.find((m) => (m.variant ?? 'shared') === 'shared')?.version;
      if (version === undefined) throw new CliError(`run ${run.id} has no published shared-weight model yet`);
    }
    let m = await api.json<ModelResource>(`${run.api}/models/${version}/train`, {
      method: 'POST',
      json: opts.steps === undefined ? {} : { steps: opts.steps },
      auth: 'required',
    });
    out(table(MODEL_HEADER, [modelRow(m)]));
    if (!opts.wait) return;
    let last = '';
    while (m.training && (m.training.status === 'queued' || m.training.status === 'running')) {
      await new Promise((r) => setTimeout(r, 2_000));
      m = await api.json<ModelResource>(`${run.api}/models/${version}`, { auth: 'optional' });
      const line = `step ${m.training?.step}/${m.training?.steps}, loss ${fixed(m.training?.loss)}`;
      if (line !== last) err(line);
      last = line;
    }
    if (m.training?.status !== 'done' || !m.training.version) {
      throw new CliError(`training failed: ${m.training?.error ?? 'unknown reason'}`);
    }
    const trained = await api.json<ModelResource>(`${run.api}/models/${m.training.version}`, {
      auth: 'optional',
    });
    out(table(MODEL_HEADER, [modelRow(trained)]));
  });

// Datasets (read-only: workers/api/datasets.ts).
function datasetRow(d: DatasetResource): string[] {
  const p = d.preprocessing;
  return [
    d.name,
    d.kind,
    d.rawShape.join('×'),
    String(d.features),
    String(d.classes.length),
    `${d.splits.train.toLocaleString('en')} / ${d.splits.test.toLocaleString('en')}`,
    p.kind === 'image' ? `resize ${p.width}×${p.height}${p.deskew ? ', deskew' : ''}` : 'standardise',
  ];
}

/** A dataset's softmax-regression baseline in one line (null where the server gives none). */
function baselineLine(b: DatasetBaseline | null | undefined): string | null {
  if (!b) return null;
  if (b.status !== 'ready') return `baseline: ${b.status}${b.error ? ` (${b.error})` : ''}`;
  return `baseline (softmax regression, ${b.weights.toLocaleString('en')} weights): test ${percent(b.testAccuracy)}, ${b.epochs} epochs chosen on validation (${percent(b.validationAccuracy)})`;
}

const DATASET_HEADER = ['name', 'kind', 'raw', 'features', 'classes', 'train / test', 'preprocessing'];

const datasets = program.command('datasets').description('the datasets a run can search on');
datasets
  .command('list')
  .description('the datasets loaded on the server, and every upload with its build state')
  .action(async () => {
    const list = await client().json<DatasetList>('/api/datasets', { auth: 'required' });
    out(table(DATASET_HEADER, list.datasets.map(datasetRow)));
    const pending = (list.uploads ?? []).filter((u) => u.status !== 'ready');
    if (pending.length > 0) {
      out('');
      out(table(UPLOAD_HEADER, pending.map(uploadRow)));
    }
  });

const UPLOAD_HEADER = ['upload', 'id', 'status', 'progress', 'error'];
function uploadRow(u: UploadedDataset): string[] {
  return [u.name, u.id, u.status, `${Math.round(u.progress * 100)} %`, u.error ?? ''];
}

function parseFraction(value: string): number {
  const f = Number(value);
  if (!(f > 0 && f < 1)) throw new InvalidArgumentError('a fraction between 0 and 1, e.g. 0.1');
  return f;
}

/** One file of an upload, as the CLI tells it apart: a CSV table or an idx images / labels file. */
type UploadFileKind = 'csv' | 'images' | 'labels';

/**
 * What a file is: by the idx magic of its first bytes (gunzipped when they are gzip's), else by
 * its name (`.csv`, `idx3` / `idx1` as MNIST's files are named), else a refusal naming the file.
 */
async function uploadFileKind(file: string): Promise<UploadFileKind> {
  const head = firstBytes(file, 4);
  if (head.length === 4 && head[0] === 0 && head[1] === 0 && head[2] === 8) {
    if (head[3] === 3) return 'images';
    if (head[3] === 1) return 'labels';
  }
  const name = basename(file).toLowerCase();
  if (/\.csv(\.gz)?$|\.txt$/.test(name)) return 'csv';
  if (name.includes('idx3')) return 'images';
  if (name.includes('idx1')) return 'labels';
  throw new CliError(
    `${file}: neither a CSV table (.csv) nor an idx file (magic 00 00 08 03 for images, 00 00 08 01 for labels)`,
    2,
  );
}

/** The first `n` bytes of a file, gunzipped when it starts with gzip's magic (a corrupt one: none). */
function firstBytes(file: string, n: number): Uint8Array {
  const fd = openSync(file, 'r');
  try {
    const head = new Uint8Array(64 * 1024);
    const got = readSync(fd, head, 0, head.length, 0);
    const bytes = head.subarray(0, got);
    if (!(got >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b)) return bytes.slice(0, n);
    try {
      // Z_SYNC_FLUSH: inflate what a file's first block holds without its end.
      return new Uint8Array(gunzipSync(bytes, { finishFlush: zlibConstants.Z_SYNC_FLUSH })).slice(0, n);
    } catch {
      return new Uint8Array(0); // the server names the problem; here the file name decides
    }
  } finally {
    closeSync(fd);
  }
}

/** `16` or `WxH` → the API's imageSize (checked there too). */
function parseImageSize(value: string): string {
  if (!/^\d{1,3}([x×]\d{1,3})?$/.test(value)) throw new InvalidArgumentError('a side (16) or WxH (16x16)');
  return value.replace('×', 'x');
}

/** The roles of an upload's files, from what each is (idx: images + labels; csv: one table). */
function uploadRoles(kinds: { file: string; kind: UploadFileKind }[], test: boolean): Record<string, string> {
  const prefix = test ? 'test-' : '';
  const what = test ? '--test' : 'FILES';
  const csv = kinds.filter((k) => k.kind === 'csv');
  if (csv.length > 0) {
    if (kinds.length !== 1)
      throw new CliError(`${what}: a CSV upload is one table, got ${kinds.length} files`, 2);
    return { [`${prefix}table`]: csv[0].file };
  }
  const images = kinds.filter((k) => k.kind === 'images');
  const labels = kinds.filter((k) => k.kind === 'labels');
  if (images.length !== 1 || labels.length !== 1 || kinds.length !== 2) {
    throw new CliError(
      `${what}: an idx upload is one images file and one labels file, got ${images.length} images and ${labels.length} labels files`,
      2,
    );
  }
  return { [`${prefix}images`]: images[0].file, [`${prefix}labels`]: labels[0].file };
}

interface UploadOpts {
  label?: string;
  testFraction?: number;
  imageSize?: string;
  deskew?: boolean;
  classes?: string;
  test?: string[];
}

/** Each file streamed from disk with its length (nothing holds a whole file here either). */
function fileStream(file: string): { body: ReadableStream<Uint8Array>; length: number } {
  return {
    body: Readable.toWeb(createReadStream(file)) as ReadableStream<Uint8Array>,
    length: statSync(file).size,
  };
}

datasets
  .command('upload')
  .description(
    'upload a dataset and build its shards: a CSV table (a header row; one label column, numeric features) or an idx pair (images + labels, gzipped or not)',
  )
  .argument('<name>', 'the new dataset name (lower-case letters, digits and dashes)')
  .argument('<files...>', 'the CSV file, or the idx images and labels files')
  .option('--label <column>', 'CSV: the label column (default: the last column)')
  .option('--test-fraction <fraction>', 'held-out fraction of each class (default 0.1)', parseFraction)
  .option('--image-size <size>', 'idx: the preprocessed size, 16 or WxH (default 16)', parseImageSize)
  .option('--deskew', 'idx: deskew each image (a digit trick; default off)')
  .option('--classes <names>', 'idx: class names by label value, comma-separated')
  .option(
    '--test <files...>',
    'a separate test set (a CSV table, or idx images + labels) instead of a held-out split',
  )
  .action(async (name: string, files: string[], opts: UploadOpts) => {
    const api = client();
    const kinds = await Promise.all(files.map(async (file) => ({ file, kind: await uploadFileKind(file) })));
    const roles = uploadRoles(kinds, false);
    const format = 'table' in roles ? 'csv' : 'idx';
    if (opts.test) {
      Object.assign(
        roles,
        uploadRoles(
          await Promise.all(opts.test.map(async (file) => ({ file, kind: await uploadFileKind(file) }))),
          true,
        ),
      );
      if ('test-table' in roles !== (format === 'csv')) {
        throw new CliError(
          `--test: the test set is ${format === 'csv' ? 'a CSV table' : 'an idx images + labels pair'}, like the training set`,
          2,
        );
      }
      if (opts.testFraction !== undefined)
        throw new CliError('--test-fraction applies only without --test files', 2);
    }
    const idxOnly = [
      opts.imageSize && '--image-size',
      opts.deskew && '--deskew',
      opts.classes && '--classes',
    ].filter(Boolean);
    if (format === 'csv' && idxOnly.length > 0)
      throw new CliError(`${idxOnly.join(', ')}: for idx uploads only`, 2);
    if (format === 'idx' && opts.label !== undefined) throw new CliError('--label: for CSV uploads only', 2);

    let id: string;
    if (format === 'csv' && !opts.test) {
      // One table: the one-request form (POST /api/datasets?name=…, the file as the body).
      const query = new URLSearchParams({ name });
      if (opts.label !== undefined) query.set('label', opts.label);
      if (opts.testFraction !== undefined) query.set('testFraction', String(opts.testFraction));
      const stream = fileStream(files[0]);
      const created = await api.json<UploadedDataset>(`/api/datasets?${query}`, {
        method: 'POST',
        stream,
        contentType: 'text/csv',
        auth: 'required',
      });
      out(
        `uploaded ${created.name} (${created.id}, ${stream.length.toLocaleString('en')} bytes); building shards…`,
      );
      id = created.id;
    } else {
      // Several files: announce, stream each, then ask for the build (workers/api/datasets.ts).
      const options = {
        ...(opts.label !== undefined ? { label: opts.label } : {}),
        ...(opts.testFraction !== undefined ? { testFraction: opts.testFraction } : {}),
        ...(opts.imageSize !== undefined ? { imageSize: opts.imageSize } : {}),
        ...(opts.deskew ? { deskew: true } : {}),
        ...(opts.classes !== undefined ? { classes: opts.classes.split(',').map((c) => c.trim()) } : {}),
      };
      const created = await api.json<UploadedDataset>('/api/datasets', {
        method: 'POST',
        json: { name, format, files: Object.keys(roles), options },
        auth: 'required',
      });
      id = created.id;
      for (const [role, file] of Object.entries(roles)) {
        const stream = fileStream(file);
        await api.fetch(`/api/datasets/${encodeURIComponent(id)}/files/${role}`, {
          method: 'PUT',
          stream,
          auth: 'required',
        });
        out(`sent ${role}: ${basename(file)} (${stream.length.toLocaleString('en')} bytes)`);
      }
      await api.fetch(`/api/datasets/${encodeURIComponent(id)}/build`, { method: 'POST', auth: 'required' });
      out(`uploaded ${created.name} (${id}); building shards…`);
    }
    let shown = -1;
    for (;;) {
      const d = await api.json<UploadedDataset>(`/api/datasets/${encodeURIComponent(id)}`, {
        auth: 'required',
      });
      if (d.status === 'failed')
        throw new CliError(`building ${d.name} failed: ${d.error ?? 'unknown reason'}`);
      if (d.status === 'ready' && d.dataset) {
        out(table(DATASET_HEADER, [datasetRow(d.dataset)]));
        return;
      }
      const percent = Math.round(d.progress * 100);
      if (percent !== shown) {
        out(`${d.status} ${percent} %`);
        shown = percent;
      }
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  });
datasets
  .command('delete')
  .description('delete an uploaded dataset (refused while a run uses it)')
  .argument('<name>', 'the dataset name or id')
  .action(async (name: string) => {
    await client().fetch(`/api/datasets/${encodeURIComponent(name)}`, { method: 'DELETE', auth: 'required' });
    out(`deleted ${name}`);
  });
datasets
  .command('show')
  .description("a dataset's manifest as JSON: shapes, classes, splits, preprocessing")
  .argument('<name>', 'the dataset name, e.g. fashion-mnist')
  .action(async (name: string) => {
    const d = await client().json<DatasetResource | UploadedDataset>(
      `/api/datasets/${encodeURIComponent(name)}`,
      { auth: 'required' },
    );
    out(JSON.stringify(d, null, 2));
    // Also in words, on stderr, so the JSON on stdout stays one document for tools.
    const line = baselineLine('baseline' in d ? d.baseline : 'dataset' in d ? d.dataset?.baseline : null);
    if (line) err(line);
  });

program
  .command('open')
  .description("print the run page's URL (with --browser, also open it)")
  .argument('<run>', 'run id, run page URL or share link URL')
  .option('--browser', "open it in this computer's browser")
  .action(async (arg: string, opts: { browser?: boolean }) => {
    const { api, run } = await target(arg);
    const url = run.share ? `${api.base}${run.api.replace(/\/api\/run$/, '')}` : `${api.base}/runs/${run.id}`;
    out(url);
    if (opts.browser) {
      const [command, ...args] =
        process.platform === 'darwin'
          ? ['open', url]
          : process.platform === 'win32'
            ? ['cmd', '/c', 'start', '', url]
            : ['xdg-open', url];
      const child = spawn(command, args, { stdio: 'ignore', detached: true });
      child.on('error', (e) => err(`wann: could not open a browser (${e.message}); open the URL above`));
      child.unref();
    }
  });

try {
  await program.parseAsync();
} catch (e) {
  if (e instanceof CliError) {
    err(`wann: ${e.message}`);
    process.exitCode = e.exitCode;
  } else {
    throw e;
  }
}
