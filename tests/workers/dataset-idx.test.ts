/**
 * idx uploads inside workerd, end to end: a generated image set (12 rows × 10 columns, so a
 * swapped width and height shows) announced, its files streamed (one gzipped), built into WSH1
 * shards at 8×6, searched, published, and served: `/v2` takes raw 10×12 rows and the predict route
 * a PNG of that size, and both answer what the champion answers here on the same preprocessing.
 * Then a corpus of bad sets: each a 400 naming its problem, and nothing of it left in R2 or D1.
 */
import { env } from 'cloudflare:workers';
import { encode } from 'fast-png';
import { describe, expect, it } from 'vitest';
import type { ModelList, RunResource, UploadedDataset } from '../../src/api/types';
import { preprocessGrayImage } from '../../src/data/image';
import { decodeShard } from '../../src/data/shard';
import { ensemblePredict } from '../../src/wann/accuracy';
import { parseGenome } from '../../src/wann/genome';
import { compile, forwardProbabilities, predictLabels } from '../../src/wann/network';
import type { Batch } from '../../src/wann/types';
import { testShardKey, trainShardKey } from '../../workers/contracts/blob-keys';
import { MAX_UPLOAD_BYTES } from '../../workers/datasets/upload';
import { type ErrorBody, post, request, waitFor } from './helpers';
import { waitBuilt } from './tables';

const ROWS = 12;
const COLS = 10;
const PREP = { width: 8, height: 6, deskew: false };
const NAMES = ['bar', 'post', 'slash'];

/** An idx file: magic 00 00 08 <dims>, big-endian sizes, then the body. */
function idx(dims: number[], body: Uint8Array, type = 0x08): Uint8Array {
  const out = new Uint8Array(4 + 4 * dims.length + body.length);
  out.set([0, 0, type, dims.length]);
  const view = new DataView(out.buffer);
  for (const [i, d] of dims.entries()) view.setUint32(4 + 4 * i, d, false);
  out.set(body, 4 + 4 * dims.length);
  return out;
}

/** `count` images of three seeded patterns (a bar, a post, a slash) over faint noise. */
function patterns(count: number, salt = 0): { images: Uint8Array; labels: Uint8Array } {
  const images = new Uint8Array(count * ROWS * COLS);
  const labels = new Uint8Array(count);
  for (let i = 0; i < count; i++) {
    const c = (i + salt) % 3;
    labels[i] = c;
    const at = (i * 7 + salt) % 6;
    for (let r = 0; r < ROWS; r++) {
      for (let x = 0; x < COLS; x++) {
        const on = c === 0 ? r === 3 + at : c === 1 ? x === 2 + at : Math.abs(r - x - at + 2) < 1;
        images[i * ROWS * COLS + r * COLS + x] = on ? 180 + ((i * 13) % 70) : (r * 31 + x * 17 + i) % 29;
      }
    }
  }
  return { images, labels };
}

async function gzip(bytes: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([bytes]).stream().pipeThrough(new CompressionStream('gzip'));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

function announce(body: Record<string, unknown>) {
  return post('/api/datasets', body);
}

function putFile(id: string, role: string, bytes: Uint8Array, length = bytes.byteLength) {
  return request(`/api/datasets/${id}/files/${role}`, {
    method: 'PUT',
    headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': String(length) },
    body: bytes,
  });
}

/** Announces, sends every file, asks for the build: the last answer that was not a success. */
async function uploadSet(
  name: string,
  files: Record<string, Uint8Array>,
  options: Record<string, unknown> = {},
): Promise<{ id: string; res: Response }> {
  const created = await announce({ name, format: 'idx', files: Object.keys(files), options });
  expect(created.status, await created.clone().text()).toBe(201);
  const { id } = (await created.json()) as UploadedDataset;
  for (const [role, bytes] of Object.entries(files)) {
    const res = await putFile(id, role, bytes);
    if (res.status !== 200) return { id, res };
  }
  return { id, res: await post(`/api/datasets/${id}/build`) };
}

async function keysUnder(prefix: string): Promise<string[]> {
  return (await env.BLOBS.list({ prefix })).objects.map((o) => o.key);
}

/** Raw byte images → the input-major Batch, preprocessed as the shards and the server do it. */
function preprocessedBatch(images: Uint8Array, count: number): Batch {
  const features = PREP.width * PREP.height;
  const inputs = new Float32Array(features * count);
  const one = new Float32Array(features);
  for (let i = 0; i < count; i++) {
    preprocessGrayImage(images.subarray(i * ROWS * COLS, (i + 1) * ROWS * COLS), COLS, ROWS, PREP, one);
    for (let f = 0; f < features; f++) inputs[f * count + i] = one[f];
  }
  return { count, features, inputs, labels: new Uint8Array(count) };
}

describe('uploading an idx image set', () => {
  it('streams the files, builds WSH1 shards at W×H, searches, publishes and serves raw images', async () => {
    const { images, labels } = patterns(300);
    const { id, res } = await uploadSet(
      'patterns',
      { images: await gzip(idx([300, ROWS, COLS], images)), labels: idx([300], labels) },
      { imageSize: '8x6', classes: NAMES, seed: 3 },
    );
    expect(res.status, await res.clone().text()).toBe(202);
    expect(((await res.json()) as UploadedDataset).status).toBe('uploaded');
    expect((await keysUnder(`uploads/${id}/`)).sort()).toEqual([
      `uploads/${id}/images.idx`,
      `uploads/${id}/labels.idx`,
    ]);

    const built = await waitBuilt('patterns');
    expect(built.status, built.error ?? '').toBe('ready');
    expect(built.dataset).toMatchObject({
      kind: 'image',
      rawShape: [ROWS, COLS],
      features: 48,
      classes: NAMES,
      splits: { train: 270, test: 30 },
      shards: { train: 1, test: 1 },
      preprocessing: { kind: 'image', ...PREP },
      inputShape: [-1, ROWS * COLS],
      preprocessedInputShape: [-1, 48],
    });
    const shard = decodeShard(await (await env.BLOBS.get(trainShardKey(0, id)))!.arrayBuffer());
    expect([shard.count, shard.width, shard.height]).toEqual([270, 8, 6]);
    expect(decodeShard(await (await env.BLOBS.get(testShardKey(0, id)))!.arrayBuffer()).count).toBe(30);

    // The same files with the same options again: recognised, nothing new kept.
    const again = await uploadSet(
      'patterns-again',
      { images: await gzip(idx([300, ROWS, COLS], images)), labels: idx([300], labels) },
      { imageSize: '8x6', classes: NAMES, seed: 3 },
    );
    expect(again.res.status).toBe(409);
    expect(((await again.res.json()) as ErrorBody).error.message).toContain("'patterns'");
    expect(await keysUnder(`uploads/${again.id}/`)).toEqual([]);
    expect((await request('/api/datasets/patterns-again')).status).toBe(404);

    const started = await post('/api/runs', {
      dataset: 'patterns',
      population: 32,
      generations: 4,
      sliceSize: 16,
      tournamentSize: 8,
      recheckEvery: 2,
      seed: 5,
      initEnableProb: 0.5,
      probConnectionObjective: 0,
    });
    expect(started.status, await started.clone().text()).toBe(202);
    const run = (await started.json()) as RunResource;
    expect(run.config).toMatchObject({ dataset: id });
    const done = await waitFor(run.id, undefined, 90_000);
    expect(done.status, JSON.stringify(done)).toBe('completed');

    const published = await post(`/api/runs/${run.id}/publish`);
    expect([200, 201]).toContain(published.status);
    const model = ((await (await request(`/api/runs/${run.id}/models`)).json()) as ModelList).models[0];
    const genome = parseGenome(
      await (await request(`/api/runs/${run.id}/models/${model.version}/genome.json`)).json(),
    );
    expect([genome.inputs, genome.outputs]).toEqual([48, 3]);

    const meta = (await (await request(`/v2/models/${run.id}`)).json()) as {
      parameters: Record<string, unknown>;
    };
    expect(meta.parameters).toMatchObject({
      dataset: 'patterns',
      raw_input_shape: [-1, ROWS * COLS],
      preprocessed_input_shape: [-1, 48],
      classes: NAMES,
    });

    // Raw rows in [0, 1] (bytes / 255), as a client sends them.
    const count = 40;
    const rows = Array.from({ length: count }, (_, i) =>
      Array.from(images.subarray(i * ROWS * COLS, (i + 1) * ROWS * COLS), (v) => v / 255),
    );
    const batch = preprocessedBatch(images, count);
    const plan = compile(genome);
    const infer = async (parameters: Record<string, unknown>) => {
      const answer = await post(`/v2/models/${run.id}/infer`, {
        inputs: [{ name: 'image', shape: [count, ROWS * COLS], datatype: 'FP32', data: rows }],
        parameters,
      });
      expect(answer.status, await answer.clone().text()).toBe(200);
      return (await answer.json()) as { outputs: { name: string; data: number[] }[] };
    };
    const output = (a: { outputs: { name: string; data: number[] }[] }, name: string) =>
      a.outputs.find((o) => o.name === name)!.data;
    const single = await infer({ shared_weight: 1 });
    expect(output(single, 'label')).toEqual(Array.from(predictLabels(plan, batch, 1)));
    const reference = forwardProbabilities(plan, batch, 1);
    for (const [i, p] of output(single, 'probabilities').entries()) expect(p).toBeCloseTo(reference[i], 5);
    const ensemble = Array.from(ensemblePredict(plan, batch, model.weights));
    expect(output(await infer({}), 'label')).toEqual(ensemble);

    // A width that is neither the raw nor the preprocessed size is refused with both named.
    const wrong = await post(`/v2/models/${run.id}/infer`, {
      inputs: [{ name: 'image', shape: [1, 784], datatype: 'FP32', data: Array(784).fill(0) }],
    });
    expect(wrong.status).toBe(400);
    expect(((await wrong.json()) as { error: string }).error).toContain('[N, 120] (raw 10×12)');

    // A PNG of the raw size (grey, dark background: taken as it is) → the same answer.
    const png = encode({
      width: COLS,
      height: ROWS,
      data: images.slice(0, ROWS * COLS),
      channels: 1,
      depth: 8,
    });
    const predicted = await request(`/api/runs/${run.id}/predict?top_k=1&shared_weight=1`, {
      method: 'POST',
      headers: { 'Content-Type': 'image/png', 'Content-Length': String(png.byteLength) },
      body: png,
    });
    expect(predicted.status, await predicted.clone().text()).toBe(200);
    const top = ((await predicted.json()) as { predictions: { label: number; className: string }[][] })
      .predictions[0][0];
    const first = output(single, 'label')[0];
    expect(top).toMatchObject({ label: first, className: NAMES[first] });
  });

  it('a separate test pair is the test split, recorded in the manifest', async () => {
    const train = patterns(90, 1);
    const test = patterns(30, 2);
    const { res } = await uploadSet('patterns-split', {
      images: idx([90, ROWS, COLS], train.images),
      labels: await gzip(idx([90], train.labels)),
      'test-images': idx([30, ROWS, COLS], test.images),
      'test-labels': idx([30], test.labels),
    });
    expect(res.status, await res.clone().text()).toBe(202);
    const built = await waitBuilt('patterns-split');
    expect(built.status, built.error ?? '').toBe('ready');
    expect(built.dataset).toMatchObject({
      rawShape: [ROWS, COLS],
      features: 256,
      classes: ['0', '1', '2'],
      splits: { train: 90, test: 30 },
      preprocessing: { kind: 'image', width: 16, height: 16, deskew: false },
    });
  });

  const good = patterns(30, 4);
  const images = idx([30, ROWS, COLS], good.images);
  const labels = idx([30], good.labels);
  const cases: [string, Record<string, Uint8Array>, RegExp, Record<string, unknown>?][] = [
    [
      'bad magic',
      { images: new Uint8Array([0x12, 0x34, 8, 3, ...images.subarray(4)]), labels },
      /not an IDX file/,
    ],
    [
      'wrong dtype',
      { images: idx([30, ROWS, COLS], good.images, 0x0d), labels },
      /element type 0x0d \(float32\)/,
    ],
    ['labels sent as images', { images: labels, labels }, /images: expected 3 dimensions.*label file/],
    [
      'image/label count mismatch',
      { images, labels: idx([29], good.labels.subarray(0, 29)) },
      /image\/label count mismatch: 30 images but 29 labels/,
    ],
    ['empty file', { images: new Uint8Array(0), labels }, /images: empty file/],
    ['truncated body', { images: images.subarray(0, images.length - 5), labels }, /images: truncated body/],
    ['one class only', { images, labels: idx([30], new Uint8Array(30)) }, /one class only/],
    [
      'a label beyond the class names',
      { images, labels },
      /label value 2 has no class name: the classes option names 2 classes/,
      { classes: ['a', 'b'] },
    ],
    [
      'an image size beyond the limit',
      { images: idx([1, 600, 600], new Uint8Array(0)), labels },
      /image size 600×600 is too large; at most 262,144 pixels/,
    ],
    [
      'corrupt gzip',
      { images: new Uint8Array([0x1f, 0x8b, 8, 0, 1, 2, 3, 4, 5, 6, 7]), labels },
      /gzip data is corrupt/,
    ],
    ['a missing file', { images }, /missing file: labels/],
    [
      'test images of another size',
      {
        images,
        labels,
        'test-images': idx([30, COLS, ROWS], good.images),
        'test-labels': labels,
      },
      /test-images: images of 10×12, but the training images are 12×10/,
    ],
    [
      'a test label that is no training class',
      {
        images,
        labels: idx(
          [30],
          good.labels.map((v) => (v === 2 ? 1 : v)),
        ),
        'test-images': images,
        'test-labels': labels,
      },
      /test-labels: label value 2 is not a class of the training labels/,
    ],
  ];
  it.each(cases)(
    '%s is a 400 naming it, and nothing of the upload is kept',
    async (_, files, message, options) => {
      const name = `bad-${Math.random().toString(16).slice(2, 10)}`;
      const before = await keysUnder('uploads/');
      const created = await announce({
        name,
        format: 'idx',
        files: files['test-images']
          ? ['images', 'labels', 'test-images', 'test-labels']
          : ['images', 'labels'],
        ...(options ? { options } : {}),
      });
      expect(created.status).toBe(201);
      const { id } = (await created.json()) as UploadedDataset;
      let res: Response | null = null;
      for (const [role, bytes] of Object.entries(files)) {
        res = await putFile(id, role, bytes);
        if (res.status !== 200) break;
      }
      if (res?.status === 200) res = await post(`/api/datasets/${id}/build`);
      expect(res?.status).toBe(400);
      const { error } = (await res!.json()) as ErrorBody;
      expect(error.code).toBe('invalid_idx');
      expect(error.message).toMatch(message);
      expect(await keysUnder(`uploads/${id}/`)).toEqual([]);
      expect(await keysUnder('uploads/')).toEqual(before);
      expect((await request(`/api/datasets/${name}`)).status).toBe(404);
      expect(await env.DB.prepare('select id from datasets where id = ?').bind(id).first()).toBeNull();
    },
  );

  it('refuses bad announcements and files over the byte limit', async () => {
    const refused = async (body: Record<string, unknown>, pattern: RegExp) => {
      const res = await announce(body);
      expect(res.status).toBe(400);
      expect(((await res.json()) as ErrorBody).error.message).toMatch(pattern);
    };
    await refused({ name: 'big-input', format: 'idx', options: { imageSize: '100x100' } }, /4096 inputs/);
    await refused({ name: 'half-test', format: 'idx', files: ['images', 'labels', 'test-images'] }, /both/);
    await refused({ name: 'no-labels', format: 'idx', files: ['images'] }, /missing labels/);
    await refused(
      { name: 'two-tests', format: 'csv', files: ['table', 'test-table'], options: { testFraction: 0.2 } },
      /testFraction/,
    );
    await refused({ name: 'csv-size', format: 'csv', options: { imageSize: 16 } }, /imageSize/);

    const created = await announce({ name: 'too-big', format: 'idx' });
    const { id } = (await created.json()) as UploadedDataset;
    const over = await request(`/api/datasets/${id}/files/images`, {
      method: 'PUT',
      headers: { 'Content-Length': String(MAX_UPLOAD_BYTES + 1) },
      body: new ReadableStream({
        start(controller) {
          controller.enqueue(new Uint8Array([0, 0, 8, 3]));
          controller.close();
        },
      }),
    });
    expect(over.status).toBe(413);
    expect(((await over.json()) as ErrorBody).error.message).toContain('256 MiB');
    expect((await request(`/api/datasets/${id}/files/table`, { method: 'PUT', body: 'x' })).status).toBe(404);
    expect((await request(`/api/datasets/${id}`, { method: 'DELETE' })).status).toBe(204);
  });
});
