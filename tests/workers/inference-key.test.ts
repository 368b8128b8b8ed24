/**
 * The inference Worker answers HTTP only to the API Worker: a request that reaches its URL without
 * the shared INFERENCE_KEY (a deploy that left workers.dev on, anyone who guessed the name) gets
 * the 404 of an unknown path on every route; the API Worker's forwarded requests, streamed or over
 * RPC, are served as before. (`env.INFERENCE` here is the API Worker's own service binding: the
 * closest a test gets to calling the inference Worker's URL directly.)
 */
import { env } from 'cloudflare:workers';
import { beforeAll, describe, expect, it } from 'vitest';
import { INFERENCE_KEY_HEADER } from '../../workers/contracts/inference-key';
import { publishGrown, request } from './helpers';

let runId: string;

beforeAll(async () => {
  ({ runId } = await publishGrown());
});

/** One image of 256 zero pixels, as a KServe v2 body. */
const inferBody = () =>
  JSON.stringify({
    inputs: [{ name: 'pixels', shape: [1, 256], datatype: 'FP32', data: new Array(256).fill(0) }],
  });

function direct(path: string, headers: Record<string, string> = {}, body?: string): Promise<Response> {
  return env.INFERENCE.fetch(`http://inference.test${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { 'Content-Type': 'application/json', ...headers },
    body,
  });
}

describe('the inference Worker over HTTP', () => {
  it.each([
    ['no key', {}],
    ['a wrong key', { [INFERENCE_KEY_HEADER]: 'x'.repeat(48) }],
    ['the API token as the key', { [INFERENCE_KEY_HEADER]: String(env.API_TOKEN) }],
  ])('with %s: 404 on every route, the same answer as an unknown path', async (_what, headers) => {
    for (const path of ['/v2/health/live', `/v2/models/${runId}`, `/v2/models/${runId}/ready`, '/nowhere']) {
      const res = await direct(path, headers);
      expect(res.status, path).toBe(404);
      expect(await res.json()).toEqual({ error: `no route for GET ${path}` });
    }
    const infer = await direct(`/v2/models/${runId}/infer`, headers, inferBody());
    expect(infer.status).toBe(404);
    await infer.arrayBuffer();
  });

  it('with the key the API Worker holds: served', async () => {
    const headers = { [INFERENCE_KEY_HEADER]: String(env.INFERENCE_KEY) };
    expect((await direct('/v2/health/live', headers)).status).toBe(200);
    const infer = await direct(`/v2/models/${runId}/infer`, headers, inferBody());
    expect(infer.status).toBe(200);
    expect(await infer.json()).toMatchObject({ model_name: runId });
  });

  it('the API Worker forwards streamed (chunked) bodies with the key, and RPC calls need none', async () => {
    const bytes = new TextEncoder().encode(inferBody());
    const chunked = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(bytes.subarray(0, 100));
        controller.enqueue(bytes.subarray(100));
        controller.close();
      },
    });
    const streamed = await request(`/v2/models/${runId}/infer`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: chunked,
    });
    expect(streamed.status).toBe(200);
    await streamed.arrayBuffer();
    expect((await request('/v2/health/live', { token: null })).status).toBe(200);
  });
});
