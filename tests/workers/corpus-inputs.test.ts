/**
 * Bad-input corpus, request bodies: malformed, mistyped, huge, negative, NaN, unicode, oversized
 * (declared and chunked) and memory-hungry bodies, wrong methods and media types, PNGs that are
 * not PNGs, too large, or decompression bombs, against predictions (`/api/runs/:id/predict`, JSON
 * and PNG), the Open Inference Protocol (`/v2/…`) and the API's other body-taking routes. Every
 * one must get its 4xx (never a 2xx, never a 5xx) in the route's error shape, a good prediction
 * must be answered right after it, and nothing stored may change.
 */
import { env } from 'cloudflare:workers';
import { drizzle } from 'drizzle-orm/d1';
import { encode as encodePng } from 'fast-png';
import { beforeAll, describe, expect, it } from 'vitest';
import { runs } from '../../schema/schema';
import { MAX_PNG_FILE_BYTES } from '../../src/data/png';
import { MAX_BODY_BYTES } from '../../workers/api/app';
import { MAX_JSON_BYTES } from '../../workers/inference/limits';
import { chunk, digitOne, greyPng, hiddenBomb, iccpBomb, ihdr, png } from '../unit/png-fixtures';
import { header, publishGrown, request } from './helpers';

type Body = string | Uint8Array | ReadableStream<Uint8Array>;

interface Case {
  method?: string;
  /** `{run}` is replaced by the fixture run's id. */
  path: string;
  headers?: Record<string, string>;
  body?: Body | (() => Body | Promise<Body>);
  status: number;
  /** `api`: `{"error": {"code", "message"}}`; `oip`: `{"error": "…"}` (Open Inference Protocol). */
  shape: 'api' | 'oip';
  code?: string;
  message?: RegExp;
}

const JSON_TYPE = { 'Content-Type': 'application/json' };
const PNG_TYPE = { 'Content-Type': 'image/png' };
const MiB = 1024 * 1024;
const zeros = (n: number) => new Array(n).fill(0);
const image256 = () => zeros(256);

/** `bytes` as a stream of 1 MiB chunks: no Content-Length, as a chunked upload. */
function chunked(bytes: Uint8Array): ReadableStream<Uint8Array> {
  let at = 0;
  return new ReadableStream({
    pull(controller) {
      if (at >= bytes.length) return controller.close();
      controller.enqueue(bytes.slice(at, at + MiB));
      at += MiB;
    },
  });
}
const utf8 = (text: string) => new TextEncoder().encode(text);
/** `text` sent with its length declared up front. */
const declared = (text: string): Case['headers'] => ({ 'Content-Length': String(utf8(text).length) });

const predict = (body: unknown, status: number, message?: RegExp, code = 'invalid_input'): Case => ({
  method: 'POST',
  path: '/api/runs/{run}/predict',
  headers: JSON_TYPE,
  body: typeof body === 'string' ? body : JSON.stringify(body),
  status,
  shape: 'api',
  code,
  message,
});
const predictPng = (body: Case['body'], status: number, message?: RegExp, query = ''): Case => ({
  method: 'POST',
  path: `/api/runs/{run}/predict${query}`,
  headers: PNG_TYPE,
  body,
  status,
  shape: 'api',
  code: status === 413 ? 'payload_too_large' : 'invalid_input',
  message,
});
const tensor = (data: unknown, shape: unknown = [1, 256], extra: Record<string, unknown> = {}) => ({
  inputs: [{ name: 'image', shape, datatype: 'FP32', data }],
  ...extra,
});
const infer = (body: unknown, status: number, message?: RegExp): Case => ({
  method: 'POST',
  path: '/v2/models/{run}/infer',
  headers: JSON_TYPE,
  body: typeof body === 'string' ? body : JSON.stringify(body),
  status,
  shape: 'oip',
  message,
});
const v2 = (method: string, path: string, status: number, message?: RegExp): Case => ({
  method,
  path,
  status,
  shape: 'oip',
  message,
});
const config = (
  path: string,
  body: Case['body'],
  status: number,
  code?: string,
  headers = JSON_TYPE,
): Case => ({
  method: 'POST',
  path,
  headers,
  body,
  status,
  shape: 'api',
  code,
});

const oversizedJson = () => `{"pixels": [[${'0.123456789,'.repeat((MAX_JSON_BYTES + MiB) / 12)}0]]}`;

const CASES: [string, Case][] = [
  // Predictions, JSON.
  ['predict: malformed JSON', predict('{"pixels": [[0, 0', 400, /not valid JSON/)],
  ['predict: empty body', predict('', 400, /empty/)],
  ['predict: a JSON array', predict([], 400, /expected object/)],
  ['predict: null', predict('null', 400)],
  ['predict: pixels a string', predict({ pixels: 'zero' }, 400, /pixels/)],
  ['predict: no images', predict({ pixels: [] }, 400, /at least one image/)],
  ['predict: an empty image', predict({ pixels: [[]] }, 400, /784 values/)],
  ['predict: 2 values', predict({ pixels: [[0, 0]] }, 400, /784 values/)],
  ['predict: ragged images', predict({ pixels: [image256(), zeros(255)] }, 400, /must match/)],
  [
    'predict: a pixel as a string',
    predict({ pixels: [['0.5', ...zeros(255)]] }, 400, /finite number: "0.5"/),
  ],
  [
    'predict: NaN literal',
    predict(`{"pixels": [[NaN${',0'.repeat(255)}]]}`, 400, /not a finite number: 'N'/),
  ],
  ['predict: 1e999 (∞)', predict(`{"pixels": [[1e999${',0'.repeat(255)}]]}`, 400, /finite/)],
  ['predict: a negative pixel', predict({ pixels: [[-0.1, ...zeros(255)]] }, 400, /\[0, 1\]/)],
  ['predict: a huge pixel', predict({ pixels: [[1e308, ...zeros(255)]] }, 400, /\[0, 1\]/)],
  ['predict: a pixel null', predict({ pixels: [[null, ...zeros(255)]] }, 400, /finite number: null/)],
  ['predict: a pixel true', predict({ pixels: [[true, ...zeros(255)]] }, 400, /finite number: true/)],
  ['predict: nested too deep', predict({ pixels: [[[0]]] }, 400, /an array/)],
  ['predict: an image not an array', predict({ pixels: [5] }, 400, /must be an array/)],
  ['predict: top_k 0', predict({ pixels: [image256()], top_k: 0 }, 400, /top_k/)],
  ['predict: top_k 11', predict({ pixels: [image256()], top_k: 11 }, 400, /top_k/)],
  ['predict: top_k a string', predict({ pixels: [image256()], top_k: '3' }, 400, /top_k/)],
  ['predict: top_k 2.5', predict({ pixels: [image256()], top_k: 2.5 }, 400, /top_k/)],
  ['predict: shared_weight 11', predict({ pixels: [image256()], shared_weight: 11 }, 400, /shared_weight/)],
  [
    'predict: shared_weight "NaN"',
    predict({ pixels: [image256()], shared_weight: 'NaN' }, 400, /shared_weight/),
  ],
  [
    'predict: shared_weight -1e999',
    predict(`{"pixels": [[${zeros(256)}]], "shared_weight": -1e999}`, 400, /shared_weight/),
  ],
  [
    'predict: shared_weight an object',
    predict({ pixels: [image256()], shared_weight: {} }, 400, /shared_weight/),
  ],
  [
    'predict: "\\u0000ensemble"',
    predict({ pixels: [image256()], shared_weight: '\u0000ensemble' }, 400, /shared_weight/),
  ],
  ['predict: an unknown field', predict({ pixels: [image256()], k: 1 }, 400, /k/)],
  ['predict: a unicode field name', predict({ pïxels: [image256()] }, 400, /pixels/)],
  [
    'predict: invalid UTF-8 in a string',
    { ...predict('', 400, /UTF-8/), body: new Uint8Array([0x7b, 0x22, 0xc3, 0x28, 0x22, 0x3a, 0x31, 0x7d]) },
  ],
  [
    'predict: 1,001 images',
    predict({ pixels: Array.from({ length: 1001 }, image256) }, 400, /1 to 1000 images/),
  ],
  [
    'predict: 19 MiB of one-value images',
    predict(`{"pixels": [${'[0],'.repeat((19 * MiB) / 4)}[0]]}`, 400, /1 to 1000 images, got more/),
  ],
  [
    'predict: one 19 MiB image',
    predict(`{"pixels": [[${'0,'.repeat((19 * MiB) / 2)}0]]}`, 400, /more than 784/),
  ],
  [
    'predict: 5,000 values besides the pixels',
    predict(`{"pixels": [[${zeros(256)}]], "x": [${zeros(5000)}]}`, 400, /besides pixels/),
  ],
  ['predict: nested 40 deep', predict(`{"x": ${'['.repeat(40)}${']'.repeat(40)}}`, 400, /nested deeper/)],
  [
    'predict: a 600-digit number',
    predict(`{"pixels": [[0.${'1'.repeat(600)}]]}`, 400, /numbers in the body/),
  ],
  [
    'predict: over 20 MiB, length declared',
    { ...predict('', 413, /limited/, 'payload_too_large'), body: oversizedJson, headers: JSON_TYPE },
  ],
  [
    'predict: over 20 MiB, chunked',
    { ...predict('', 413, /limited/, 'payload_too_large'), body: () => chunked(utf8(oversizedJson())) },
  ],
  [
    'predict: text/plain',
    {
      ...predict({ pixels: [image256()] }, 415, /image\/png/, 'unsupported_media_type'),
      headers: { 'Content-Type': 'text/plain' },
    },
  ],
  [
    'predict: multipart/form-data',
    {
      ...predict('--x\r\n\r\n--x--', 415, undefined, 'unsupported_media_type'),
      headers: { 'Content-Type': 'multipart/form-data; boundary=x' },
    },
  ],
  [
    'predict: GET',
    { method: 'GET', path: '/api/runs/{run}/predict', status: 404, shape: 'api', code: 'not_found' },
  ],
  ['predict: PUT', { ...predict({ pixels: [image256()] }, 404, undefined, 'not_found'), method: 'PUT' }],
  [
    'predict: an unknown run',
    {
      ...predict({ pixels: [image256()] }, 404),
      path: `/api/runs/${crypto.randomUUID()}/predict`,
      code: undefined,
    },
  ],
  [
    'predict: traversal in the id',
    { ...predict({ pixels: [image256()] }, 404), path: '/api/runs/..%2F..%2Fv2/predict', code: undefined },
  ],

  // Predictions, PNG.
  ['png: not a PNG', predictPng('hello, not a png', 400, /not a PNG/)],
  ['png: an empty body', predictPng('', 400, /not a PNG/)],
  [
    'png: a JPEG',
    predictPng(new Uint8Array([0xff, 0xd8, 0xff, 0xe0, 0, 16, 0x4a, 0x46, 0x49, 0x46]), 400, /not a PNG/),
  ],
  [
    'png: giant dimensions',
    predictPng(() => png(chunk('IHDR', ihdr(100_000, 100_000)), chunk('IEND')), 413, /at most/),
  ],
  [
    'png: 1024×1024 RGBA at 16 bits',
    predictPng(() => png(chunk('IHDR', ihdr(1024, 1024, 16, 6)), chunk('IEND')), 413),
  ],
  [
    'png: the hidden bomb (28×28 declared, 64 MB inside)',
    predictPng(() => hiddenBomb(64 * MiB), 400, /decompression bomb/),
  ],
  [
    'png: truncated',
    predictPng(async () => (await greyPng(digitOne())).subarray(0, 60), 400, /IEND|runs past/),
  ],
  [
    'png: no image data',
    predictPng(() => png(chunk('IHDR', ihdr(28, 28)), chunk('IEND')), 400, /no image data/),
  ],
  ['png: bad top_k', predictPng(() => greyPng(digitOne()), 400, /top_k/, '?top_k=-1')],
  [
    'png: shared_weight not a number',
    predictPng(() => greyPng(digitOne()), 400, /shared_weight/, '?shared_weight=abc'),
  ],
  [
    'png: over the limit, length declared',
    predictPng(() => new Uint8Array(MAX_PNG_FILE_BYTES + 1), 413, /limited/),
  ],
  [
    'png: over the limit, chunked',
    predictPng(() => chunked(new Uint8Array(MAX_PNG_FILE_BYTES + 1)), 413, /limited/),
  ],

  // Open Inference Protocol: infer.
  ['infer: malformed JSON', infer('{"inputs": [', 400, /not valid JSON/)],
  ['infer: inputs not an array', infer({ inputs: {} }, 400, /inputs/)],
  ['infer: data a string', infer(tensor('0,0,0'), 400, /data/)],
  ['infer: a negative N', infer(tensor(image256(), [-1, 256]), 400, /shape/)],
  ['infer: N of a billion', infer(tensor(image256(), [1e9, 256]), 400, /N must be/)],
  ['infer: shape of strings', infer(tensor(image256(), ['NaN', 256]), 400, /shape/)],
  [
    'infer: datatype INT8',
    infer(
      { inputs: [{ name: 'image', shape: [1, 256], datatype: 'INT8', data: image256() }] },
      400,
      /datatype/,
    ),
  ],
  ['infer: 784,001 values', infer(tensor(zeros(784_001), [1000, 784]), 400, /more than 784000 values/)],
  [
    'infer: 19 MiB of zeros',
    infer(
      `{"inputs":[{"name":"image","shape":[1,256],"datatype":"FP32","data":[${'0,'.repeat((19 * MiB) / 2)}0]}]}`,
      400,
      /more than/,
    ),
  ],
  ['infer: strings in data', infer(tensor(['x', ...zeros(255)]), 400, /finite/)],
  ['infer: an id of 300 characters', infer(tensor(image256(), [1, 256], { id: 'x'.repeat(300) }), 400, /id/)],
  ['infer: a numeric id', infer(tensor(image256(), [1, 256], { id: 5 }), 400, /id/)],
  [
    'infer: shared_weight "ensemble "',
    infer(tensor(image256(), [1, 256], { parameters: { shared_weight: 'ensemble ' } }), 400, /shared_weight/),
  ],
  [
    'infer: an unknown output',
    infer(tensor(image256(), [1, 256], { outputs: [{ name: 'logits' }] }), 400, /unknown output/),
  ],
  [
    'infer: over 20 MiB, chunked',
    {
      ...infer('', 413, /limited/),
      body: () =>
        chunked(utf8(`{"inputs":[{"data":[${'0.123456789,'.repeat((MAX_JSON_BYTES + MiB) / 12)}0]}]}`)),
    },
  ],
  [
    'infer: an unknown model',
    { ...infer(tensor(image256()), 404, /no such run/), path: `/v2/models/${crypto.randomUUID()}/infer` },
  ],
  [
    'infer: version x',
    { ...infer(tensor(image256()), 404, /unknown version/), path: '/v2/models/{run}/versions/x/infer' },
  ],
  [
    'infer: version 0',
    { ...infer(tensor(image256()), 404, /unknown version/), path: '/v2/models/{run}/versions/0/infer' },
  ],

  // Open Inference Protocol: metadata, readiness, health, unknown routes.
  ['v2: metadata of a non-uuid model', v2('GET', '/v2/models/mnist', 404, /unknown model/)],
  [
    'v2: readiness of an unknown model',
    v2('GET', `/v2/models/${crypto.randomUUID()}/ready`, 404, /no such run/),
  ],
  ['v2: metadata of version abc', v2('GET', '/v2/models/{run}/versions/abc', 404, /unknown version/)],
  ['v2: an unknown route', v2('GET', '/v2/nothing/here', 404, /no route/)],
  ['v2: an unknown model sub-route', v2('GET', '/v2/models/{run}/versions/1/explain', 404, /no route/)],
  ['v2: GET infer', v2('GET', '/v2/models/{run}/infer', 405, /use POST/)],
  ['v2: POST health', v2('POST', '/v2/health/live', 405, /use GET/)],
  ['v2: DELETE a model', v2('DELETE', '/v2/models/{run}', 405, /use GET/)],
  ['v2: PUT server metadata', v2('PUT', '/v2', 405, /use GET/)],

  // The API's other body-taking routes.
  ['start: malformed JSON', config('/api/runs', '{"population": ', 400, 'invalid_json')],
  ['start: a JSON string', config('/api/runs', '"population"', 400, 'invalid_json')],
  [
    'start: population a string',
    config('/api/runs', JSON.stringify({ population: 'big' }), 400, 'invalid_config'),
  ],
  [
    'start: population negative',
    config('/api/runs', JSON.stringify({ population: -5 }), 400, 'invalid_config'),
  ],
  [
    'start: population 10^12',
    config('/api/runs', JSON.stringify({ population: 1e12 }), 400, 'invalid_config'),
  ],
  ['start: generations 1e999', config('/api/runs', '{"generations": 1e999}', 400)],
  ['start: seed NaN', config('/api/runs', JSON.stringify({ seed: 'NaN' }), 400, 'invalid_config')],
  ['start: a unicode field', config('/api/runs', JSON.stringify({ pöpulation: 64 }), 400, 'invalid_config')],
  [
    'start: over 64 KiB, length declared',
    config('/api/runs', JSON.stringify({ x: 'x'.repeat(MAX_BODY_BYTES) }), 413, 'payload_too_large'),
  ],
  [
    'start: over 64 KiB, chunked',
    config(
      '/api/runs',
      () => chunked(utf8(JSON.stringify({ x: 'x'.repeat(MAX_BODY_BYTES) }))),
      413,
      'payload_too_large',
    ),
  ],
  [
    'start: text/plain',
    config('/api/runs', JSON.stringify({ population: 64 }), 415, 'unsupported_media_type', {
      'Content-Type': 'text/plain',
    }),
  ],
  ['start: PUT', { ...config('/api/runs', '{}', 404, 'not_found'), method: 'PUT' }],
  ['fork: malformed JSON', config('/api/runs/{run}/fork', '{', 400, 'invalid_json')],
  [
    'fork: generations a string',
    config('/api/runs/{run}/fork', JSON.stringify({ generations: 'more' }), 400, 'invalid_config'),
  ],
  [
    'share: scope admin',
    config('/api/runs/{run}/share', JSON.stringify({ scope: 'admin' }), 400, 'invalid_share'),
  ],
  [
    'share: expiresIn -1d',
    config('/api/runs/{run}/share', JSON.stringify({ expiresIn: '-1d' }), 400, 'invalid_share'),
  ],
  ['share: expiresIn 1e999', config('/api/runs/{run}/share', '{"expiresIn": 1e999}', 400, 'invalid_share')],
  [
    'share: over 64 KiB',
    config(
      '/api/runs/{run}/share',
      JSON.stringify({ scope: 'v'.repeat(MAX_BODY_BYTES) }),
      413,
      'payload_too_large',
    ),
  ],
];

let runId = '';
const good = { pixels: [Array.from(digitOne(), (b) => b / 255)], top_k: 3 };

async function send(c: Case): Promise<Response> {
  const body = typeof c.body === 'function' ? await c.body() : c.body;
  const headers: Record<string, string> = { ...c.headers };
  if (c.status === 413 && typeof body === 'string') Object.assign(headers, declared(body));
  if (c.status === 413 && body instanceof Uint8Array) headers['Content-Length'] = String(body.length);
  return request(c.path.replaceAll('{run}', runId), { method: c.method ?? 'GET', headers, body });
}

async function goodPrediction(): Promise<number> {
  const res = await request(`/api/runs/${runId}/predict`, {
    method: 'POST',
    headers: JSON_TYPE,
    body: JSON.stringify(good),
  });
  await res.arrayBuffer();
  return res.status;
}

async function stored() {
  const models = await (await request(`/api/runs/${runId}/models`)).json();
  const onnx = await (await request(`/api/runs/${runId}/models/1/model.onnx`)).arrayBuffer();
  const digest = await crypto.subtle.digest('SHA-256', onnx);
  const runRows = await drizzle(env.DB).select({ id: runs.id }).from(runs);
  return { models, onnx: [...new Uint8Array(digest)], runs: runRows.map((r) => r.id).sort() };
}

describe('bad-input corpus: request bodies', () => {
  let before: Awaited<ReturnType<typeof stored>>;
  beforeAll(async () => {
    ({ runId } = await publishGrown());
    expect(await goodPrediction()).toBe(200);
    before = await stored();
  });

  it('has at least 50 cases', () => {
    expect(CASES.length).toBeGreaterThanOrEqual(50);
  });

  it.each(CASES)('%s', async (_name, c) => {
    const res = await send(c);
    expect(res.status, await res.clone().text()).toBe(c.status);
    expect(header(res, 'Content-Type')).toMatch(/^application\/json/);
    const body = (await res.json()) as { error: unknown };
    if (c.shape === 'oip') {
      expect(Object.keys(body)).toEqual(['error']);
      expect(typeof body.error).toBe('string');
      if (c.message) expect(body.error).toMatch(c.message);
    } else {
      const error = body.error as { code: unknown; message: unknown };
      expect(typeof error.code).toBe('string');
      expect(typeof error.message).toBe('string');
      if (c.code) expect(error.code).toBe(c.code);
      if (c.message) expect(error.message).toMatch(c.message);
    }
    expect(await goodPrediction()).toBe(200);
  });

  it('a valid PNG carrying a 64 MB iCCP bomb is answered from its image alone', async () => {
    const res = await request(`/api/runs/${runId}/predict`, {
      method: 'POST',
      headers: PNG_TYPE,
      body: await greyPng(digitOne(), await iccpBomb(64 * MiB)),
    });
    expect(res.status).toBe(200);
    const plain = await request(`/api/runs/${runId}/predict`, {
      method: 'POST',
      headers: PNG_TYPE,
      body: encodePng({ width: 28, height: 28, data: digitOne(), channels: 1, depth: 8 }),
    });
    expect(await res.json()).toEqual(await plain.json());
  });

  it('a small body (read by the API Worker, forwarded over RPC) and the same body chunked (streamed over fetch) get the same answer', async () => {
    const bodies = [
      ['/v2/models/{run}/infer', JSON.stringify(tensor([image256(), zeros(256).fill(0.5)], [2, 256]))],
      ['/api/runs/{run}/predict', JSON.stringify({ pixels: [zeros(784).fill(0.25)], top_k: 3 })],
      // A bad one too: the error comes back through either path unchanged.
      ['/v2/models/{run}/infer', JSON.stringify(tensor([zeros(255)], [1, 255]))],
    ] as const;
    for (const [path, text] of bodies) {
      const url = path.replace('{run}', runId);
      const small = await request(url, {
        method: 'POST',
        headers: { ...JSON_TYPE, ...declared(text) },
        body: text,
      });
      const streamed = await request(url, { method: 'POST', headers: JSON_TYPE, body: chunked(utf8(text)) });
      expect(small.status).toBe(streamed.status);
      expect(header(small, 'Content-Type')).toBe(header(streamed, 'Content-Type'));
      expect(await small.json()).toEqual(await streamed.json());
    }
  });

  it('nothing stored changed: the run list, the model list and the model file', async () => {
    expect(await stored()).toEqual(before);
  });
});
