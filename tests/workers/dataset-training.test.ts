/**
 * Trained weights on an uploaded table, end to end inside workerd: a shared-weight version of a run
 * on the table is trained as queued chunks on its WSH2 rows (standardised float32 features); the
 * trained version's ONNX standardises raw values itself, so `/v2` takes raw rows and answers what
 * the same training done here in one go (src/wann/train.ts) answers on standardised rows.
 */
import { env } from 'cloudflare:workers';
import { drizzle } from 'drizzle-orm/d1';
import { describe, expect, it } from 'vitest';
import { runs } from '../../schema/schema';
import type { ModelResource } from '../../src/api/types';
import { decodeAnyShard, type FeatureShard, isFeatureShard, shardsToBatch } from '../../src/data/shard';
import { stream } from '../../src/random';
import { MNIST_ACTIVATIONS, SHARED_WEIGHTS } from '../../src/wann/activation-ids';
import { type Genome, initialGenome, initialInnovations } from '../../src/wann/genome';
import { addConnection, addNode } from '../../src/wann/mutation';
import {
  compileTrainable,
  defaultDecaySteps,
  initialTrainingState,
  trainedAccuracy,
  trainedProbabilities,
  trainSteps,
} from '../../src/wann/train';
import { testShardKey, trainShardKey } from '../../workers/contracts/blob-keys';
import { publishModel } from '../../workers/models/publish';
import { post, request } from './helpers';
import { rawRows, scaledTable, standardisedRows, TABLE_CLASSES, uploadTable } from './tables';

const FEATURES = 12;
const STEPS = 40;
const PER_INVOCATION = 15;

/** A connected genome for the table (features in, classes out) with a few hidden nodes. */
function tableGenome(): Genome {
  const rng = stream(5, 0, 'init', 0);
  let g = initialGenome(FEATURES, TABLE_CLASSES.length, 0.6, rng);
  const ctx = {
    nextInnovation: initialInnovations(FEATURES, TABLE_CLASSES.length) + 1,
    activations: MNIST_ACTIVATIONS,
  };
  for (let i = 0; i < 12; i++) g = i % 2 ? addConnection(g, rng, ctx) : addNode(g, rng, ctx);
  return g;
}

async function blob(key: string): Promise<Uint8Array> {
  const object = await env.BLOBS.get(key);
  if (!object) throw new Error(`${key} missing`);
  return new Uint8Array(await object.arrayBuffer());
}

async function modelList(runId: string): Promise<ModelResource[]> {
  return ((await (await request(`/api/runs/${runId}/models`)).json()) as { models: ModelResource[] }).models;
}

describe('training weights on an uploaded table', () => {
  it('trains on the standardised rows and serves a trained model that takes raw values', async () => {
    const { text, raw } = scaledTable(400, FEATURES);
    const uploaded = await uploadTable('trained-levels', text);
    expect(uploaded.status, uploaded.error ?? '').toBe('ready');
    const manifest = uploaded.dataset!;

    // A run on the table with a published shared-weight version 1.
    const runId = crypto.randomUUID();
    const now = Date.now();
    const config = { population: 4, generations: 1, seed: 1, dataset: uploaded.id, trainShards: 1 };
    await drizzle(env.DB)
      .insert(runs)
      .values({ id: runId, status: 'completed', config, seed: 1, createdAt: now, updatedAt: now });
    const genome = tableGenome();
    await publishModel(env, {
      runId,
      version: 1,
      generation: 1,
      genome,
      weights: [...SHARED_WEIGHTS],
      trainShards: 1,
      dataset: uploaded.id,
    });

    const started = await post(`/api/runs/${runId}/models/1/train`, {
      steps: STEPS,
      stepsPerInvocation: PER_INVOCATION,
    });
    expect(started.status).toBe(202);
    const deadline = Date.now() + 45_000;
    let list: ModelResource[];
    for (;;) {
      list = await modelList(runId);
      const status = list.find((m) => m.version === 1)?.training?.status;
      if (status === 'done' || status === 'failed') break;
      if (Date.now() > deadline) throw new Error(`training did not finish: ${status}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    const shared = list.find((m) => m.version === 1)!;
    expect(shared.training, JSON.stringify(shared.training)).toMatchObject({ status: 'done', step: STEPS });
    const trained = list.find((m) => m.variant === 'trained')!;
    expect(trained).toMatchObject({ version: 2, trainedFrom: 1 });

    // The same training in one go, here, on the table's one training shard (WSH2 rows).
    const rows = decodeAnyShard(await blob(trainShardKey(0, uploaded.id)));
    expect(isFeatureShard(rows)).toBe(true);
    const net = compileTrainable(genome);
    const state = initialTrainingState(net, shared.tunedWeight, {
      seed: 1,
      decaySteps: defaultDecaySteps(STEPS),
    });
    trainSteps(net, state, rows as FeatureShard, STEPS);
    const test = shardsToBatch(
      await Promise.all(
        Array.from({ length: manifest.shards.test }, async (_, i) =>
          decodeAnyShard(await blob(testShardKey(i, uploaded.id))),
        ),
      ),
    );
    expect(trained.testAccuracy[0]).toBe(trainedAccuracy(net, state.weights, test));

    // Raw rows in; the trained weights evaluated here on standardised rows must agree.
    const some = raw.slice(0, 60);
    const res = await post(`/v2/models/${runId}/versions/2/infer`, {
      inputs: [{ name: 'image', shape: [some.length, FEATURES], datatype: 'FP32', data: some }],
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as {
      outputs: { name: string; data: number[]; parameters?: { class_names: string[] } }[];
    };
    const served = body.outputs.find((o) => o.name === 'probabilities')!.data;
    const expected = trainedProbabilities(net, state.weights, standardisedRows(some, manifest));
    let max = 0;
    for (let i = 0; i < expected.length; i++) max = Math.max(max, Math.abs(served[i] - expected[i]));
    expect(max).toBeLessThan(1e-5);
    // Fed unstandardised, the trained network would answer otherwise: the check tells them apart.
    const unstandardised = trainedProbabilities(net, state.weights, rawRows(some));
    expect(Math.max(...served.map((p, i) => Math.abs(p - unstandardised[i])))).toBeGreaterThan(1e-3);
    const labels = body.outputs.find((o) => o.name === 'label')!;
    expect(labels.parameters?.class_names.every((c) => TABLE_CLASSES.includes(c))).toBe(true);
  });
});
