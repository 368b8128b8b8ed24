import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import { startLocalPlatform } from '../scripts/local-platform';
import { decodeShard } from '../src/data/shard';
import { updateReadmeTable } from './readme-table';

const ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)));
const WARM_1 = 300;
const WARM_100 = 60;

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

const round = (ms: number) => Math.round(ms * 100) / 100;

const platform = await startLocalPlatform();
process.on('SIGINT', () => {
  void platform.stop().then(() => process.exit(130));
});

try {
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

  // Test images, preprocessed (values from the shards: pixel / 255).
  const shard = decodeShard(new Uint8Array(readFileSync(join(ROOT, 'data', 'shards', 'test-0.bin'))));
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
  const inferUrl = `${url}/v2/models/${runId}/infer`;
  const headers = { ...auth, 'Content-Type': 'application/json' };
  async function timed(payload: string): Promise<{ ms: number; labels: number[] }> {
    const t = performance.now();
    const res = await fetch(inferUrl, { method: 'POST', headers, body: payload });
    const json = (await res.json()) as { outputs: { name: string; data: number[] }[]; error?: string };
    const ms = performance.now() - t;
    if (!res.ok) throw new Error(`infer → ${res.status} ${json.error}`);
    return { ms, labels: json.outputs.find((o) => o.name === 'label')!.data };
  }

  const one = body(1);
  const cold = await timed(one);
  const warm: number[] = [];
  for (let i = 0; i < WARM_1; i++) warm.push((await timed(one)).ms);
  const single = body(1, 1);
  const warmSingle: number[] = [];
  for (let i = 0; i < WARM_1; i++) warmSingle.push((await timed(single)).ms);
  const hundred = body(100);
  const batch: number[] = [];
  for (let i = 0; i < WARM_100; i++) batch.push((await timed(hundred)).ms);
  for (const a of [warm, warmSingle, batch]) a.sort((x, y) => x - y);

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

  const result = {
    p50Ms: round(percentile(warm, 50)),
    p99Ms: round(percentile(warm, 99)),
    batch100P50Ms: round(percentile(batch, 50)),
    coldMs: round(cold.ms),
    singleWeightP50Ms: round(percentile(warmSingle, 50)),
    onnxNodeAgrees,
    model: { runId, ...models[0] },
    requests: { warm1: WARM_1, warm100: WARM_100 },
    setup:
      'wrangler dev --local on 127.0.0.1, API Worker → INFERENCE service binding → onnxruntime-web 1.30 (wasm, 1 thread); client: Node fetch; default shared_weight = ensemble (6 runs)',
    date: new Date().toISOString(),
  };
  writeFileSync(join(ROOT, 'bench', 'results', 'inference.json'), `${JSON.stringify(result, null, 2)}\n`);
  console.log(JSON.stringify(result, null, 2));
  updateReadmeTable(
    'inference',
    [
      '| request (warm model, `wrangler dev`, 127.0.0.1) | p50 | p99 |',
      '|---|---|---|',
      `| 1 image, ensemble of 6 weights (default) | ${result.p50Ms} ms | ${result.p99Ms} ms |`,
      `| 1 image, one shared weight | ${result.singleWeightP50Ms} ms | |`,
      `| 100 images, ensemble | ${result.batch100P50Ms} ms | |`,
      `| first request to a new model (cold: R2 + ORT session) | ${result.coldMs} ms | |`,
      '',
      `Model: champion of a 64 × 8 search (${models[0].connections} connections, ${models[0].hiddenNodes} hidden nodes). ` +
        `Downloaded .onnx in onnxruntime-node gives the same labels: ${onnxNodeAgrees ? 'yes' : 'NO'}. ` +
        'Source: `bench/results/inference.json` (`npm run bench:inference`).',
    ].join('\n'),
  );
  if (!onnxNodeAgrees) process.exitCode = 1;
} finally {
  await platform.stop();
}
