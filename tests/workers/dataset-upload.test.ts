/**
 * Uploading a CSV dataset inside workerd: the file streams into R2, the queued build writes WSH2
 * shards and the manifest, bad tables are refused with the problem named and nothing left in R2
 * or D1, the same bytes again are recognised, the byte limit is a 413, and a dataset a run uses
 * cannot be deleted.
 */
import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import type { DatasetList, UploadedDataset } from '../../src/api/types';
import { decodeAnyShard, type FeatureShard } from '../../src/data/shard';
import { standardization, standardize } from '../../src/data/standardize';
import { testShardKey, trainShardKey } from '../../workers/contracts/blob-keys';
import { MAX_UPLOAD_BYTES } from '../../workers/datasets/upload';
import { type ErrorBody, post, request } from './helpers';
import { waitBuilt } from './tables';

const CLASSES = ['circle', 'square', 'triangle'];

/** 3 classes × 12 numeric columns × `rows` rows; the class shifts a band of columns. */
function syntheticCsv(rows: number, salt = 0): { text: string; raw: number[][] } {
  const header = [...Array.from({ length: 12 }, (_, f) => `f${f}`), 'shape'].join(',');
  const raw: number[][] = [];
  const lines = [header];
  for (let r = 0; r < rows; r++) {
    const c = r % 3;
    const row = Array.from({ length: 12 }, (_, f) => {
      const noise = ((r * 31 + f * 17 + salt) % 23) / 23;
      return Math.round((Math.floor(f / 4) === c ? 10 + 5 * noise : 2 * noise) * 1000) / 1000;
    });
    raw.push(row);
    lines.push([...row.map(String), CLASSES[c]].join(','));
  }
  return { text: `${lines.join('\n')}\n`, raw };
}

function upload(
  query: string,
  body: string | Uint8Array,
  headers: Record<string, string> = {},
  token?: string | null,
) {
  const bytes = typeof body === 'string' ? new TextEncoder().encode(body) : body;
  return request(`/api/datasets?${query}`, {
    token,
    method: 'POST',
    headers: { 'Content-Type': 'text/csv', 'Content-Length': String(bytes.byteLength), ...headers },
    body: bytes,
  });
}

async function keysUnder(prefix: string): Promise<string[]> {
  return (await env.BLOBS.list({ prefix })).objects.map((o) => o.key);
}

describe('uploading a CSV dataset', () => {
  it('streams to R2, builds standardised shards from the training split, and lists it', async () => {
    const { text, raw } = syntheticCsv(300);
    const res = await upload('name=shapes', text);
    expect(res.status).toBe(202);
    const created = (await res.json()) as UploadedDataset;
    expect(created).toMatchObject({ name: 'shapes', status: 'uploaded', bytes: text.length });
    expect(created.id).toMatch(/^u-[0-9a-f]{16}$/);
    expect(created.sourceHash).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(await keysUnder(`uploads/${created.id}/`)).toEqual([`uploads/${created.id}/train.csv`]);

    const built = await waitBuilt('shapes');
    expect(built.status, built.error ?? '').toBe('ready');
    expect(built.progress).toBe(1);
    expect(built.dataset).toMatchObject({
      name: 'shapes',
      kind: 'tabular',
      rawShape: [12],
      features: 12,
      classes: CLASSES,
      splits: { train: 270, test: 30 },
      shards: { train: 1, test: 1, rowsPerShard: 1000 },
      inputShape: [-1, 12],
      sourceHash: created.sourceHash,
    });
    // Addressed by id too.
    expect(((await (await request(`/api/datasets/${created.id}`)).json()) as UploadedDataset).name).toBe(
      'shapes',
    );

    // The shards hold every row once, standardised with the manifest's (training) statistics.
    const dataset = built.dataset;
    if (dataset?.preprocessing.kind !== 'tabular') throw new Error('not tabular');
    const s = standardization(dataset.preprocessing);
    const shards = await Promise.all(
      [trainShardKey(0, created.id), testShardKey(0, created.id)].map(async (key) => {
        const object = await env.BLOBS.get(key);
        if (!object) throw new Error(`${key} missing`);
        return decodeAnyShard(await object.arrayBuffer()) as FeatureShard;
      }),
    );
    expect(shards.map((sh) => sh.count)).toEqual([270, 30]);
    const expected = new Set(raw.map((row) => Array.from(standardize(row, s)).join(',')));
    const got = new Set<string>();
    for (const sh of shards) {
      for (let i = 0; i < sh.count; i++)
        got.add(Array.from(sh.values.subarray(i * 12, (i + 1) * 12)).join(','));
    }
    expect(got).toEqual(expected);

    const list = (await (await request('/api/datasets')).json()) as DatasetList;
    // Built: listed among the datasets a run can search on, and as an upload.
    expect(list.datasets.map((d) => d.name)).toContain('shapes');

    // A run names it by name or id; its shard counts are checked against the manifest's
    // (dataset-runs.test.ts runs a search on an upload).
    for (const dataset of ['shapes', created.id]) {
      const run = await post('/api/runs', { dataset, trainShards: 2 });
      expect(run.status).toBe(400);
      expect(((await run.json()) as ErrorBody).error.message).toContain(
        "trainShards: at most 1, the training shards of dataset 'shapes'",
      );
    }
    expect(list.uploads?.map((d) => d.name)).toContain('shapes');
  });

  it('recognises the same bytes uploaded again and stores them once', async () => {
    const { text } = syntheticCsv(60, 7);
    expect((await upload('name=twice-a', text)).status).toBe(202);
    const again = await upload('name=twice-b', text);
    expect(again.status).toBe(409);
    const { error } = (await again.json()) as ErrorBody;
    expect(error.code).toBe('duplicate_dataset');
    expect(error.message).toContain("'twice-a'");
    expect((await request('/api/datasets/twice-b')).status).toBe(404);
    expect((await keysUnder('uploads/')).length).toBe(
      ((await (await request('/api/datasets')).json()) as DatasetList).uploads?.length,
    );
  });

  it.each([
    ['ragged row', 'a,b,kind\n1,2,x\n1,2\n3,4,y\n', /data row 2.*ragged row/],
    ['non-numeric value', 'a,b,kind\n1,2,x\n1,abc,y\n', /data row 2.*column "b".*non-numeric value "abc"/],
    ['NaN', 'a,b,kind\n1,NaN,x\n1,2,y\n', /data row 1.*column "b".*NaN/],
    ['Infinity', 'a,b,kind\n1,2,x\n-Infinity,2,y\n', /data row 2.*column "a".*not a finite number/],
    ['one class only', 'a,b,kind\n1,2,x\n3,4,x\n', /one class only/],
    ['header only', 'a,b,kind\n', /header only/],
    ['unknown label column', 'a,b,kind\n1,2,x\n', /no column named "species"/, 'label=species'],
    ['not UTF-8', new Uint8Array([0x61, 0x2c, 0x62, 0x0a, 0xff, 0xfe, 0x2c, 0x31, 0x0a]), /not UTF-8/],
  ])('a table with %s is a 400 naming it, and nothing is kept', async (_, body, message, extra = '') => {
    const before = await keysUnder('uploads/');
    const res = await upload(`name=bad-${before.length}&${extra}`, body);
    expect(res.status).toBe(400);
    const { error } = (await res.json()) as ErrorBody;
    expect(error.code).toBe('invalid_csv');
    expect(error.message).toMatch(message);
    expect(await keysUnder('uploads/')).toEqual(before);
    expect((await request(`/api/datasets/bad-${before.length}`)).status).toBe(404);
  });

  it('a table too small to hold out a test split fails its build with the reason, no shards left', async () => {
    const res = await upload('name=tiny', 'a,kind\n1,x\n2,y\n');
    expect(res.status).toBe(202);
    const { id } = (await res.json()) as UploadedDataset;
    const built = await waitBuilt('tiny');
    expect(built.status).toBe('failed');
    expect(built.error).toMatch(/test split is empty/);
    expect(await keysUnder(`datasets/${id}/`)).toEqual([]);
  });

  it('refuses an empty body, a wrong type, a missing name, a taken name and an upload over the limit', async () => {
    expect((await upload('name=empty', '')).status).toBe(400);
    expect((await upload('name=typed', 'a,b\n1,x\n', { 'Content-Type': 'application/json' })).status).toBe(
      415,
    );
    expect((await upload('', 'a,b\n1,x\n')).status).toBe(400);
    expect((await upload('name=mnist', 'a,b\n1,x\n2,y\n')).status).toBe(409);
    const over = await request('/api/datasets?name=huge', {
      method: 'POST',
      headers: { 'Content-Type': 'text/csv', 'Content-Length': String(MAX_UPLOAD_BYTES + 1) },
      body: new ReadableStream({
        start(controller) {
          controller.enqueue(new TextEncoder().encode('a,b\n'));
          controller.close();
        },
      }),
    });
    expect(over.status).toBe(413);
    expect(((await over.json()) as ErrorBody).error.message).toContain('256 MiB');
    expect((await upload('name=anon', 'a,b\n1,x\n', {}, null)).status).toBe(401);
  });

  it('a dataset a run names cannot be deleted; an unused one can, with its objects', async () => {
    const { text } = syntheticCsv(90, 3);
    const { id } = (await (await upload('name=kept', text)).json()) as UploadedDataset;
    expect((await waitBuilt('kept')).status).toBe('ready');
    const now = Date.now();
    await env.DB.prepare(
      "insert into runs (id, status, config, seed, created_at, updated_at) values ('run-using-kept', 'running', ?, 1, ?, ?)",
    )
      .bind(JSON.stringify({ dataset: 'kept' }), now, now)
      .run();
    const refused = await request('/api/datasets/kept', { method: 'DELETE' });
    expect(refused.status).toBe(409);
    expect(((await refused.json()) as ErrorBody).error.message).toContain('run-using-kept');

    await env.DB.prepare("delete from runs where id = 'run-using-kept'").run();
    expect((await request(`/api/datasets/${id}`, { method: 'DELETE' })).status).toBe(204);
    expect((await request('/api/datasets/kept')).status).toBe(404);
    expect(await keysUnder(`datasets/${id}/`)).toEqual([]);
    expect(await keysUnder(`uploads/${id}/`)).toEqual([]);
  });
});
