/**
 * `npm run bench:memory-probe`: which load makes the local platform's processes grow. The soak
 * (bench:soak) found `wrangler dev`'s two workerd processes growing through 30 minutes of mixed
 * load; this runs one kind of load at a time on a fresh `npm start` (loopback only, stops by
 * itself) and reads every platform process's resident memory every `--sample` seconds:
 *
 * - `idle`: nothing but the platform's own timers;
 * - `health`: `GET /api/health` at `--rate` per second (the front door, the dev proxy, the API
 *   Worker's smallest answer: no storage);
 * - `predict`: KServe v2 JSON predictions at `--rate` per second (the API Worker, the inference
 *   Worker, R2 and D1 reads);
 * - `streams`: an owner's event stream of a finished run opened and closed `--rate` times a second
 *   (each held 1 s: the Durable Object's stream, the dev proxy's long responses);
 * - `search`: a population-960 search writing its generations (D1 batches, R2 slice objects,
 *   queues, the evaluator peers);
 * - `bare`: not the platform: a Worker of one line (`new Response('ok')`) under its own
 *   `wrangler dev`, asked `GET /` at `--rate` per second: what the dev runtime itself keeps per
 *   request, to compare with `health`.
 *
 * Each phase runs `--minutes` minutes after a first minute not counted (caches, JIT, first
 * allocations). The API Worker's isolate (the API, its coordinator and runs-feed objects: one
 * script, one isolate) is also read through workerd's inspector at the start and the end of each
 * measured part, after a full GC: what the Workers limit of 128 MB applies to, where the process's
 * memory adds the runtime's own. A process that grows through a phase in proportion to its requests keeps something
 * per request; one that grows in the first minute and then stays is warming up. Results:
 * bench/results/memory-probe.json (`--out` to write elsewhere), slopes in MiB per minute and per
 * 1,000 requests.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { freePort, type LocalPlatform, stopGroup } from '../scripts/local-platform';
import { heapAfterGc, isolateIn } from './inspector';
import {
  json,
  platformProcesses,
  publishedModelRun,
  rssKiB,
  runOnLocalPlatform,
  testDigitRequest,
} from './platform-run';

const ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)));
const PHASES = ['idle', 'health', 'predict', 'streams', 'search', 'bare'] as const;
type Phase = (typeof PHASES)[number];

const { values: args } = parseArgs({
  options: {
    phases: { type: 'string', default: PHASES.join(',') },
    minutes: { type: 'string', default: '4' },
    rate: { type: 'string', default: '20' },
    sample: { type: 'string', default: '15' },
    out: { type: 'string', default: join(ROOT, 'bench', 'results', 'memory-probe.json') },
  },
});
const phases = (args.phases ?? PHASES.join(',')).split(',').map((p) => {
  if (!(PHASES as readonly string[]).includes(p)) throw new Error(`--phases: unknown phase '${p}'`);
  return p as Phase;
});
const MINUTES = Number(args.minutes);
const RATE = Number(args.rate);
const SAMPLE_MS = Number(args.sample) * 1000;
const WARM_UP_MS = 60_000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const MiB = (kib: number) => Math.round((kib / 1024) * 10) / 10;

/** Least-squares slope of y over x. */
function slope(xs: number[], ys: number[]): number {
  const n = xs.length;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let num = 0;
  let den = 0;
  for (let i = 0; i < n; i++) {
    num += (xs[i]! - mx) * (ys[i]! - my);
    den += (xs[i]! - mx) ** 2;
  }
  return den === 0 ? 0 : num / den;
}

/** A one-line Worker under its own `wrangler dev` (the `bare` phase); stop() ends its group. */
async function startBareWorker(): Promise<{ url: string; root: number; stop: () => Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), 'wann-bare-worker-'));
  writeFileSync(join(dir, 'index.js'), "export default { fetch() { return new Response('ok'); } };\n");
  writeFileSync(
    join(dir, 'wrangler.toml'),
    'name = "bare"\nmain = "index.js"\ncompatibility_date = "2026-04-20"\n',
  );
  const port = await freePort();
  const child = spawn(
    join(ROOT, 'node_modules', '.bin', 'wrangler'),
    ['dev', '--ip', '127.0.0.1', '--port', String(port), '--persist-to', join(dir, 'state')],
    {
      cwd: dir,
      detached: true,
      stdio: 'ignore',
      env: { ...process.env, CLOUDFLARE_CF_FETCH_ENABLED: 'false', WRANGLER_SEND_METRICS: 'false' },
    },
  );
  const stop = async () => {
    await stopGroup(child);
    rmSync(dir, { recursive: true, force: true });
  };
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    const up = await fetch(url).then(
      (r) => r.ok,
      () => false,
    );
    if (up) break;
    if (i > 240) {
      await stop();
      throw new Error('the bare Worker did not start in 60 s');
    }
    await sleep(250);
  }
  return { url, root: child.pid!, stop };
}

/** The API Worker's isolate (`wann-api`, which also runs the coordinator and runs-feed objects). */
const apiIsolate = (root: number) =>
  isolateIn(
    platformProcesses(root)
      .filter((p) => p.role === 'wrangler dev (workerd)')
      .map((p) => p.pid),
    'wann-api',
  );

interface PhaseResult {
  phase: Phase;
  requests: number;
  errors: number;
  /** The API Worker's isolate heap after a full GC at the start and the end of the measured part. */
  apiIsolateHeapMiB: { start: number; end: number; per1000Requests: number | null } | null;
  processes: {
    role: string;
    pid: number;
    startMiB: number;
    endMiB: number;
    mibPerMinute: number;
    mibPer1000Requests: number | null;
    samples: number[];
  }[];
}

async function main(platform: LocalPlatform) {
  const { url } = platform;
  const auth = { Authorization: `Bearer ${platform.token}` };
  const jsonHeaders = { ...auth, 'Content-Type': 'application/json' };
  const root = platform.child.pid!;
  await fetch(`${url}/api/health`); // the isolate exists before its inspector is opened
  const isolate = await apiIsolate(root);
  console.log(
    isolate
      ? '› the API isolate is read through the inspector'
      : '› no inspector answered for the API isolate',
  );

  console.log('› a model to predict with and a finished run to stream: population 64, 8 generations');
  const model = await publishedModelRun(platform);
  const predictBody = await testDigitRequest();

  /** One request of the phase's kind; resolves when it is over, true when it went as expected. */
  const requestOf = (phase: Phase): (() => Promise<boolean>) | null => {
    switch (phase) {
      case 'health':
        return () => fetch(`${url}/api/health`).then((r) => r.text().then(() => r.ok));
      case 'predict':
        return () =>
          fetch(`${url}/v2/models/${model.id}/infer`, {
            method: 'POST',
            headers: jsonHeaders,
            body: predictBody,
          }).then((r) => r.text().then(() => r.ok));
      case 'streams':
        return async () => {
          const res = await fetch(`${url}/api/runs/${model.id}/events`, {
            headers: auth,
            signal: AbortSignal.timeout(1000),
          });
          if (!res.ok) return res.status === 429; // the stream cap answering is expected
          try {
            for await (const _ of res.body!) {
              // read until the timeout closes it
            }
          } catch {
            // the 1 s abort
          }
          return true;
        };
      default:
        return null;
    }
  };

  const results: PhaseResult[] = [];
  for (const phase of phases) {
    console.log(`› ${phase}: 1 min to warm up, then ${MINUTES} min measured`);
    let search: string | null = null;
    if (phase === 'search') {
      search = (
        await json<{ id: string }>(
          await fetch(`${url}/api/runs`, {
            method: 'POST',
            headers: jsonHeaders,
            body: JSON.stringify({ population: 960, generations: 100_000, seed: 5 }),
          }),
          'start the search',
        )
      ).id;
    }
    const bare = phase === 'bare' ? await startBareWorker() : null;
    const one = bare ? () => fetch(bare.url).then((r) => r.text().then(() => r.ok)) : requestOf(phase);
    const processRoot = bare ? bare.root : root;
    let requests = 0;
    let errors = 0;
    let inFlight = 0;
    const end = Date.now() + WARM_UP_MS + MINUTES * 60_000;
    const load = (async () => {
      if (!one) return;
      const interval = 1000 / RATE;
      let next = performance.now();
      while (Date.now() < end) {
        if (inFlight < 64) {
          inFlight++;
          requests++;
          void one()
            .then(
              (ok) => ok || errors++,
              () => errors++,
            )
            .finally(() => inFlight--);
        }
        next += interval;
        await sleep(Math.max(0, next - performance.now()));
      }
    })();
    await sleep(WARM_UP_MS);
    const requestsAtStart = requests;
    const heapStart = isolate && !bare ? await heapAfterGc(isolate) : null;
    const series = new Map<number, { role: string; t: number[]; kib: number[] }>();
    const t0 = Date.now();
    for (;;) {
      for (const p of platformProcesses(processRoot)) {
        const s = series.get(p.pid) ?? { role: p.role, t: [], kib: [] };
        s.t.push((Date.now() - t0) / 60_000);
        s.kib.push(rssKiB(p.pid));
        series.set(p.pid, s);
      }
      if (Date.now() >= end) break;
      await sleep(Math.min(SAMPLE_MS, Math.max(0, end - Date.now())));
    }
    await load;
    while (inFlight > 0) await sleep(50);
    const heapEnd = isolate && !bare ? await heapAfterGc(isolate) : null;
    if (search) await fetch(`${url}/api/runs/${search}/cancel`, { method: 'POST', headers: auth });
    await bare?.stop();
    const measured = requests - requestsAtStart;
    const result: PhaseResult = {
      phase,
      requests: measured,
      errors,
      apiIsolateHeapMiB:
        heapStart === null || heapEnd === null
          ? null
          : {
              start: heapStart,
              end: heapEnd,
              per1000Requests:
                measured > 0 ? Math.round(((heapEnd - heapStart) / measured) * 1000 * 100) / 100 : null,
            },
      processes: [...series]
        .filter(([, s]) => s.t.length >= 3 && s.kib.at(-1)! > 0 && s.kib[0]! > 0)
        .map(([pid, s]) => {
          const perMinute = slope(s.t, s.kib) / 1024;
          const minutes = s.t.at(-1)! - s.t[0]!;
          return {
            role: s.role,
            pid,
            startMiB: MiB(s.kib[0]!),
            endMiB: MiB(s.kib.at(-1)!),
            mibPerMinute: Math.round(perMinute * 100) / 100,
            mibPer1000Requests:
              measured > 0 ? Math.round(((perMinute * minutes) / measured) * 1000 * 100) / 100 : null,
            samples: s.kib.map(MiB),
          };
        })
        .sort((a, b) => b.mibPerMinute - a.mibPerMinute),
    };
    results.push(result);
    console.log(`  ${measured} requests measured, ${errors} errors (warm-up included)`);
    if (result.apiIsolateHeapMiB)
      console.log(
        `  API isolate heap after a full GC: ${result.apiIsolateHeapMiB.start} → ${result.apiIsolateHeapMiB.end} MiB`,
      );
    for (const p of result.processes)
      console.log(
        `  ${p.role.padEnd(26)} ${String(p.pid).padStart(6)}  ${p.startMiB} → ${p.endMiB} MiB  ${p.mibPerMinute} MiB/min${
          p.mibPer1000Requests === null ? '' : `  ${p.mibPer1000Requests} MiB per 1,000 requests`
        }`,
      );
  }
  writeFileSync(
    args.out ?? '',
    `${JSON.stringify(
      {
        minutesPerPhase: MINUTES,
        warmUpMinutes: WARM_UP_MS / 60_000,
        rate: RATE,
        phases: results,
        cores: cpus().length,
        loadAverageAtEnd: loadavg()[0],
        date: new Date().toISOString(),
      },
      null,
      2,
    )}\n`,
  );
  isolate?.close();
  console.log(`› ${args.out}`);
}

await runOnLocalPlatform(
  {
    name: 'bench:memory-probe',
    hardLimitMs: (phases.length * (MINUTES + 1) + 10) * 60_000,
    hardLimitText: 'its phases and 10 minutes',
  },
  main,
);
