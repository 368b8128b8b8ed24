/**
 * `GET /api/datasets/:name/samples` inside workerd: an uploaded table's class counts per split sum
 * to its split sizes and match the file, its sample rows are raw rows of the file (un-standardised
 * from the float32 shards) with a few of every class first, the counts are kept beside the shards
 * (and go with them on delete), and a share link reads its own run's samples and no other
 * dataset's. Unknown is a 404, not built a 409, a built-in loaded in part (the test R2 holds two of
 * MNIST's sixty training shards) a 409 naming the command that builds it.
 */
import { env } from 'cloudflare:workers';
import { beforeAll, describe, expect, it } from 'vitest';
import type { CreatedShareLink, DatasetSamples, UploadedDataset } from '../../src/api/types';
import { classCountsKey } from '../../workers/contracts/blob-keys';
import { type ErrorBody, post, request } from './helpers';
import { waitBuilt } from './tables';

const CLASSES = ['low', 'mid', 'high'];
/** Rows per class in the file: unbalanced, so the counts say something. */
const PER_CLASS = [150, 90, 60];
const FEATURES = 5;

/** Rows of the file, with values at several scales and up to three decimals. */
function rows(): { values: number[]; label: string }[] {
  const out: { values: number[]; label: string }[] = [];
  for (const [c, n] of PER_CLASS.entries()) {
    for (let i = 0; i < n; i++) {
      const values = Array.from({ length: FEATURES }, (_, f) => {
        const noise = ((i * 37 + f * 11 + c * 5) % 29) / 29;
        const scale = [0.01, 1, 12.5, 400, 2500][f];
        // Five significant digits: float32 shards keep about seven.
        return Number(((c + noise) * scale).toPrecision(5));
      });
      out.push({ values, label: CLASSES[c] });
    }
  }
  return out;
}

const TABLE = rows();
const CSV = `${[...Array.from({ length: FEATURES }, (_, f) => `x${f}`), 'level'].join(',')}\n${TABLE.map((r) => [...r.values, r.label].join(',')).join('\n')}\n`;

async function insertRun(id: string, config: Record<string, unknown>): Promise<void> {
  const now = Date.now();
  await env.DB.prepare(
    "insert into runs (id, status, config, seed, created_at, updated_at) values (?, 'completed', ?, 1, ?, ?)",
  )
    .bind(id, JSON.stringify(config), now, now)
    .run();
}

describe('dataset samples', () => {
  let uploaded: UploadedDataset;

  beforeAll(async () => {
    const bytes = new TextEncoder().encode(CSV);
    const res = await request('/api/datasets?name=levels', {
      method: 'POST',
      headers: { 'Content-Type': 'text/csv', 'Content-Length': String(bytes.byteLength) },
      body: bytes,
    });
    expect(res.status).toBe(202);
    uploaded = await waitBuilt('levels');
    expect(uploaded.status, uploaded.error ?? '').toBe('ready');
  });

  it('counts each split by class: the counts sum to the split sizes and to the file', async () => {
    const res = await request('/api/datasets/levels/samples');
    expect(res.status).toBe(200);
    const samples = (await res.json()) as DatasetSamples;
    const sum = (v: number[]) => v.reduce((a, b) => a + b, 0);
    expect(samples.name).toBe('levels');
    expect(sum(samples.classCounts.train)).toBe(uploaded.dataset?.splits.train);
    expect(sum(samples.classCounts.test)).toBe(uploaded.dataset?.splits.test);
    // By the manifest's class order (sorted names), each class's rows in the file.
    const classes = uploaded.dataset?.classes ?? [];
    const inFile = classes.map((name) => PER_CLASS[CLASSES.indexOf(name)]);
    expect(samples.classCounts.train.map((n, c) => n + samples.classCounts.test[c])).toEqual(inFile);
    // The stratified split holds out about a tenth of every class.
    for (const [c, n] of inFile.entries()) expect(samples.classCounts.test[c]).toBe(Math.round(n / 10));
    // Kept beside the shards, for the next request.
    expect(await env.BLOBS.head(classCountsKey(uploaded.id))).not.toBeNull();
  });

  it('shows raw rows of the training split, every class before any twice', async () => {
    const samples = (await (await request('/api/datasets/levels/samples')).json()) as DatasetSamples;
    expect(samples.sampleShape).toEqual([FEATURES]);
    expect(samples.sampleValues).toBe('raw');
    expect(samples.samples).toHaveLength(24);
    expect(new Set(samples.samples.slice(0, 3).map((s) => s.label))).toEqual(new Set(CLASSES));
    // Each one is a row of the file exactly as written, with its label: not standardised values.
    const file = new Map(TABLE.map((r) => [r.values.join(','), r.label]));
    for (const s of samples.samples) {
      expect(file.get(s.values.join(',')), s.values.join(',')).toBe(s.label);
    }
    const few = (await (await request('/api/datasets/levels/samples?limit=4')).json()) as DatasetSamples;
    expect(few.samples).toHaveLength(4);
  });

  it.each([
    ['limit=0', 400],
    ['limit=65', 400],
    ['limit=x', 400],
    ['other=1', 400],
  ])('refuses ?%s with %i', async (query, status) => {
    const res = await request(`/api/datasets/levels/samples?${query}`);
    expect(res.status).toBe(status);
    expect(((await res.json()) as ErrorBody).error.code).toBe('invalid_query');
  });

  it('is a 404 for an unknown dataset, a 409 for one not built, and needs the owner', async () => {
    const unknown = await request('/api/datasets/no-such-set/samples');
    expect(unknown.status).toBe(404);
    expect(((await unknown.json()) as ErrorBody).error.code).toBe('dataset_not_found');

    const now = Date.now();
    await env.DB.prepare(
      "insert into datasets (id, name, status, options, source_hash, bytes, progress, created_at, updated_at) values ('u-00000000000000bb', 'half-built', 'building', ?, 'sha256:bb', 10, 0.5, ?, ?)",
    )
      .bind(JSON.stringify({ testFraction: 0.1, seed: 0 }), now, now)
      .run();
    const building = await request('/api/datasets/half-built/samples');
    expect(building.status).toBe(409);
    expect(((await building.json()) as ErrorBody).error).toMatchObject({
      code: 'dataset_not_ready',
      message: expect.stringContaining('building'),
    });

    expect((await request('/api/datasets/levels/samples', { token: null })).status).toBe(401);
  });

  it('a built-in whose shards are loaded in part is a 409 naming the command that builds them', async () => {
    const res = await request('/api/datasets/mnist/samples');
    expect(res.status).toBe(409);
    const { error } = (await res.json()) as ErrorBody;
    expect(error.code).toBe('dataset_incomplete');
    expect(error.message).toContain('shards/train-02.bin');
    expect(error.message).toContain('npm run data');
  });

  it("a share link reads its own run's samples and no other dataset's", async () => {
    // Run ids are UUIDs (the routes refuse anything else).
    const onLevels = crypto.randomUUID();
    const onMnist = crypto.randomUUID();
    await insertRun(onLevels, { dataset: uploaded.id });
    await insertRun(onMnist, {});
    const res = await post(`/api/runs/${onLevels}/share`, {});
    expect(res.status).toBe(201);
    const link = (await res.json()) as CreatedShareLink;
    const base = new URL(link.url).pathname;

    // Its own run's dataset, by path and as a bearer token.
    for (const [path, token] of [
      [`${base}/api/run/dataset/samples`, null],
      [`/api/runs/${onLevels}/dataset/samples`, link.token],
    ] as const) {
      const own = await request(path, { token });
      expect(own.status, `${path}: ${await own.clone().text()}`).toBe(200);
      const samples = (await own.json()) as DatasetSamples;
      expect(samples.name).toBe('levels');
      expect(samples.samples.length).toBeGreaterThan(0);
    }

    // Not another run's, nor any dataset by name.
    expect((await request(`/api/runs/${onMnist}/dataset/samples`, { token: link.token })).status).toBe(401);
    expect((await request(`${base}/api/runs/${onMnist}/dataset/samples`, { token: null })).status).toBe(404);
    for (const name of ['levels', 'mnist']) {
      expect((await request(`/api/datasets/${name}/samples`, { token: link.token })).status).toBe(401);
      expect((await request(`${base}/api/datasets/${name}/samples`, { token: null })).status).toBe(404);
    }
    await env.DB.prepare('delete from runs where id in (?, ?)').bind(onLevels, onMnist).run();
  });

  it('deleting the upload deletes its kept counts with its shards', async () => {
    expect((await request('/api/datasets/levels', { method: 'DELETE' })).status).toBe(204);
    expect(await env.BLOBS.head(classCountsKey(uploaded.id))).toBeNull();
    expect((await request('/api/datasets/levels/samples')).status).toBe(404);
  });
});
