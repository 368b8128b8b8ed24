/**
 * `npm run bench:request-memory`: the peak memory one request costs the Worker that parses
 * prediction bodies and runs the models (the inference Worker), for the largest valid requests
 * and for bodies built to cost far more than their size (issue 9, item 4). The API Worker in
 * front of it only streams these bodies through (or drains and refuses them), so it is not here.
 *
 * How: the inference Worker as deployed (`npm run build:inference`, or `--dist <dir>` for another
 * build, e.g. an older commit's) runs alone in Miniflare (one workerd process, real D1 and R2 in
 * memory) serving a published model of a grown genome (40+ hidden nodes, every activation:
 * tests/unit/onnx-fixture.ts). Requests go over HTTP to its URL. Before each one, the Worker's
 * isolate is garbage-collected through workerd's inspector (a heap snapshot starts with a full GC;
 * workerd answers no `collectGarbage`; under `wrangler dev` the inspector is wrangler's, hence
 * Miniflare), its heap is read, and the process's peak RSS is reset (`/proc/<pid>/clear_refs` ← 5,
 * Linux). While the request runs the isolate's heap (`Runtime.getHeapUsage`: JS heap + ArrayBuffer
 * backing stores) is sampled continuously; nothing is collected in between unless V8 decides to,
 * so the largest sample minus the base bounds what the request kept alive in the isolate. That
 * per-isolate peak is what the Workers memory limit (128 MB per isolate) applies to; the target is
 * 64 MB. The process's RSS peak is reported too: it adds what the heap does not show
 * (onnxruntime's wasm memory, which grows once and is kept, and allocator retention).
 * Each case runs REPEATS times; the largest cost counts.
 *
 * Then the model cache (issue 21, item 2): VERSIONS versions of the model are published; once the
 * cache holds as many sessions as it keeps (CACHED_SESSIONS, the first versions' `/ready`), the
 * isolate's heap (after a GC) and the process's RSS are read, every version's `/ready` is asked
 * for in turn, PASSES times (a session loaded and evicted per request; the RSS read after each
 * pass), and both are read again. A
 * session evicted without `release()` keeps its share of onnxruntime's wasm memory.
 *
 * Results: bench/results/request-memory.json (`--out <file>` to write elsewhere, `--label <name>`
 * to name the measured build, `--only cycle` to measure the version cycle alone).
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { drizzle } from 'drizzle-orm/d1';
import { encode as encodePng } from 'fast-png';
import { Miniflare } from 'miniflare';
import { models, runs } from '../schema/schema';
import { freePort } from '../scripts/local-platform';
import { genomeToOnnx } from '../src/onnx/export';
import { SHARED_WEIGHTS } from '../src/wann/activation-ids';
import { grownGenome } from '../tests/unit/onnx-fixture';
import { hiddenBomb } from '../tests/unit/png-fixtures';
import { INFERENCE_KEY_HEADER } from '../workers/contracts/inference-key';
import { Inspector } from './inspector';

const ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)));
const { values: args } = parseArgs({
  options: {
    label: { type: 'string', default: 'working tree' },
    dist: { type: 'string' },
    out: { type: 'string' },
    only: { type: 'string' },
  },
});
const DIST = resolve(args.dist ?? join(ROOT, 'workers', 'inference', 'dist'));
const OUT = args.out ?? join(ROOT, 'bench', 'results', 'request-memory.json');
const REPEATS = 3;
const MiB = 1024 * 1024;
const TARGET_MB = 64;
const WORKER = 'wann-inference';
/** Published versions the cache cycle goes through. */
const VERSIONS = 50;
/** Times the cycle goes through every version. */
const PASSES = 4;
/** Sessions the inference Worker's cache keeps (ModelCache's default). */
const CACHED_SESSIONS = 8;

/** The workerd process Miniflare started for this Node process. */
function workerdChild(): number {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === process.pid && readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes('workerd')) {
        return Number(entry);
      }
    } catch {}
  }
  throw new Error('no workerd process found under this one');
}

function statusKb(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : 0;
}

interface Case {
  name: string;
  method?: 'GET';
  path: string;
  contentType?: string;
  body?: () => Uint8Array | Promise<Uint8Array>;
  /** Send without a Content-Length (a chunked upload). */
  chunked?: boolean;
  expect: number;
}

const utf8 = (s: string) => new TextEncoder().encode(s);
/** Pixel values as a client would send them: byte / 255, printed by JavaScript (up to 17 digits). */
const pixel = (i: number) => ((i * 7919) % 256) / 255;
const rows = (count: number, features: number) =>
  Array.from({ length: count }, (_, r) =>
    Array.from({ length: features }, (_, i) => pixel(r * features + i)),
  );

function cases(runId: string): Case[] {
  const infer = `/v2/models/${runId}/infer`;
  const predict = `/api/runs/${runId}/predict`;
  const inferBody = (count: number, features: number) =>
    utf8(
      JSON.stringify({
        inputs: [{ name: 'image', shape: [count, features], datatype: 'FP32', data: rows(count, features) }],
      }),
    );
  const oversized = () => utf8(`{"pixels": [[${'0.123456789,'.repeat((30 * MiB) / 12)}0]]}`);
  const noisePng = () => {
    // 1024×1024 RGBA noise: the largest image accepted, barely compressible.
    const data = new Uint8Array(1024 * 1024 * 4);
    let x = 1;
    for (let i = 0; i < data.length; i++) {
      x = (x * 1103515245 + 12345) >>> 0;
      data[i] = x >>> 24;
    }
    return encodePng({ width: 1024, height: 1024, data, channels: 4, depth: 8 });
  };
  const json = 'application/json';
  return [
    {
      name: 'model readiness, cold (loads the ORT session, once per isolate)',
      method: 'GET',
      path: `/v2/models/${runId}/ready`,
      expect: 200,
    },
    {
      name: 'infer, 1 image (ensemble)',
      path: infer,
      contentType: json,
      body: () => inferBody(1, 256),
      expect: 200,
    },
    {
      name: 'predict, 1 PNG 28×28',
      path: predict,
      contentType: 'image/png',
      body: () =>
        encodePng({ width: 28, height: 28, data: new Uint8Array(784).fill(128), channels: 1, depth: 8 }),
      expect: 200,
    },
    {
      name: 'infer, 1,000 × 784 (largest valid)',
      path: infer,
      contentType: json,
      body: () => inferBody(1000, 784),
      expect: 200,
    },
    {
      name: 'predict JSON, 1,000 × 784 (largest valid)',
      path: predict,
      contentType: json,
      body: () => utf8(JSON.stringify({ pixels: rows(1000, 784) })),
      expect: 200,
    },
    {
      name: 'predict PNG, 1024×1024 RGBA noise (largest valid)',
      path: predict,
      contentType: 'image/png',
      body: noisePng,
      expect: 200,
    },
    {
      name: 'predict PNG, hidden bomb (28×28 declared, 256 MB inside)',
      path: predict,
      contentType: 'image/png',
      body: () => hiddenBomb(256 * MiB),
      expect: 400,
    },
    {
      name: 'infer, 19 MiB of zeros for shape [1, 256]',
      path: infer,
      contentType: json,
      body: () =>
        utf8(
          `{"inputs":[{"name":"image","shape":[1,256],"datatype":"FP32","data":[${'0,'.repeat((19 * MiB) / 2)}0]}]}`,
        ),
      expect: 400,
    },
    {
      name: 'predict JSON, 19 MiB of one-value images',
      path: predict,
      contentType: json,
      body: () => utf8(`{"pixels": [${'[0],'.repeat((19 * MiB) / 4)}[0]]}`),
      expect: 400,
    },
    {
      name: 'predict JSON, 30 MiB, length declared',
      path: predict,
      contentType: json,
      body: oversized,
      expect: 413,
    },
    {
      name: 'predict JSON, 30 MiB, chunked',
      path: predict,
      contentType: json,
      body: oversized,
      chunked: true,
      expect: 413,
    },
  ];
}

if (!args.dist) {
  console.log('› npm run build:inference');
  execFileSync('npm', ['run', '-s', 'build:inference'], {
    cwd: ROOT,
    stdio: ['ignore', 'ignore', 'inherit'],
  });
}
const inspectorPort = await freePort();
/** The Worker answers HTTP only with the API Worker's key (workers/contracts/inference-key.ts): this bench plays that caller. */
const INFERENCE_KEY = randomBytes(32).toString('base64url');
const KEYED = { [INFERENCE_KEY_HEADER]: INFERENCE_KEY };
const mf = new Miniflare({
  name: WORKER,
  compatibilityDate: '2026-04-20',
  modulesRoot: DIST,
  modules: [
    { type: 'ESModule', path: join(DIST, 'index.js') },
    ...readdirSync(DIST)
      .filter((f) => f.endsWith('.wasm'))
      .map((f) => ({ type: 'CompiledWasm' as const, path: join(DIST, f) })),
  ],
  d1Databases: { DB: 'bench-db' },
  r2Buckets: { BLOBS: 'bench-blobs' },
  bindings: { INFERENCE_KEY },
  inspectorPort,
});
try {
  const url = (await mf.ready).href.replace(/\/$/, '');
  // A published model: the migrations, a run, the ONNX file in R2 and its D1 row.
  const d1 = await mf.getD1Database('DB');
  for (const file of readdirSync(join(ROOT, 'migrations'))
    .filter((f) => f.endsWith('.sql'))
    .sort()) {
    for (const statement of readFileSync(join(ROOT, 'migrations', file), 'utf8').split(
      '--> statement-breakpoint',
    )) {
      if (statement.trim()) await d1.prepare(statement).run();
    }
  }
  const runId = crypto.randomUUID();
  const now = Date.now();
  const db = drizzle(d1 as never);
  await db.insert(runs).values({
    id: runId,
    status: 'completed',
    config: { population: 4, generations: 1, seed: 1 },
    seed: 1,
    createdAt: now,
    updatedAt: now,
  });
  // VERSIONS versions of one model (for the cache cycle); the request cases use the newest.
  const onnx = genomeToOnnx(grownGenome(), { name: runId });
  for (let version = 1; version <= VERSIONS; version++) await publishVersion(version);
  async function publishVersion(version: number) {
    const onnxKey = `models/${runId}/${version}/model.onnx`;
    await (await mf.getR2Bucket('BLOBS')).put(onnxKey, onnx);
    await db.insert(models).values({
      runId,
      version,
      generation: 1,
      onnxKey,
      genomeKey: `models/${runId}/${version}/genome.json`,
      weights: [...SHARED_WEIGHTS],
      testAccuracy: SHARED_WEIGHTS.map(() => 0.1),
      meanTestAccuracy: 0.1,
      ensembleTestAccuracy: 0.1,
      tunedWeight: 1,
      tunedTestAccuracy: 0.1,
      connections: 0,
      hiddenNodes: 0,
      createdAt: now,
    });
  }

  await fetch(`${url}/v2/health/live`, { headers: KEYED }); // the isolate exists before its inspector is opened
  const isolate = await Inspector.open(`ws://127.0.0.1:${inspectorPort}/core:user:${WORKER}`);
  const pid = workerdChild();
  console.log(`› ${args.label}: ${DIST}, workerd ${pid}`);

  const results = [];
  for (const c of args.only === 'cycle' ? [] : cases(runId)) {
    const body = c.body ? await c.body() : undefined;
    let worst = { heap: 0, rss: 0 };
    let status = 0;
    let ms = 0;
    for (let r = 0; r < REPEATS; r++) {
      await isolate.collect();
      const base = await isolate.heap();
      const rssBefore = statusKb(pid, 'VmRSS');
      writeFileSync(`/proc/${pid}/clear_refs`, '5');
      let peak = base;
      let running = true;
      const sampling = (async () => {
        while (running) peak = Math.max(peak, await isolate.heap());
      })();
      const t = performance.now();
      const res = await fetch(`${url}${c.path}`, {
        method: c.method ?? 'POST',
        headers: c.contentType ? { ...KEYED, 'Content-Type': c.contentType } : KEYED,
        body: body && (c.chunked ? new Blob([body]).stream() : body),
        duplex: 'half',
      } as RequestInit);
      await res.arrayBuffer();
      ms = performance.now() - t;
      running = false;
      await sampling;
      peak = Math.max(peak, await isolate.heap());
      status = res.status;
      worst = {
        heap: Math.max(worst.heap, (peak - base) / MiB),
        rss: Math.max(worst.rss, (statusKb(pid, 'VmHWM') - rssBefore) / 1024),
      };
    }
    const round = (x: number) => Math.round(x * 10) / 10;
    results.push({
      request: c.name,
      bodyBytes: body?.length ?? 0,
      chunked: c.chunked ?? false,
      status,
      expectedStatus: c.expect,
      lastMs: Math.round(ms),
      isolatePeakMB: round(worst.heap),
      processRssPeakMB: round(worst.rss),
      withinTarget: worst.heap < TARGET_MB,
    });
    console.log(
      `${c.name.padEnd(64)} ${String(status).padEnd(4)} isolate +${worst.heap.toFixed(1)} MB, process RSS +${worst.rss.toFixed(1)} MB (${Math.round(ms)} ms)`,
    );
  }
  // The cache cycle: one session per version, most of them evicted.
  const mb = (bytes: number) => Math.round((bytes / MiB) * 10) / 10;
  const ready = async (version: number) => {
    const res = await fetch(`${url}/v2/models/${runId}/versions/${version}/ready`, { headers: KEYED });
    await res.arrayBuffer();
    if (res.status !== 200) throw new Error(`version ${version}: /ready answered ${res.status}`);
  };
  for (let version = 1; version <= CACHED_SESSIONS; version++) await ready(version);
  await isolate.collect();
  const heapBefore = await isolate.heap();
  const rssBefore = statusKb(pid, 'VmRSS');
  const t = performance.now();
  const rssAfterPassMB: number[] = [];
  for (let pass = 0; pass < PASSES; pass++) {
    for (let version = 1; version <= VERSIONS; version++) await ready(version);
    rssAfterPassMB.push(mb(statusKb(pid, 'VmRSS') * 1024));
  }
  const cycleMs = performance.now() - t;
  await isolate.collect();
  const cycle = {
    versions: VERSIONS,
    passes: PASSES,
    cachedSessions: CACHED_SESSIONS,
    isolateHeapBeforeMB: mb(heapBefore),
    isolateHeapAfterMB: mb(await isolate.heap()),
    processRssBeforeMB: mb(rssBefore * 1024),
    processRssAfterMB: mb(statusKb(pid, 'VmRSS') * 1024),
    rssAfterPassMB,
    ms: Math.round(cycleMs),
  };
  console.log(
    `/ready of ${VERSIONS} versions in turn, ${PASSES} times: isolate heap ${cycle.isolateHeapBeforeMB} → ${cycle.isolateHeapAfterMB} MB, process RSS ${cycle.processRssBeforeMB} → ${rssAfterPassMB.join(' → ')} MB after each pass (${cycle.ms} ms)`,
  );
  isolate.close();
  const output = {
    label: args.label,
    worker: `inference Worker bundle ${DIST.startsWith(ROOT) ? DIST.slice(ROOT.length + 1) : DIST}, alone in Miniflare`,
    model: 'grown genome (tests/unit/onnx-fixture.ts), ensemble of the 6 shared weights',
    targetMB: TARGET_MB,
    method:
      'isolate: largest Runtime.getHeapUsage (usedSize + backingStorageSize) sampled through the inspector during the request, minus the value after a forced GC (heap snapshot) before it; process: VmHWM after clear_refs=5 minus VmRSS before (adds onnxruntime wasm memory and allocator retention); largest of 3 repeats',
    results,
    cycle,
    allWithinTarget: results.every((r) => r.withinTarget),
    allExpectedStatus: results.every((r) => r.status === r.expectedStatus),
    date: new Date().toISOString(),
  };
  writeFileSync(OUT, `${JSON.stringify(output, null, 2)}\n`);
  console.log(`→ ${OUT}`);
  if (!output.allWithinTarget || !output.allExpectedStatus) process.exitCode = 1;
} finally {
  await mf.dispose();
}
