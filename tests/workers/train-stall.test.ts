/**
 * Issue 21 items 7 and 8: a training chunk that never settles must not stop anyone else's work. Locally
 * Miniflare's queue broker delivers one batch at a time per consumer, so a chunk delivery that
 * hangs stopped every run's slices behind it. Training chunks have their own queue now, a chunk's
 * wall time is bounded, and the run's coordinator re-sends a chunk whose training has not moved.
 * The same alarm sweeps for slice objects no report names (stored, then abandoned by the queue).
 */
import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import type { ModelResource } from '../../src/api/types';
import { populationSliceKey } from '../../workers/contracts/blob-keys';
import { deliveries, faults, trainFaults } from './entry';
import { post, publishGrown, request, startRun, waitFor } from './helpers';

const SEARCH = { population: 32, generations: 3, seed: 20_240_611, tournamentSize: 8, recheckEvery: 0 };

async function training(runId: string): Promise<ModelResource['training']> {
  const res = await request(`/api/runs/${runId}/models/1`);
  expect(res.status).toBe(200);
  return ((await res.json()) as ModelResource).training;
}

async function until<T>(
  what: string,
  read: () => Promise<T>,
  ok: (v: T) => boolean,
  ms = 45_000,
): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await read();
    if (ok(v)) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(v)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('a training chunk that never settles', () => {
  it('does not stop a search’s slices, and the training resumes by itself', async () => {
    const { runId: trainedRun } = await publishGrown({ trainShards: 2 });
    let hung = false;
    trainFaults.set(trainedRun, (t) => {
      if (hung || t.step !== 20) return 'deliver';
      hung = true;
      return 'hang';
    });
    const res = await post(`/api/runs/${trainedRun}/models/1/train`, { steps: 60, stepsPerInvocation: 20 });
    expect(res.status).toBe(202);
    await until('the hung chunk', async () => hung, Boolean);

    // Another run's search, started while the chunk hangs: every slice is still evaluated.
    const created = await startRun(SEARCH);
    const run = await waitFor(created.id);
    expect(run).toMatchObject({ status: 'completed', generation: 3, error: null });

    // The coordinator re-sends the chunk that made no progress; the training finishes.
    const done = await until(
      'the training',
      () => training(trainedRun),
      (t) => t?.status === 'done',
    );
    expect(done).toMatchObject({ status: 'done', step: 60, steps: 60 });
    expect(deliveries.get(`${trainedRun}:1:train:20`)).toBeGreaterThanOrEqual(2);
  });
});

describe('lost work, found by the coordinator’s alarm', () => {
  it('a training chunk whose message is lost resumes by itself after the stall timeout', async () => {
    const { runId } = await publishGrown({ trainShards: 2 });
    let lost = false;
    trainFaults.set(runId, (t) => {
      if (lost || t.step !== 20) return 'deliver';
      lost = true;
      return 'drop';
    });
    const res = await post(`/api/runs/${runId}/models/1/train`, { steps: 60, stepsPerInvocation: 20 });
    expect(res.status).toBe(202);
    await until('the lost chunk', async () => lost, Boolean);
    // Stalled at step 20; the coordinator re-sends the chunk (4 slice timeouts: 6 s in tests)
    // and says so on the training while it waits.
    const noted = await until(
      'the stall note',
      () => training(runId),
      (t) => t?.error != null || t?.status === 'done',
    );
    if (noted?.status !== 'done')
      expect(noted?.error).toMatch(/past step 20 .* sent again \(1×\): is an evaluator running\?/);
    const done = await until(
      'the training',
      () => training(runId),
      (t) => t?.status === 'done',
    );
    expect(done).toMatchObject({ status: 'done', step: 60, steps: 60, error: null });
    expect(deliveries.get(`${runId}:1:train:20`)).toBe(2);
  });

  it('starting a training again while it runs continues it (no 409), from its saved step', async () => {
    const { runId } = await publishGrown({ trainShards: 2 });
    let lost = false;
    trainFaults.set(runId, (t) => {
      if (lost || t.step !== 20) return 'deliver';
      lost = true;
      return 'drop';
    });
    expect(
      (await post(`/api/runs/${runId}/models/1/train`, { steps: 60, stepsPerInvocation: 20 })).status,
    ).toBe(202);
    await until('the lost chunk', async () => lost, Boolean);
    const again = await post(`/api/runs/${runId}/models/1/train`, { steps: 60, stepsPerInvocation: 20 });
    expect(again.status).toBe(202);
    expect(((await again.json()) as ModelResource).training).toMatchObject({ status: 'running', step: 20 });
    const done = await until(
      'the training',
      () => training(runId),
      (t) => t?.status === 'done',
    );
    expect(done).toMatchObject({ status: 'done', step: 60 });
  });

  it('a slice stored and then abandoned by the queue leaves no object behind', async () => {
    const created = await startRun({ ...SEARCH, sliceSize: 16 });
    // Gen 1's first slice is evaluated and stored on every try, its report never arrives: the run
    // fails; an evaluator that stores the same slice after the failure leaves an object too.
    faults.set(created.id, (t) => (t.gen === 1 && t.sliceStart === 0 ? 'abandon' : 'deliver'));
    const run = await waitFor(created.id);
    expect(run.status).toBe('failed');
    expect(run.generation).toBe(1);
    await env.BLOBS.put(populationSliceKey(run.id, 1, 0), new Uint8Array([1, 2, 3]));
    await env.BLOBS.put(populationSliceKey(run.id, 0, 999), new Uint8Array([1, 2, 3]));
    const keys = async () =>
      (await env.BLOBS.list({ prefix: `runs/${run.id}/gen/` })).objects.map((o) => o.key);
    // The alarm's sweep lists them; generation 0's slices (a fork continues from them) stay.
    const left = await until(
      'the orphans to go',
      keys,
      (k) => !k.some((key) => /\/gen\/1\/|\/gen\/0\/999$/.test(key)),
    );
    expect(left.sort()).toEqual([populationSliceKey(run.id, 0, 0), populationSliceKey(run.id, 0, 16)].sort());
  });
});
