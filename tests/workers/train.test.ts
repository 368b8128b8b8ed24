/**
 * Trained weights as queued work, end to end inside workerd: the owner starts training a published
 * model; the evaluator code consumes `train` tasks from the real queue, a bounded number of steps
 * per invocation, state in R2, step in D1 by compare-and-set; a duplicated message changes nothing;
 * the trained version appears in the models API with its test accuracy (equal to the same training
 * done in one go with src/wann/train.ts) and is served by the Open Inference Protocol endpoint
 * (the pre-bundled inference Worker, onnxruntime-web) under its own version.
 */
import { env } from 'cloudflare:workers';
import { beforeAll, describe, expect, it } from 'vitest';
import type { ModelResource } from '../../src/api/types';
import { concatShards, decodeShard, shardsToBatch, shardToBatch } from '../../src/data/shard';
import {
  compileTrainable,
  defaultDecaySteps,
  initialTrainingState,
  trainedAccuracy,
  trainedProbabilities,
  trainSteps,
} from '../../src/wann/train';
import type { Batch } from '../../src/wann/types';
import { grownGenome } from '../unit/onnx-fixture';
import { peerRuns, peerTraining } from './entry';
import { post, publishGrown, request, startRun, waitFor } from './helpers';

type ModelJson = ModelResource;

const STEPS = 60;
const PER_INVOCATION = 20;
const bytes = (name: string) => new Uint8Array((env as unknown as Record<string, ArrayBuffer>)[name]);

/** A grown genome published as version 1 of a fresh run whose training shards are the two in R2. */
async function publishGrownRun(): Promise<string> {
  return (await publishGrown({ trainShards: 2 })).runId;
}

async function modelList(runId: string): Promise<ModelJson[]> {
  const res = await request(`/api/runs/${runId}/models`);
  expect(res.status).toBe(200);
  return ((await res.json()) as { models: ModelJson[] }).models;
}

describe('training a published model', () => {
  let runId: string;
  let shared: ModelJson;
  let trained: ModelJson;
  const stepsSeen = new Set<number>();
  let test: Batch;

  beforeAll(async () => {
    runId = await publishGrownRun();
    const res = await post(`/api/runs/${runId}/models/1/train`, {
      steps: STEPS,
      stepsPerInvocation: PER_INVOCATION,
    });
    expect(res.status).toBe(202);
    const started = (await res.json()) as ModelJson;
    expect(started.training).toMatchObject({ status: 'queued', step: 0, steps: STEPS, version: null });
    // A duplicated delivery of the first task (queues are at least once).
    await env.TRAIN_QUEUE.send({ kind: 'train', runId, version: 1, step: 0 }, { contentType: 'json' });
    // Progress until done (the consumer runs in this workerd; each chunk is a queue delivery).
    const deadline = Date.now() + 45_000;
    for (;;) {
      const list = await modelList(runId);
      const v1 = list.find((m) => m.version === 1)!;
      if (v1.training) stepsSeen.add(v1.training.step);
      if (v1.training?.status === 'done' || v1.training?.status === 'failed') break;
      if (Date.now() > deadline) throw new Error(`training did not finish: ${JSON.stringify(v1.training)}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    const list = await modelList(runId);
    shared = list.find((m) => m.version === 1)!;
    trained = list.find((m) => m.variant === 'trained')!;
    test = shardsToBatch(Array.from({ length: 10 }, (_, i) => decodeShard(bytes(`SHARD_TEST_${i}`))));
  });

  it('finishes, and its progress only ever stood at chunk boundaries', () => {
    expect(shared.training).toMatchObject({ status: 'done', step: STEPS, steps: STEPS, error: null });
    expect(shared.training?.loss).toBeGreaterThan(0);
    for (const s of stepsSeen) expect(s % PER_INVOCATION).toBe(0);
  });

  it('publishes the trained weights as the next version, beside the shared one', () => {
    expect(shared.variant).toBe('shared');
    expect(trained).toBeDefined();
    expect(trained.version).toBe(2);
    expect(shared.training?.version).toBe(2);
    expect(trained).toMatchObject({ trainedFrom: 1, weights: [], tunedWeight: 0, training: null });
    const [acc] = trained.testAccuracy;
    expect(trained.testAccuracy).toHaveLength(1);
    expect(trained.meanTestAccuracy).toBe(acc);
    expect(trained.ensembleTestAccuracy).toBe(acc);
    expect(trained.tunedTestAccuracy).toBe(acc);
    expect(acc).toBeGreaterThan(shared.tunedTestAccuracy);
  });

  it('has exactly the accuracy of the same training done in one go (chunks and the duplicate change nothing)', () => {
    const train = concatShards([decodeShard(bytes('SHARD_TRAIN_00')), decodeShard(bytes('SHARD_TRAIN_01'))]);
    const net = compileTrainable(grownGenome());
    const state = initialTrainingState(net, shared.tunedWeight, {
      seed: 1,
      decaySteps: defaultDecaySteps(STEPS),
    });
    trainSteps(net, state, train, STEPS);
    expect(trained.testAccuracy[0]).toBe(trainedAccuracy(net, state.weights, test));
  });

  it('is served by /v2 under its own version, equal to the src/ forward pass', async () => {
    const train = concatShards([decodeShard(bytes('SHARD_TRAIN_00')), decodeShard(bytes('SHARD_TRAIN_01'))]);
    const net = compileTrainable(grownGenome());
    const state = initialTrainingState(net, shared.tunedWeight, {
      seed: 1,
      decaySteps: defaultDecaySteps(STEPS),
    });
    trainSteps(net, state, train, STEPS);
    const N = 50;
    const batch = shardToBatch(decodeShard(bytes('SHARD_TEST_0')), 0, N);
    const rows = Array.from({ length: N }, (_, i) =>
      Array.from({ length: 256 }, (_, p) => batch.inputs[p * N + i]),
    );
    const res = await post(`/v2/models/${runId}/versions/2/infer`, {
      inputs: [{ name: 'image', shape: [N, 256], datatype: 'FP32', data: rows }],
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as {
      model_version: string;
      parameters: Record<string, unknown>;
      outputs: { name: string; data: number[] }[];
    };
    expect(body.model_version).toBe('2');
    // No shared weight was used: the answer says so instead of "ensemble", and names the variant.
    expect(body.parameters).toEqual({
      weights: 'trained',
      variant: 'trained',
      trained_from: '1',
      answered_by: 'v2 (trained weights, from v1)',
    });
    const probabilities = body.outputs.find((o) => o.name === 'probabilities')!.data;
    const expected = trainedProbabilities(net, state.weights, batch);
    let max = 0;
    for (let i = 0; i < expected.length; i++) max = Math.max(max, Math.abs(probabilities[i] - expected[i]));
    expect(max).toBeLessThan(1e-5);
    // The newest version is the trained one; a shared weight does not apply to it.
    const newest = await post(`/v2/models/${runId}/infer`, {
      inputs: [{ name: 'image', shape: [1, 256], datatype: 'FP32', data: rows[0] }],
      parameters: { shared_weight: 1 },
    });
    expect(newest.status).toBe(400);
    expect(((await newest.json()) as { error: string }).error).toMatch(/trained per-connection weights/);
    // The predict route names the version and variant that answered, and takes any version.
    type Predicted = {
      model: { version: number; variant: string; answeredBy: string };
      sharedWeight: unknown;
    };
    const byTrained = await post(`/api/runs/${runId}/predict?version=2`, { pixels: [rows[0]] });
    expect(byTrained.status).toBe(200);
    const trainedAnswer = (await byTrained.json()) as Predicted;
    expect(trainedAnswer.model).toMatchObject({
      version: 2,
      variant: 'trained',
      trainedFrom: 1,
      weights: 'trained',
    });
    expect(trainedAnswer.model.answeredBy).toBe('v2 (trained weights, from v1)');
    expect(trainedAnswer.sharedWeight).toBeNull();
    const byShared = await post(`/api/runs/${runId}/predict?version=1`, { pixels: [rows[0]] });
    const sharedAnswer = (await byShared.json()) as Predicted;
    expect(sharedAnswer.model).toMatchObject({ version: 1, variant: 'shared', weights: 'ensemble' });
    expect(sharedAnswer.model.answeredBy).toBe('v1 (shared weights, ensemble)');
    expect((await post(`/api/runs/${runId}/predict?version=9`, { pixels: [rows[0]] })).status).toBe(404);
    const meta = await request(`/v2/models/${runId}/versions/2`);
    const parameters = ((await meta.json()) as { parameters: { variant: string; shared_weight: string } })
      .parameters;
    expect(parameters.variant).toBe('trained');
    expect(parameters.shared_weight).toMatch(/^not applicable/);
    const sharedMeta = await request(`/v2/models/${runId}/versions/1`);
    expect(
      ((await sharedMeta.json()) as { parameters: { shared_weight: string } }).parameters.shared_weight,
    ).toMatch(/ensemble/);
  });

  it('refuses a second training, training a trained version, bad bodies and non-owners', async () => {
    const again = await post(`/api/runs/${runId}/models/1/train`, {});
    expect(again.status).toBe(409);
    expect(((await again.json()) as { error: { code: string } }).error.code).toBe('already_trained');
    const ofTrained = await post(`/api/runs/${runId}/models/2/train`, {});
    expect(ofTrained.status).toBe(409);
    expect(((await ofTrained.json()) as { error: { code: string } }).error.code).toBe('trained_model');
    const bad = await post(`/api/runs/${runId}/models/1/train`, { steps: 0 });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { message: string } }).error.message).toMatch(/steps/);
    const unknown = await post(`/api/runs/${runId}/models/1/train`, { epochs: 3 });
    expect(unknown.status).toBe(400);
    expect(((await unknown.json()) as { error: { message: string } }).error.message).toMatch(/epochs/);
    const anonymous = await post(`/api/runs/${runId}/models/1/train`, {}, { token: null });
    expect(anonymous.status).toBe(401);
    const missing = await post(`/api/runs/${runId}/models/9/train`, {});
    expect(missing.status).toBe(404);
  });

  it('refuses more steps per invocation than the CPU bound allows', async () => {
    const other = await publishGrownRun();
    const res = await post(`/api/runs/${other}/models/1/train`, { stepsPerInvocation: 10_000_000 });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(
      /stepsPerInvocation: at most/,
    );
    const one = await request(`/api/runs/${other}/models/1`);
    expect(one.status).toBe(200);
    expect(((await one.json()) as ModelJson).training).toBeNull();
  });
});

async function trainToTheEnd(runId: string): Promise<ModelJson[]> {
  const res = await post(`/api/runs/${runId}/models/1/train`, {
    steps: STEPS,
    stepsPerInvocation: PER_INVOCATION,
  });
  expect(res.status).toBe(202);
  const deadline = Date.now() + 45_000;
  for (;;) {
    const list = await modelList(runId);
    const status = list.find((m) => m.version === 1)?.training?.status;
    if (status === 'done' || status === 'failed') return list;
    if (Date.now() > deadline) throw new Error(`training did not finish: ${status}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('training with peer evaluators (npm start)', () => {
  it('computes every chunk on a peer, off the serving thread, with the same trained weights', async () => {
    const here = await publishGrownRun();
    const onPeers = await publishGrownRun();
    peerRuns.set(onPeers, { peer1: 0, peer2: 0 });
    const before = peerTraining.chunks;
    const local = await trainToTheEnd(here);
    expect(peerTraining.chunks).toBe(before);
    const remote = await trainToTheEnd(onPeers);
    // Three chunks of 20 steps, each computed by a stand-in peer (a duplicate delivery adds one).
    expect(peerTraining.chunks - before).toBeGreaterThanOrEqual(STEPS / PER_INVOCATION);
    const outcome = (list: ModelJson[]) => ({
      training: list.find((m) => m.version === 1)?.training,
      accuracy: list.find((m) => m.variant === 'trained')?.testAccuracy,
    });
    expect(outcome(remote).training).toMatchObject({ status: 'done', step: STEPS });
    // The last minibatch's loss and the test accuracy, to the bit.
    expect(outcome(remote)).toEqual(outcome(local));
  });
});

describe('training during a search that keeps publishing', () => {
  it('numbers the trained version from the run’s publication sequence: a later publication gets the next number', async () => {
    const run = await startRun({ population: 16, generations: 10_000, seed: 5, tournamentSize: 4 });
    try {
      await waitFor(run.id, (r) => r.generation >= 1);
      const first = await post(`/api/runs/${run.id}/publish`);
      expect(first.status).toBe(201);
      const v1 = (await first.json()) as ModelJson;
      expect(v1).toMatchObject({ version: 1, variant: 'shared' });
      expect((await post(`/api/runs/${run.id}/models/1/train`, { steps: 10 })).status).toBe(202);
      const deadline = Date.now() + 45_000;
      let trained = (await modelList(run.id)).find((m) => m.variant === 'trained');
      while (!trained) {
        if (Date.now() > deadline) throw new Error('training did not finish');
        await new Promise((r) => setTimeout(r, 20));
        trained = (await modelList(run.id)).find((m) => m.variant === 'trained');
      }
      expect(trained).toMatchObject({ version: 2, trainedFrom: 1 });
      // The search went on: publishing its champion now is a new version, after the trained one.
      await waitFor(run.id, (r) => r.generation > v1.generation);
      const next = await post(`/api/runs/${run.id}/publish`);
      expect(next.status).toBe(201);
      const v3 = (await next.json()) as ModelJson;
      expect(v3).toMatchObject({ version: 3, variant: 'shared' });
      expect(v3.generation).toBeGreaterThan(v1.generation);
    } finally {
      await post(`/api/runs/${run.id}/cancel`);
    }
  });
});
