/**
 * A built-in dataset other than MNIST, end to end inside workerd: a small synthetic shard set in
 * fashion-mnist's shape is loaded into the test R2 under its own prefix (no Fashion-MNIST files
 * are needed), a run on it searches, re-checks and publishes from those shards, and the model is
 * served as the dataset says (class names, no deskew, /v2 metadata). Before the shards are loaded,
 * starting a run on it is a 409 naming the command that builds them.
 */
import { env } from 'cloudflare:workers';
import { beforeAll, describe, expect, it } from 'vitest';
import type { CreatedShareLink, DatasetList, DatasetResource, ModelList } from '../../src/api/types';
import { FASHION_MNIST } from '../../src/data/dataset';
import { resize28to16 } from '../../src/data/preprocess';
import { concatShards, encodeShard, type Shard, shardsToBatch, toShardPixels } from '../../src/data/shard';
import { stream } from '../../src/random';
import { parseGenome } from '../../src/wann/genome';
import { championReport } from '../../src/wann/report';
import {
  compileTrainable,
  defaultDecaySteps,
  initialTrainingState,
  trainedAccuracy,
  trainSteps,
} from '../../src/wann/train';
import { testShardKey, trainShardKey } from '../../workers/contracts/blob-keys';
import { type ErrorBody, post, request, startRun, waitFor } from './helpers';

const CLASSES = FASHION_MNIST.classes.length;

/** `count` synthetic 16×16 rows whose label decides which band of rows is bright. */
function syntheticShard(count: number, seed: number): Shard {
  const rng = stream(seed, 0, 'synthetic-fashion');
  const values = new Float32Array(count * 256);
  const labels = new Uint8Array(count);
  for (let i = 0; i < count; i++) {
    const label = rng.int(CLASSES);
    labels[i] = label;
    for (let p = 0; p < 256; p++) {
      const band = Math.floor(((p >> 4) * CLASSES) / 16) === label;
      values[i * 256 + p] = (band ? 0.6 : 0) + 0.4 * rng.float();
    }
  }
  return { count, width: 16, height: 16, pixels: toShardPixels(values), labels };
}

const train = [syntheticShard(200, 1), syntheticShard(200, 2)];
const test = Array.from({ length: FASHION_MNIST.shards.test }, (_, i) => syntheticShard(40, 10 + i));

async function loadSyntheticFashion(): Promise<void> {
  for (const [i, s] of train.entries())
    await env.BLOBS.put(trainShardKey(i, 'fashion-mnist'), encodeShard(s));
  for (const [i, s] of test.entries()) await env.BLOBS.put(testShardKey(i, 'fashion-mnist'), encodeShard(s));
}

describe('starting a run on a dataset', () => {
  it('an unknown dataset is a 400; one whose shards are not loaded a 409 naming how to build them', async () => {
    const unknown = await post('/api/runs', { dataset: 'cifar-10' });
    expect(unknown.status).toBe(400);
    expect(((await unknown.json()) as ErrorBody).error).toMatchObject({ code: 'unknown_dataset' });

    const absent = await post('/api/runs', { dataset: 'fashion-mnist', trainShards: 2 });
    expect(absent.status).toBe(409);
    const { error } = (await absent.json()) as ErrorBody;
    expect(error.code).toBe('dataset_not_loaded');
    expect(error.message).toContain('npm run data -- --dataset fashion-mnist');
    expect(error.message).toContain('npm start');
    // Not listed either, until loaded.
    const list = (await (await request('/api/datasets')).json()) as DatasetList;
    expect(list.datasets.map((d) => d.name)).toEqual(['mnist']);
    expect((await request('/api/datasets/fashion-mnist')).status).toBe(404);
  });

  it("an MNIST run's recorded config has no dataset field, even when mnist is named", async () => {
    const run = await startRun({
      population: 16,
      generations: 50,
      seed: 4,
      tournamentSize: 4,
      dataset: 'mnist',
    });
    await post(`/api/runs/${run.id}/cancel`);
    expect(run.config).not.toHaveProperty('dataset');
  });
});

describe('a search on a built-in dataset off MNIST', () => {
  let runId: string;
  beforeAll(async () => {
    await loadSyntheticFashion();
    // recheckEvery 2 over 4 generations: re-checks read the dataset's training and test shards.
    const run = await startRun({
      dataset: 'fashion-mnist',
      population: 16,
      generations: 4,
      seed: 3,
      tournamentSize: 4,
      recheckEvery: 2,
      recheckBatches: 2,
    });
    runId = (await waitFor(run.id)).id;
  });

  it('completes, records its dataset, and re-checks on its test shard', async () => {
    const run = (await (await request(`/api/runs/${runId}`)).json()) as {
      status: string;
      config: { dataset?: string };
    };
    expect(run.status).toBe('completed');
    expect(run.config.dataset).toBe('fashion-mnist');
  });

  it('lists and describes the loaded datasets; a run serves its own', async () => {
    const list = (await (await request('/api/datasets')).json()) as DatasetList;
    expect(list.datasets.map((d) => d.name)).toEqual(['mnist', 'fashion-mnist']);
    const manifest = (await (await request('/api/datasets/fashion-mnist')).json()) as DatasetResource;
    expect(manifest).toMatchObject({
      name: 'fashion-mnist',
      classes: FASHION_MNIST.classes,
      preprocessing: { kind: 'image', width: 16, height: 16, deskew: false },
      inputShape: [-1, 784],
      preprocessedInputShape: [-1, 256],
    });
    const own = (await (await request(`/api/runs/${runId}/dataset`)).json()) as DatasetResource;
    expect(own.name).toBe('fashion-mnist');
    expect((await request('/api/datasets', { token: null })).status).toBe(401);
  });

  it("a share link reads its run's dataset and no dataset list", async () => {
    const res = await post(`/api/runs/${runId}/share`, {});
    expect(res.status).toBe(201);
    const link = (await res.json()) as CreatedShareLink;
    const base = new URL(link.url).pathname;
    const own = await request(`${base}/api/run/dataset`, { token: null });
    expect(own.status).toBe(200);
    expect(((await own.json()) as DatasetResource).name).toBe('fashion-mnist');
    expect((await request(`${base}/api/datasets`, { token: null })).status).toBe(404);
    expect((await request('/api/datasets', { token: link.token })).status).toBe(401);
  });

  it('publishes with test accuracy measured on its own test set', async () => {
    const published = await post(`/api/runs/${runId}/publish`);
    expect([200, 201]).toContain(published.status);
    const models = (await (await request(`/api/runs/${runId}/models`)).json()) as ModelList;
    const model = models.models[0];
    const genome = parseGenome(
      await (await request(`/api/runs/${runId}/models/${model.version}/genome.json`)).json(),
    );
    expect([genome.inputs, genome.outputs]).toEqual([256, CLASSES]);
    const report = championReport(genome, shardsToBatch(test), shardsToBatch(train), model.weights);
    expect(model.ensembleTestAccuracy).toBe(report.ensembleTestAccuracy);
    expect(model.testAccuracy).toEqual(report.testAccuracy);
  });

  it('/v2 metadata declares the raw and preprocessed input shapes and the classes', async () => {
    const res = await request(`/v2/models/${runId}`);
    expect(res.status).toBe(200);
    const meta = (await res.json()) as {
      outputs: { name: string; shape: number[] }[];
      parameters: Record<string, unknown>;
    };
    expect(meta.parameters).toMatchObject({
      dataset: 'fashion-mnist',
      raw_input_shape: [-1, 784],
      preprocessed_input_shape: [-1, 256],
      classes: FASHION_MNIST.classes,
    });
    expect(meta.outputs[0].shape).toEqual([-1, CLASSES]);
  });

  it('answers with class names, and preprocesses raw rows without deskew', async () => {
    // A slanted bar: deskewing it would change the 16×16 input.
    const raw = new Float64Array(784);
    for (let y = 4; y < 24; y++) for (let x = 0; x < 3; x++) raw[y * 28 + 8 + Math.floor(y / 2) + x] = 1;
    const resized = resize28to16(raw);
    const infer = async (data: number[], features: number) => {
      const r = await post(`/v2/models/${runId}/infer`, {
        inputs: [{ name: 'image', shape: [1, features], datatype: 'FP32', data }],
        parameters: { shared_weight: 1 },
      });
      expect(r.status).toBe(200);
      return (await r.json()) as {
        outputs: { name: string; data: number[]; parameters?: { class_names: string[] } }[];
      };
    };
    const fromRaw = await infer(Array.from(raw), 784);
    const fromResized = await infer(Array.from(resized), 256);
    const probs = (b: typeof fromRaw) => b.outputs.find((o) => o.name === 'probabilities')!.data;
    const label = (b: typeof fromRaw) => b.outputs.find((o) => o.name === 'label')!;
    for (const [i, p] of probs(fromRaw).entries()) expect(p).toBeCloseTo(probs(fromResized)[i], 6);
    expect(label(fromRaw).parameters?.class_names).toEqual([FASHION_MNIST.classes[label(fromRaw).data[0]]]);

    const predicted = await post(`/api/runs/${runId}/predict`, { pixels: [Array.from(raw)], top_k: 2 });
    expect(predicted.status).toBe(200);
    const { predictions } = (await predicted.json()) as {
      predictions: { label: number; className: string }[][];
    };
    for (const p of predictions[0]) expect(p.className).toBe(FASHION_MNIST.classes[p.label]);
  });

  it('trains per-connection weights on its training shards, tested on its test set', async () => {
    const models = (await (await request(`/api/runs/${runId}/models`)).json()) as ModelList;
    const shared = models.models.find((m) => m.variant !== 'trained')!;
    const steps = 20;
    const started = await post(`/api/runs/${runId}/models/${shared.version}/train`, { steps });
    expect(started.status).toBe(202);
    const deadline = Date.now() + 45_000;
    let trainedVersion: number | null = null;
    for (;;) {
      const list = (await (await request(`/api/runs/${runId}/models`)).json()) as ModelList;
      const t = list.models.find((m) => m.version === shared.version)?.training;
      if (t?.status === 'failed') throw new Error(`training failed: ${t.error}`);
      if (t?.status === 'done') {
        trainedVersion = t.version;
        break;
      }
      if (Date.now() > deadline) throw new Error(`training did not finish: ${JSON.stringify(t)}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    const trained = (await (await request(`/api/runs/${runId}/models/${trainedVersion}`)).json()) as {
      testAccuracy: number[];
    };
    const genome = parseGenome(
      await (await request(`/api/runs/${runId}/models/${shared.version}/genome.json`)).json(),
    );
    const net = compileTrainable(genome);
    const state = initialTrainingState(net, shared.tunedWeight, {
      seed: 1,
      decaySteps: defaultDecaySteps(steps),
    });
    trainSteps(net, state, concatShards(train), steps);
    expect(trained.testAccuracy[0]).toBe(trainedAccuracy(net, state.weights, shardsToBatch(test)));
  });

  it('a fork keeps its dataset', async () => {
    const res = await post(`/api/runs/${runId}/fork`, { generations: 6, dataset: 'mnist' });
    expect(res.status).toBe(400);
    expect(((await res.json()) as ErrorBody).error.message).toMatch(/keeps the dataset.*fashion-mnist/);
  });
});
