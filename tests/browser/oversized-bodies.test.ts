/**
 * Oversized bodies under `wrangler dev` (npm start's servers): answered before the Worker read
 * them, they used to reach the client as `503 text/plain` ("Your worker restarted mid-request") or
 * a reset connection. Every one must get the documented 413 in its route's error shape, and the
 * next request on the same keep-alive connection must be answered.
 */
import { Agent, request } from 'node:http';
import { afterAll, describe, expect, inject, it } from 'vitest';

const BASE = new URL(inject('wannUrl'));
const TOKEN = inject('wannToken');
const BODY = Buffer.alloc(30 * 1024 * 1024, 0x20); // 30 MiB of spaces: over every limit
/** One socket: the request after the 413 goes over the connection the 413 came back on. */
const agent = new Agent({ keepAlive: true, maxSockets: 1 });
afterAll(() => agent.destroy());

interface Answer {
  status: number;
  type: string;
  text: string;
}

function send(method: string, path: string, body: Buffer | null, chunked = false): Promise<Answer> {
  return new Promise((done, fail) => {
    const headers: Record<string, string> = {
      Authorization: `Bearer ${TOKEN}`,
      'Content-Type': 'application/json',
    };
    if (body && !chunked) headers['Content-Length'] = String(body.length);
    const req = request(
      { host: BASE.hostname, port: BASE.port, method, path, headers, agent, timeout: 30_000 },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d) => {
          text += d;
        });
        res.on('end', () =>
          done({ status: res.statusCode ?? 0, type: String(res.headers['content-type']), text }),
        );
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${method} ${path}: no answer within 30 s`)));
    req.on('error', fail);
    if (body && chunked) {
      for (let at = 0; at < body.length; at += 1 << 20) req.write(body.subarray(at, at + (1 << 20)));
      req.end();
    } else {
      req.end(body ?? undefined);
    }
  });
}

const RUN = '00000000-0000-4000-8000-000000000000';
describe('oversized bodies under wrangler dev', () => {
  it.each([
    ['a config', '/api/runs', false, 'api'],
    ['a config, chunked', '/api/runs', true, 'api'],
    ['a prediction', `/api/runs/${RUN}/predict`, false, 'api'],
    ['a prediction, chunked', `/api/runs/${RUN}/predict`, true, 'api'],
    ['an inference', `/v2/models/${RUN}/infer`, false, 'oip'],
    ['an inference, chunked', `/v2/models/${RUN}/infer`, true, 'oip'],
  ])(
    '%s: 413 in the route’s error shape, then the next request is answered',
    async (_name, path, chunked, shape) => {
      const answer = await send('POST', path, BODY, chunked);
      expect(answer.status, answer.text.slice(0, 200)).toBe(413);
      expect(answer.type).toMatch(/^application\/json/);
      const error = (JSON.parse(answer.text) as { error: unknown }).error;
      if (shape === 'oip') expect(error).toMatch(/limited to \d+ bytes/);
      else expect(error).toMatchObject({ code: 'payload_too_large' });
      const next = await send('GET', '/api/health', null);
      expect(next.status).toBe(200);
    },
  );
});
