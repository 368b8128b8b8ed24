import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { IncomingHttpHeaders } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { listenStubApi, runWann, type StubApi, type WannOutcome } from './wann-process';

const TOKEN = 'cli-datasets-test-token-0123456789abcdef';
const ID = 'u-0123456789abcdef';

interface Seen {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: Uint8Array;
}

const seen: Seen[] = [];
let origin = '';
let server: StubApi;

const manifest = {
  name: 'shapes',
  kind: 'image',
  rawShape: [10, 20],
  features: 200,
  classes: ['0', '1'],
  splits: { train: 9, test: 1 },
  shards: { train: 1, test: 1, rowsPerShard: 1000 },
  preprocessing: { kind: 'image', width: 20, height: 10, deskew: true },
  sourceHash: 'sha256:x',
  inputShape: [-1, 200],
  preprocessedInputShape: [-1, 200],
};

function upload(status: string) {
  return {
    id: ID,
    name: 'shapes',
    status,
    progress: status === 'ready' ? 1 : 0,
    error: null,
    bytes: 0,
    sourceHash: 'pending',
    createdAt: '2026-01-01T00:00:00.000Z',
    updatedAt: '2026-01-01T00:00:00.000Z',
    dataset: status === 'ready' ? manifest : null,
  };
}

beforeAll(async () => {
  server = await listenStubApi((req, body, res) => {
    const s = { method: req.method ?? '', path: req.url ?? '', headers: req.headers, body };
    seen.push(s);
    const answer = (code: number, body: unknown) => {
      res.writeHead(code, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (s.method === 'POST' && s.path === '/api/datasets') answer(201, upload('pending'));
    else if (s.method === 'PUT') answer(200, upload('pending'));
    else if (s.method === 'POST' && s.path.endsWith('/build')) answer(202, upload('uploaded'));
    else if (s.method === 'GET') answer(200, upload('ready'));
    else answer(404, { error: { code: 'not_found', message: 'no' } });
  });
  origin = server.origin;
});
afterAll(() => server.close());
beforeEach(() => {
  seen.length = 0;
});

function wann(args: string[]): Promise<WannOutcome> {
  return runWann(args, origin, TOKEN);
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function idx(dims: number[], body: Uint8Array): Uint8Array {
  const head = new Uint8Array(4 + 4 * dims.length);
  head.set([0, 0, 8, dims.length]);
  const view = new DataView(head.buffer);
  for (const [i, d] of dims.entries()) view.setUint32(4 + 4 * i, d, false);
  return concat([head, body]);
}

const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

describe('wann datasets upload with idx files', () => {
  const dir = mkdtempSync(join(tmpdir(), 'wann-cli-idx-'));
  afterAll(() => rmSync(dir, { recursive: true }));
  // Names that say nothing: the magic decides (the images through gzip).
  const images = join(dir, 'a.bin');
  const labels = join(dir, 'b.bin');
  const testImages = join(dir, 't10k-images-idx3-ubyte.gz');
  const testLabels = join(dir, 't10k-labels-idx1-ubyte');
  const imageBytes = new Uint8Array(gzipSync(idx([10, 10, 20], new Uint8Array(2000).fill(7))));
  const labelBytes = idx(
    [10],
    Uint8Array.from({ length: 10 }, (_, i) => i % 2),
  );
  writeFileSync(images, imageBytes);
  writeFileSync(labels, labelBytes);
  writeFileSync(testImages, new Uint8Array(gzipSync(idx([2, 10, 20], new Uint8Array(400)))));
  writeFileSync(testLabels, idx([2], new Uint8Array([0, 1])));

  it('announces the set, streams each file with its length, builds and prints the manifest', async () => {
    // Labels first on the command line: the roles come from the files, not their order.
    const r = await wann([
      'datasets',
      'upload',
      'shapes',
      labels,
      images,
      '--image-size',
      '20x10',
      '--deskew',
    ]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(seen.map((s) => `${s.method} ${s.path}`)).toEqual([
      'POST /api/datasets',
      `PUT /api/datasets/${ID}/files/images`,
      `PUT /api/datasets/${ID}/files/labels`,
      `POST /api/datasets/${ID}/build`,
      `GET /api/datasets/${ID}`,
    ]);
    expect(JSON.parse(text(seen[0].body))).toEqual({
      name: 'shapes',
      format: 'idx',
      files: ['images', 'labels'],
      options: { imageSize: '20x10', deskew: true },
    });
    expect(seen[1].headers['content-length']).toBe(String(imageBytes.length));
    expect(seen[1].body).toEqual(imageBytes);
    expect(seen[2].body).toEqual(labelBytes);
    for (const s of seen) expect(s.headers.authorization).toBe(`Bearer ${TOKEN}`);
    expect(r.stdout).toContain('resize 20×10, deskew');
    expect(r.stdout).toContain('10×20');
  });

  it("--test sends a separate test pair (MNIST's file names, one gzipped)", async () => {
    const r = await wann(['datasets', 'upload', 'shapes', images, labels, '--test', testImages, testLabels]);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(text(seen[0].body)).files).toEqual(['images', 'labels', 'test-images', 'test-labels']);
    expect(seen.filter((s) => s.method === 'PUT').map((s) => s.path.split('/').pop())).toEqual([
      'images',
      'labels',
      'test-images',
      'test-labels',
    ]);
  });

  it.each([
    ['two images', () => [images, images], /one images file and one labels file/],
    ['a CSV beside idx', () => [join(dir, 'x.csv'), labels], /a CSV upload is one table/],
    ['--label on idx', () => [images, labels, '--label', 'y'], /--label: for CSV uploads only/],
    [
      '--test with --test-fraction',
      () => [images, labels, '--test', testImages, testLabels, '--test-fraction', '0.2'],
      /--test-fraction applies only/,
    ],
  ] as const)('%s is refused before any request', async (_, args, message) => {
    writeFileSync(join(dir, 'x.csv'), 'a,b\n1,x\n');
    const r = await wann(['datasets', 'upload', 'shapes', ...args()]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(seen).toEqual([]);
  });
});
