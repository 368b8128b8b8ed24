/**
 * A dataset's softmax-regression baseline as queued, cached work (workers/datasets/baseline.ts):
 * an uploaded table's baseline is queued when its build ends, computed on the training queue (its
 * epoch count chosen on a validation split carved from the training shards, the test split scored
 * once) and served as the `baseline` field of the dataset's resource; computed again, in one chunk
 * or in many (a chunk per epoch, resumed from saved progress), it is the same figure; and it is the
 * figure src/wann/baseline.ts `fitBaseline` gives on the same shards.
 */
import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import type { DatasetBaseline, DatasetList, UploadedDataset } from '../../src/api/types';
import { decodeAnyShard, shardToBatch } from '../../src/data/shard';
import { BASELINE_VERSION, fitBaseline } from '../../src/wann/baseline';
import { datasetBaselineKey, testShardKey, trainShardKey } from '../../workers/contracts/blob-keys';
import type { DatasetBaselineTask, TrainQueue } from '../../workers/contracts/queue-tasks';
import {
  BASELINE_SEED,
  readBaselineRecord,
  requestBaseline,
  runBaselineTask,
} from '../../workers/datasets/baseline';
import { request } from './helpers';
import { scaledTable, uploadTable } from './tables';

const FEATURES = 12;

async function baselineOf(name: string): Promise<DatasetBaseline | null | undefined> {
  const d = (await (await request(`/api/datasets/${name}`)).json()) as UploadedDataset;
  return d.dataset?.baseline;
}

async function waitForBaseline(name: string): Promise<DatasetBaseline> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const b = await baselineOf(name);
    if (b && (b.status === 'ready' || b.status === 'failed')) return b;
    if (Date.now() > deadline) throw new Error(`baseline of ${name} not done: ${JSON.stringify(b)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function batchAt(key: string) {
  const object = await env.BLOBS.get(key);
  if (!object) throw new Error(`${key} missing`);
  return shardToBatch(decodeAnyShard(new Uint8Array(await object.arrayBuffer())));
}

describe("an uploaded table's baseline", () => {
  it('is queued when the table is built, computed once, served with the dataset, and stable', async () => {
    // 2,400 rows: three training shards, so the validation split and the epochs cross shards.
    const { text } = scaledTable(2_400, FEATURES);
    const uploaded = await uploadTable('baseline-levels', text);
    expect(uploaded.status, uploaded.error ?? '').toBe('ready');
    const id = uploaded.id;
    const manifest = uploaded.dataset!;
    expect(manifest.shards.train).toBe(3);

    const first = await waitForBaseline('baseline-levels');
    expect(first, JSON.stringify(first)).toMatchObject({ status: 'ready', error: null, weights: 13 * 3 });
    expect(first.epochs).toBeGreaterThanOrEqual(1);
    expect(first.epochs).toBeLessThanOrEqual(30);
    expect(first.validationAccuracy).toBeGreaterThan(0.8);
    expect(first.testAccuracy).toBeGreaterThan(0.8);
    const record = await readBaselineRecord(env.BLOBS, id);
    expect(record?.result).toMatchObject({
      validationCount: expect.any(Number),
      trainCount: expect.any(Number),
    });
    // Beside every other view of the dataset: the list, and (by id) the upload itself.
    const list = (await (await request('/api/datasets')).json()) as DatasetList;
    expect(list.datasets.find((d) => d.name === 'baseline-levels')?.baseline).toEqual(first);
    expect(
      ((await (await request(`/api/datasets/${id}`)).json()) as UploadedDataset).dataset?.baseline,
    ).toEqual(first);

    // The figure src/wann/baseline.ts gives on the same shards with the same seed.
    const local = await fitBaseline(
      {
        features: FEATURES,
        classes: 3,
        trainParts: manifest.shards.train,
        testParts: manifest.shards.test,
        trainPart: (i) => batchAt(trainShardKey(i, id)),
        testPart: (i) => batchAt(testShardKey(i, id)),
      },
      { seed: BASELINE_SEED },
    );
    expect(first).toMatchObject({
      epochs: local.epochs,
      validationAccuracy: local.validationAccuracy,
      testAccuracy: local.testAccuracy,
    });

    // Computed again from nothing, through the queue: the same figure.
    await env.BLOBS.delete(datasetBaselineKey(id, BASELINE_VERSION));
    expect((await baselineOf('baseline-levels'))?.status).toMatch(/queued|running|ready/);
    expect(await waitForBaseline('baseline-levels')).toEqual(first);

    // And again one epoch per chunk (a clock that jumps past the chunk budget), each chunk resumed
    // from the progress the previous one saved; a duplicate delivery of a chunk changes nothing.
    await env.BLOBS.delete(datasetBaselineKey(id, BASELINE_VERSION));
    const sent: DatasetBaselineTask[] = [];
    const queue = {
      send: async (task: DatasetBaselineTask) => void sent.push(task),
    } as unknown as TrainQueue;
    const chunked = { BLOBS: env.BLOBS, DB: env.DB, TRAIN_QUEUE: queue };
    let clock = Date.now();
    const jumpingClock = () => (clock += 60_000);
    await requestBaseline(chunked, id);
    let chunks = 0;
    while (sent.length > 0) {
      const task = sent.shift()!;
      await runBaselineTask(chunked, task, jumpingClock);
      if (chunks === 0) await runBaselineTask(chunked, task, jumpingClock); // a duplicate: ignored
      chunks++;
    }
    const again = await readBaselineRecord(env.BLOBS, id);
    expect(chunks).toBe(again?.epoch);
    expect(chunks).toBeGreaterThan(1);
    expect(again?.result).toEqual(record?.result);
  });
});
