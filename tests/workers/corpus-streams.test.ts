/**
 * Bad-input corpus for the runs routes (start, events, cancel, fork): every bad request gets a 4xx
 * in the API's error shape (never a 5xx, never a 2xx), the server keeps answering, and nothing
 * already stored changes. Also the ceilings: searches running at once, and subscribers per run.
 */
import { env } from 'cloudflare:workers';
import { beforeAll, describe, expect, it } from 'vitest';
import { MAX_SLICES_PER_GENERATION } from '../../src/wann/config';
import { LOST_COORDINATOR_ERROR, runningSearches, START_GRACE_MS } from '../../workers/api/run-slots';
import { MAX_RUNNING_SEARCHES } from '../../workers/api/runs';
import { MAX_SUBSCRIBERS_PER_RUN } from '../../workers/coordinator/search-coordinator';
import { type ErrorBody, header, post, request, startRun, waitFor } from './helpers';
import { parkedRun } from './parked-run';
import { readSse, type SseReader } from './sse';

const STORED = { population: 8, generations: 2, sliceSize: 8, seed: 31, tournamentSize: 4 };
const UNKNOWN = '00000000-0000-4000-8000-000000000000';

let stored: string;
/** A run that stays `running`, with no search behind it (parked-run.ts). */
let running: string;
/** A live share token for `running` (not for `stored`). */
let otherRunToken: string;

interface BadRequest {
  method: string;
  path: string;
  body?: string;
  /** Default: application/json when there is a body. */
  contentType?: string | null;
  /** Default: the API token; null: none. */
  token?: string | null;
  headers?: Record<string, string>;
  /** The status, or the statuses allowed (e.g. a wrong method: 404 or 405). */
  status: number | number[];
  code?: string;
  /** Text the message must contain (e.g. the offending field). */
  says?: string;
}

const json = (value: unknown) => JSON.stringify(value);
const config = (fields: Record<string, unknown>) => json({ ...STORED, ...fields });
function startCases(): [string, BadRequest][] {
  const bad = (name: string, body: string, says?: string, code = 'invalid_config'): [string, BadRequest] => [
    `POST /api/runs ${name}`,
    { method: 'POST', path: '/api/runs', body, status: 400, code, says },
  ];
  const nested = `{"weights":${'['.repeat(5000)}${']'.repeat(5000)}}`;
  return [
    bad('malformed JSON', '{"population":', undefined, 'invalid_json'),
    bad('trailing comma', '{"population":96,}', undefined, 'invalid_json'),
    bad('single quotes', "{'population':96}", undefined, 'invalid_json'),
    bad('an array', '[1,2]', undefined, 'invalid_json'),
    bad('a string', '"population"', undefined, 'invalid_json'),
    bad('null', 'null', undefined, 'invalid_json'),
    bad('a number', '42', undefined, 'invalid_json'),
    bad('true', 'true', undefined, 'invalid_json'),
    bad('NaN', '{"population":NaN}', undefined, 'invalid_json'),
    bad('Infinity', '{"population":Infinity}', undefined, 'invalid_json'),
    bad('a comment in the JSON', '{"population":96 /* 96 */}', undefined, 'invalid_json'),
    bad('population 1e400 (Infinity)', '{"population":1e400}', 'population'),
    bad('population as a string', config({ population: '96' }), 'population'),
    bad('population in Arabic-Indic digits', config({ population: '٩٦' }), 'population'),
    bad('population negative', config({ population: -1 }), 'population'),
    bad('population zero', config({ population: 0 }), 'population'),
    bad('population fractional', config({ population: 3.5 }), 'population'),
    bad('population huge', config({ population: 1e9 }), 'population'),
    bad('population null', config({ population: null }), 'population'),
    bad('population an array', config({ population: [96] }), 'population'),
    bad('generations zero', config({ generations: 0 }), 'generations'),
    bad('generations huge', config({ generations: 1e12 }), 'generations'),
    bad('generations negative', config({ generations: -5 }), 'generations'),
    bad('seed negative', config({ seed: -1 }), 'seed'),
    bad('seed 2^32', config({ seed: 2 ** 32 }), 'seed'),
    bad('seed fractional', config({ seed: 1.5 }), 'seed'),
    bad('seed a string', config({ seed: 'abc' }), 'seed'),
    bad('sliceSize zero', config({ sliceSize: 0 }), 'sliceSize'),
    bad('sliceSize over 1,000', config({ sliceSize: 1001 }), 'sliceSize'),
    bad(
      'sliceSize 1 at population 10,000 (10,000 messages a generation)',
      config({ population: 10_000, sliceSize: 1, tournamentSize: 4 }),
      `at most ${MAX_SLICES_PER_GENERATION}`,
    ),
    bad(
      'sliceSize 3 at population 960 (320 messages a generation)',
      config({ population: 960, sliceSize: 3 }),
      'sliceSize must be at least 4',
    ),
    bad('weights empty', config({ weights: [] }), 'weights'),
    bad('weights not numbers', config({ weights: ['a'] }), 'weights'),
    bad('weights too many', config({ weights: Array.from({ length: 17 }, () => 1) }), 'weights'),
    bad('weights Infinity', '{"weights":[1e999]}', 'weights'),
    bad('weights a string', config({ weights: '1,2' }), 'weights'),
    bad('weights nested 5,000 deep', nested),
    bad('trainShards zero', config({ trainShards: 0 }), 'trainShards'),
    bad('trainShards 61', config({ trainShards: 61 }), 'trainShards'),
    bad('probConnectionObjective 1.5', config({ probConnectionObjective: 1.5 }), 'probConnectionObjective'),
    bad('cullRatio negative', config({ cullRatio: -0.1 }), 'cullRatio'),
    bad('eliteRatio 2', config({ eliteRatio: 2 }), 'eliteRatio'),
    bad('tournamentSize zero', config({ tournamentSize: 0 }), 'tournamentSize'),
    bad('tournamentSize over population', config({ tournamentSize: 9 }), 'tournamentSize'),
    bad(
      'every mutation probability zero',
      config({ probAddConnection: 0, probAddNode: 0, probEnable: 0, probChangeActivation: 0 }),
      'probAddConnection',
    ),
    bad('publishEvery negative', config({ publishEvery: -1 }), 'publishEvery'),
    bad('an unknown field', config({ foo: 1 }), 'foo: unknown field'),
    bad('an unknown unicode field', config({ 'pöpulation💥': 96 }), 'unknown field'),
    bad('a NUL in a field name', config({ 'population\u0000': 96 }), 'unknown field'),
    bad('a lone surrogate field', '{"\\ud800":1}', 'unknown field'),
    bad('__proto__', '{"__proto__":{"population":5}}', '__proto__'),
    bad('constructor.prototype', '{"constructor":{"prototype":{"population":5}}}', 'constructor'),
    [
      'POST /api/runs 70 KB body',
      {
        method: 'POST',
        path: '/api/runs',
        body: json({ x: 'a'.repeat(70_000) }),
        status: 413,
        code: 'payload_too_large',
      },
    ],
    [
      'POST /api/runs valid JSON as text/plain',
      { method: 'POST', path: '/api/runs', body: config({}), contentType: 'text/plain', status: 415 },
    ],
    [
      'POST /api/runs a form body',
      {
        method: 'POST',
        path: '/api/runs',
        body: 'population=96&generations=3',
        contentType: 'application/x-www-form-urlencoded',
        status: 400,
        code: 'invalid_json',
      },
    ],
    [
      'POST /api/runs multipart',
      {
        method: 'POST',
        path: '/api/runs',
        body: '--x\r\nContent-Disposition: form-data; name="population"\r\n\r\n96\r\n--x--\r\n',
        contentType: 'multipart/form-data; boundary=x',
        status: 400,
      },
    ],
    [
      'POST /api/runs without a token',
      { method: 'POST', path: '/api/runs', body: config({}), token: null, status: 401 },
    ],
    [
      'POST /api/runs with a wrong token',
      { method: 'POST', path: '/api/runs', body: config({}), token: 'not-the-token', status: 401 },
    ],
    [
      'POST /api/runs with a malformed Authorization header',
      {
        method: 'POST',
        path: '/api/runs',
        body: config({}),
        token: null,
        headers: { Authorization: 'Basic dGVzdDp0ZXN0' },
        status: 401,
      },
    ],
    ['PUT /api/runs', { method: 'PUT', path: '/api/runs', body: config({}), status: [404, 405] }],
    ['DELETE /api/runs', { method: 'DELETE', path: '/api/runs', status: [404, 405] }],
  ];
}

function eventCases(): [string, BadRequest][] {
  const since = (value: string, name = value): [string, BadRequest] => [
    `GET events ?since=${name}`,
    { method: 'GET', path: `/api/runs/{stored}/events?since=${value}`, status: 400, code: 'invalid_query' },
  ];
  return [
    since('abc'),
    since('-2'),
    since('1.5'),
    since('', '(empty)'),
    since('1e3'),
    since('0x10'),
    since('99999999999999999999'),
    since('NaN'),
    since('Infinity'),
    since('%00', 'NUL'),
    since('%D9%A9', 'Arabic-Indic 9'),
    since('%20%201', 'spaces'),
    [
      'GET events with an unknown query field',
      { method: 'GET', path: '/api/runs/{stored}/events?foo=1', status: 400, code: 'invalid_query' },
    ],
    ['GET events of an unknown run', { method: 'GET', path: `/api/runs/${UNKNOWN}/events`, status: 404 }],
    ['GET events of a malformed id', { method: 'GET', path: '/api/runs/not-a-run/events', status: 404 }],
    [
      'GET events with traversal in the id',
      { method: 'GET', path: '/api/runs/..%2F..%2Fapi%2Fruns/events', status: 404 },
    ],
    ['GET events of an upper-case id', { method: 'GET', path: '/api/runs/{STORED}/events', status: 404 }],
    [
      'GET events without credentials',
      { method: 'GET', path: '/api/runs/{stored}/events', token: null, status: 401 },
    ],
    [
      "GET events with another run's share token",
      { method: 'GET', path: '/api/runs/{stored}/events', token: '{otherRunToken}', status: 401 },
    ],
    [
      'GET events with an unknown share token under /s/',
      { method: 'GET', path: `/s/${'A'.repeat(43)}/api/run/events`, token: null, status: 404 },
    ],
    ['POST events', { method: 'POST', path: '/api/runs/{stored}/events', status: [404, 405] }],
  ];
}

function cancelForkCases(): [string, BadRequest][] {
  // `%2e%2e` is a dot segment to URL parsers: the path collapses to a route that does not exist.
  const ids: [string, string, string][] = [
    ['an unknown run', UNKNOWN, 'run_not_found'],
    ['a malformed id', 'not-a-run', 'run_not_found'],
    ['traversal', '..%2F..%2Fetc%2Fpasswd', 'run_not_found'],
    ['dot segments', '%2e%2e', 'not_found'],
    ['a unicode id', '%C3%BC%F0%9F%92%A5', 'run_not_found'],
    ['an upper-case id', '{STORED}', 'run_not_found'],
  ];
  const cases: [string, BadRequest][] = [];
  for (const action of ['cancel', 'fork']) {
    for (const [name, id, code] of ids) {
      cases.push([
        `POST ${action} of ${name}`,
        { method: 'POST', path: `/api/runs/${id}/${action}`, body: '{}', status: 404, code },
      ]);
    }
  }
  return [
    ...cases,
    ['POST cancel of a completed run', { method: 'POST', path: '/api/runs/{stored}/cancel', status: 409 }],
    [
      'POST cancel with a share token',
      { method: 'POST', path: '/api/runs/{stored}/cancel', token: '{otherRunToken}', status: [401, 403] },
    ],
    ['GET cancel', { method: 'GET', path: '/api/runs/{stored}/cancel', status: [404, 405] }],
    ['GET fork', { method: 'GET', path: '/api/runs/{stored}/fork', status: [404, 405] }],
    [
      'POST fork malformed JSON',
      {
        method: 'POST',
        path: '/api/runs/{stored}/fork',
        body: '{"generations":',
        status: 400,
        code: 'invalid_json',
      },
    ],
    [
      'POST fork changing the population',
      {
        method: 'POST',
        path: '/api/runs/{stored}/fork',
        body: json({ population: 16 }),
        status: 400,
        says: 'population',
      },
    ],
    [
      'POST fork with no generations left',
      {
        method: 'POST',
        path: '/api/runs/{stored}/fork',
        body: json({ generations: 2 }),
        status: 400,
        says: 'generations',
      },
    ],
    [
      'POST fork with an unknown field',
      {
        method: 'POST',
        path: '/api/runs/{stored}/fork',
        body: json({ generations: 4, evil: true }),
        status: 400,
        says: 'evil',
      },
    ],
    [
      'POST fork with a negative seed',
      {
        method: 'POST',
        path: '/api/runs/{stored}/fork',
        body: json({ seed: -1 }),
        status: 400,
        says: 'seed',
      },
    ],
    [
      'POST fork as text/plain',
      {
        method: 'POST',
        path: '/api/runs/{stored}/fork',
        body: json({ generations: 4 }),
        contentType: 'text/plain',
        status: 415,
      },
    ],
  ];
}

function send(c: BadRequest): Promise<Response> {
  const fill = (s: string) =>
    s
      .replaceAll('{stored}', stored)
      .replaceAll('{STORED}', stored.toUpperCase())
      .replaceAll('{otherRunToken}', otherRunToken);
  const headers: Record<string, string> = { ...c.headers };
  const contentType = c.contentType === undefined ? 'application/json' : c.contentType;
  if (c.body !== undefined && contentType !== null) headers['Content-Type'] = contentType;
  return request(fill(c.path), {
    method: c.method,
    body: c.body,
    headers,
    token: c.token === undefined ? undefined : c.token === null ? null : fill(c.token),
  });
}

async function expectRefused(res: Response, c: Pick<BadRequest, 'status' | 'code' | 'says'>): Promise<void> {
  const allowed = Array.isArray(c.status) ? c.status : [c.status];
  const text = await res.text();
  expect(allowed, `${res.status} ${text}`).toContain(res.status);
  expect(header(res, 'Content-Type')).toMatch(/^application\/json/);
  const body = JSON.parse(text) as ErrorBody;
  expect(Object.keys(body)).toEqual(['error']);
  expect(typeof body.error.code).toBe('string');
  expect(typeof body.error.message).toBe('string');
  if (c.code) expect(body.error.code).toBe(c.code);
  if (c.says) expect(body.error.message).toContain(c.says);
}

/** What must survive every bad request: the stored run, its records and objects, and the run count. */
async function storedState() {
  const runRow = await env.DB.prepare('SELECT * FROM runs WHERE id = ?').bind(stored).first();
  const rows = await env.DB.prepare('SELECT * FROM generations WHERE run_id = ? ORDER BY gen')
    .bind(stored)
    .all();
  const links = await env.DB.prepare('SELECT * FROM share_links ORDER BY id').all();
  const count = await env.DB.prepare('SELECT COUNT(*) AS n FROM runs').first<{ n: number }>();
  const objects = await env.BLOBS.list({ prefix: `runs/${stored}/` });
  const coordinator = await env.COORD.get(env.COORD.idFromName(stored)).snapshot();
  return {
    runRow,
    rows: rows.results,
    links: links.results,
    runs: count?.n,
    objects: objects.objects.map((o) => `${o.key}:${o.etag}`),
    coordinator,
  };
}

let before: Awaited<ReturnType<typeof storedState>>;

beforeAll(async () => {
  stored = (await startRun(STORED)).id;
  running = await parkedRun();
  await waitFor(stored);
  const link = await post(`/api/runs/${running}/share`, { scope: 'view' });
  otherRunToken = ((await link.json()) as { token: string }).token;
  before = await storedState();
});

const corpus = [...startCases(), ...eventCases(), ...cancelForkCases()];

describe('bad requests to the runs routes', () => {
  it('has at least 50 of them', () => {
    expect(corpus.length).toBeGreaterThanOrEqual(50);
  });

  it.each(corpus)('%s', async (_name, c) => {
    await expectRefused(await send(c), c);
    // The server still answers, and the stored run is still there.
    expect((await request('/api/health')).status).toBe(200);
    expect((await request(`/api/runs/${stored}`)).status).toBe(200);
  });
});

describe('ceilings', () => {
  it(`refuses the subscriber after ${MAX_SUBSCRIBERS_PER_RUN} open streams with 429`, async () => {
    const streams: SseReader[] = [];
    try {
      for (let i = 0; i < MAX_SUBSCRIBERS_PER_RUN; i++) {
        const res = await request(`/api/runs/${running}/events`);
        expect(res.status).toBe(200);
        streams.push(readSse(res));
      }
      for (const init of [{}, { token: otherRunToken }]) {
        const res = await request(`/api/runs/${running}/events?since=-1`, init);
        await expectRefused(res, { status: 429, code: 'too_many_subscribers' });
      }
    } finally {
      await Promise.all(streams.map((s) => s.close()));
    }
  });

  it(`refuses a search beyond ${MAX_RUNNING_SEARCHES} running at once with 429, start and fork alike`, async () => {
    // Running searches (a row and a coordinator that both say `running`, parked-run.ts): with
    // `running`, the ceiling is reached.
    const fillers: string[] = [];
    for (let i = 1; i < MAX_RUNNING_SEARCHES; i++) fillers.push(await parkedRun());
    try {
      await expectRefused(await post('/api/runs', STORED), {
        status: 429,
        code: 'too_many_running_searches',
        says: String(MAX_RUNNING_SEARCHES),
      });
      await expectRefused(await post(`/api/runs/${stored}/fork`, { generations: 4 }), {
        status: 429,
        code: 'too_many_running_searches',
      });
    } finally {
      await env.DB.batch(fillers.map((id) => env.DB.prepare('DELETE FROM runs WHERE id = ?').bind(id)));
    }
  });

  it('rows whose coordinator lost the run, or has finished it, do not hold a slot', async () => {
    const old = Date.now() - 2 * START_GRACE_MS;
    const insert = (id: string, status: string, createdAt: number) =>
      env.DB.prepare(
        'INSERT INTO runs (id, status, config, seed, created_at, updated_at) VALUES (?, ?, ?, 1, ?, ?)',
      ).bind(id, status, '{}', createdAt, createdAt);
    // Rows only, no coordinator behind them, older than the start grace: lost.
    const lost = Array.from({ length: MAX_RUNNING_SEARCHES }, () => crypto.randomUUID());
    await env.DB.batch(lost.map((id, i) => insert(id, i % 2 ? 'queued' : 'running', old)));
    // A coordinator that finished the run while the row still says `running` (its sync lags).
    const finished = await parkedRun(0, 'completed');
    await env.DB.prepare("UPDATE runs SET status = 'running' WHERE id = ?").bind(finished).run();
    // A start in progress (a `queued` row just written, its coordinator not started yet) holds one.
    const starting = crypto.randomUUID();
    await insert(starting, 'queued', Date.now()).run();
    const created: string[] = [];
    try {
      // `running` (beforeAll) and the start in progress.
      expect(await runningSearches(env, MAX_RUNNING_SEARCHES)).toBe(2);
      const rows = await env.DB.prepare(
        `SELECT status, error FROM runs WHERE id IN (${lost.map(() => '?').join(',')})`,
      )
        .bind(...lost)
        .all<{ status: string; error: string }>();
      expect(rows.results).toHaveLength(lost.length);
      for (const row of rows.results)
        expect(row).toEqual({ status: 'failed', error: LOST_COORDINATOR_ERROR });
      // The finished one is left to its coordinator's status sync, and still does not count.
      const row = await env.DB.prepare('SELECT status FROM runs WHERE id = ?').bind(finished).first();
      expect(row).toEqual({ status: 'running' });

      // Through the API: with the lost rows still `running`, a new search is accepted.
      await env.DB.batch(
        lost.map((id) => env.DB.prepare("UPDATE runs SET status = 'running' WHERE id = ?").bind(id)),
      );
      const res = await post('/api/runs', STORED);
      expect(res.status, await res.clone().text()).toBe(202);
      const { id } = (await res.json()) as { id: string };
      created.push(id);
      expect((await post(`/api/runs/${id}/cancel`)).status).toBe(200);
    } finally {
      const ids = [...lost, finished, starting, ...created];
      await env.DB.batch([
        ...ids.map((id) => env.DB.prepare('DELETE FROM generations WHERE run_id = ?').bind(id)),
        ...ids.map((id) => env.DB.prepare('DELETE FROM runs WHERE id = ?').bind(id)),
      ]);
    }
  });
});

describe('afterwards', () => {
  it('nothing already stored changed, and the server still serves', async () => {
    expect(await storedState()).toEqual(before);
    const res = await request(`/api/runs/${stored}/events?since=-1`);
    expect(res.status).toBe(200);
    const events = await readSse(res).rest();
    expect(events.map((e) => e.event)).toEqual(['generation', 'generation', 'status']);
  });
});
