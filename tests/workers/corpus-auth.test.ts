/**
 * Bad-input corpus, credentials: requests with missing, wrong, expired, revoked, misplaced or
 * forged credentials across the API, share links, sessions and KServe, plus traversal in ids and
 * tokens and wrong methods. Every one must get its 4xx (never a 2xx, never a 5xx) in the route's
 * error shape, the server must answer the next request, and nothing stored may change.
 */
import { env } from 'cloudflare:workers';
import { beforeAll, describe, expect, it } from 'vitest';
import { newShareToken } from '../../src/share';
import { createSessionValue, startSession } from '../../workers/api/session';
import { header, post, request, startRun, TOKEN, waitFor } from './helpers';

const SMALL = { population: 32, generations: 2, sliceSize: 16, seed: 31, tournamentSize: 8 };
const ORIGIN = 'http://wann.test';

interface Fixtures {
  run: string;
  other: string;
  view: string;
  predict: string;
  otherLink: string;
  revoked: string;
  expired: string;
  /** A live owner session cookie value. */
  session: string;
  signedOut: string;
  expiredSession: string;
  unrecorded: string;
  foreign: string;
}

interface Case {
  method?: string;
  path: string;
  /** Bearer token (null: no Authorization header). */
  token?: string | null;
  headers?: Record<string, string>;
  body?: unknown;
  status: number;
  /** The API's `error.code`; KServe answers (`/v2`) are `{"error": "…"}`. */
  code?: string;
}

const f = {} as Fixtures;
const cookie = (value: string) => ({ Cookie: `wann_session=${value}` });
const json = { 'Content-Type': 'application/json' };

/** Each case is built once the fixtures exist. */
const CASES: [string, () => Case][] = [
  // No credentials at all.
  ['no credentials: the run list', () => ({ path: '/api/runs', status: 401, code: 'unauthorized' })],
  ['no credentials: a run', () => ({ path: `/api/runs/${f.run}`, status: 401, code: 'unauthorized' })],
  [
    'no credentials: generations',
    () => ({ path: `/api/runs/${f.run}/generations`, status: 401, code: 'unauthorized' }),
  ],
  [
    'no credentials: events',
    () => ({ path: `/api/runs/${f.run}/events`, status: 401, code: 'unauthorized' }),
  ],
  [
    'no credentials: champion',
    () => ({ path: `/api/runs/${f.run}/champion`, status: 401, code: 'unauthorized' }),
  ],
  [
    'no credentials: models',
    () => ({ path: `/api/runs/${f.run}/models`, status: 401, code: 'unauthorized' }),
  ],
  [
    'no credentials: a download',
    () => ({ path: `/api/runs/${f.run}/models/latest/model.onnx`, status: 401, code: 'unauthorized' }),
  ],
  [
    'no credentials: start',
    () => ({
      method: 'POST',
      path: '/api/runs',
      headers: json,
      body: SMALL,
      status: 401,
      code: 'unauthorized',
    }),
  ],
  [
    'no credentials: cancel',
    () => ({ method: 'POST', path: `/api/runs/${f.run}/cancel`, status: 401, code: 'unauthorized' }),
  ],
  [
    'no credentials: fork',
    () => ({
      method: 'POST',
      path: `/api/runs/${f.run}/fork`,
      headers: json,
      body: {},
      status: 401,
      code: 'unauthorized',
    }),
  ],
  [
    'no credentials: publish',
    () => ({ method: 'POST', path: `/api/runs/${f.run}/publish`, status: 401, code: 'unauthorized' }),
  ],
  [
    'no credentials: mint a link',
    () => ({
      method: 'POST',
      path: `/api/runs/${f.run}/share`,
      headers: json,
      body: {},
      status: 401,
      code: 'unauthorized',
    }),
  ],
  [
    'no credentials: list links',
    () => ({ path: `/api/runs/${f.run}/share`, status: 401, code: 'unauthorized' }),
  ],
  [
    'no credentials: revoke a link',
    () => ({ method: 'DELETE', path: `/api/runs/${f.run}/share/x`, status: 401, code: 'unauthorized' }),
  ],
  [
    'no credentials: predict',
    () => ({
      method: 'POST',
      path: `/api/runs/${f.run}/predict`,
      headers: json,
      body: { pixels: [] },
      status: 401,
      code: 'unauthorized',
    }),
  ],
  [
    'no credentials: KServe infer',
    () => ({
      method: 'POST',
      path: `/v2/models/${f.run}/infer`,
      headers: json,
      body: { inputs: [] },
      status: 401,
    }),
  ],
  ['no credentials: KServe metadata', () => ({ path: `/v2/models/${f.run}`, status: 401 })],
  [
    'no credentials: start a session',
    () => ({ method: 'POST', path: '/api/session', status: 401, code: 'unauthorized' }),
  ],
  [
    'no credentials: end all sessions',
    () => ({ method: 'DELETE', path: '/api/sessions', status: 401, code: 'unauthorized' }),
  ],
  [
    "a share token reading the owner's links",
    () => ({ path: `/api/runs/${f.run}/share`, token: f.view, status: 401, code: 'unauthorized' }),
  ],

  // Wrong or malformed tokens.
  [
    'a wrong token: the run list',
    () => ({ path: '/api/runs', token: 'wrong', status: 401, code: 'unauthorized' }),
  ],
  [
    'a wrong token: a run',
    () => ({ path: `/api/runs/${f.run}`, token: 'wrong', status: 401, code: 'unauthorized' }),
  ],
  [
    'a wrong token: start',
    () => ({
      method: 'POST',
      path: '/api/runs',
      token: 'wrong',
      headers: json,
      body: SMALL,
      status: 401,
      code: 'unauthorized',
    }),
  ],
  [
    'a wrong token: start a session',
    () => ({ method: 'POST', path: '/api/session', token: 'wrong', status: 401, code: 'unauthorized' }),
  ],
  [
    'Basic instead of Bearer',
    () => ({
      path: '/api/runs',
      headers: { Authorization: `Basic ${btoa(`x:${TOKEN}`)}` },
      status: 401,
      code: 'unauthorized',
    }),
  ],
  [
    'Bearer with no token',
    () => ({
      path: `/api/runs/${f.run}`,
      headers: { Authorization: 'Bearer' },
      status: 401,
      code: 'unauthorized',
    }),
  ],
  [
    'Bearer with two tokens',
    () => ({
      path: '/api/runs',
      headers: { Authorization: `Bearer ${TOKEN} ${TOKEN}` },
      status: 401,
      code: 'unauthorized',
    }),
  ],
  [
    'a 10,000-character token',
    () => ({ path: '/api/runs', token: 'x'.repeat(10_000), status: 401, code: 'unauthorized' }),
  ],
  [
    'the API token with one more character',
    () => ({
      method: 'POST',
      path: `/api/runs/${f.run}/cancel`,
      token: `${TOKEN}x`,
      status: 401,
      code: 'unauthorized',
    }),
  ],
  [
    'the API token in upper case',
    () => ({
      method: 'DELETE',
      path: '/api/sessions',
      token: TOKEN.toUpperCase(),
      status: 401,
      code: 'unauthorized',
    }),
  ],
  ['a wrong token on KServe', () => ({ path: `/v2/models/${f.run}/ready`, token: 'wrong', status: 401 })],

  // Share tokens where they do not belong.
  [
    'a share token on another run',
    () => ({ path: `/api/runs/${f.other}`, token: f.view, status: 401, code: 'unauthorized' }),
  ],
  [
    "a share token on another run's stream",
    () => ({ path: `/api/runs/${f.other}/events`, token: f.view, status: 401, code: 'unauthorized' }),
  ],
  [
    'a share token for the run list',
    () => ({ path: '/api/runs', token: f.predict, status: 401, code: 'unauthorized' }),
  ],
  [
    'a share token to cancel',
    () => ({
      method: 'POST',
      path: `/api/runs/${f.run}/cancel`,
      token: f.predict,
      status: 401,
      code: 'unauthorized',
    }),
  ],
  [
    'a share token to mint links',
    () => ({
      method: 'POST',
      path: `/api/runs/${f.run}/share`,
      token: f.predict,
      headers: json,
      body: {},
      status: 401,
      code: 'unauthorized',
    }),
  ],
  [
    'a share token to start a session',
    () => ({ method: 'POST', path: '/api/session', token: f.predict, status: 401, code: 'unauthorized' }),
  ],
  [
    'a share token to end all sessions',
    () => ({ method: 'DELETE', path: '/api/sessions', token: f.predict, status: 401, code: 'unauthorized' }),
  ],
  [
    'a view link predicting',
    () => ({
      method: 'POST',
      path: `/api/runs/${f.run}/predict`,
      token: f.view,
      headers: json,
      body: { pixels: [] },
      status: 403,
      code: 'forbidden',
    }),
  ],
  [
    'a view link on KServe infer',
    () => ({
      method: 'POST',
      path: `/v2/models/${f.run}/infer`,
      token: f.view,
      headers: json,
      body: { inputs: [] },
      status: 403,
    }),
  ],
  ["another run's link on KServe", () => ({ path: `/v2/models/${f.run}`, token: f.otherLink, status: 401 })],
  [
    'a revoked share token',
    () => ({ path: `/api/runs/${f.run}`, token: f.revoked, status: 410, code: 'share_link_revoked' }),
  ],
  [
    'an expired share token',
    () => ({
      path: `/api/runs/${f.run}/generations`,
      token: f.expired,
      status: 410,
      code: 'share_link_expired',
    }),
  ],
  [
    'a revoked share token predicting',
    () => ({
      method: 'POST',
      path: `/api/runs/${f.run}/predict`,
      token: f.revoked,
      headers: json,
      body: { pixels: [] },
      status: 410,
      code: 'share_link_revoked',
    }),
  ],

  // Share-link paths.
  ['a revoked link', () => ({ path: `/s/${f.revoked}/api/run`, status: 410, code: 'share_link_revoked' })],
  [
    "an expired link's stream",
    () => ({ path: `/s/${f.expired}/api/run/events`, status: 410, code: 'share_link_expired' }),
  ],
  ['an unknown link', () => ({ path: `/s/${newShareToken()}/api/run`, status: 404, code: 'not_found' })],
  [
    'an unknown link, predicting',
    () => ({
      method: 'POST',
      path: `/s/${newShareToken()}/api/run/predict`,
      headers: json,
      body: { pixels: [] },
      status: 404,
      code: 'not_found',
    }),
  ],
  [
    'a link cancelling',
    () => ({ method: 'POST', path: `/s/${f.predict}/api/run/cancel`, status: 403, code: 'read_only' }),
  ],
  [
    'a link forking',
    () => ({
      method: 'POST',
      path: `/s/${f.predict}/api/run/fork`,
      headers: json,
      body: {},
      status: 403,
      code: 'read_only',
    }),
  ],
  [
    'a link publishing',
    () => ({ method: 'POST', path: `/s/${f.predict}/api/run/publish`, status: 403, code: 'read_only' }),
  ],
  ['a link listing links', () => ({ path: `/s/${f.predict}/api/run/share`, status: 403, code: 'read_only' })],
  [
    'a link minting links',
    () => ({
      method: 'POST',
      path: `/s/${f.predict}/api/run/share`,
      headers: json,
      body: {},
      status: 403,
      code: 'read_only',
    }),
  ],
  [
    'a view link predicting by path',
    () => ({
      method: 'POST',
      path: `/s/${f.view}/api/run/predict`,
      headers: json,
      body: { pixels: [] },
      status: 403,
      code: 'forbidden',
    }),
  ],
  [
    'a link reading another run by id',
    () => ({ path: `/s/${f.view}/api/${f.other}`, status: 404, code: 'not_found' }),
  ],
  [
    "a link reading another run's generations",
    () => ({ path: `/s/${f.view}/api/${f.other}/generations`, status: 404, code: 'not_found' }),
  ],
  ['a link listing runs', () => ({ path: `/s/${f.view}/api/`, status: 404, code: 'not_found' })],
  [
    'a link starting a run',
    () => ({
      method: 'POST',
      path: `/s/${f.view}/api`,
      headers: json,
      body: SMALL,
      status: 403,
      code: 'read_only',
    }),
  ],
  [
    'a revoked link with the API token',
    () => ({ path: `/s/${f.revoked}/api/run`, token: TOKEN, status: 410, code: 'share_link_revoked' }),
  ],
  [
    "a revoked link with the owner's cookie",
    () => ({
      path: `/s/${f.revoked}/api/run/champion`,
      headers: cookie(f.session),
      status: 410,
      code: 'share_link_revoked',
    }),
  ],
  [
    'a link with the API token cancelling',
    () => ({
      method: 'POST',
      path: `/s/${f.predict}/api/run/cancel`,
      token: TOKEN,
      status: 403,
      code: 'read_only',
    }),
  ],

  // Traversal and odd ids.
  [
    'traversal in a run id',
    () => ({ path: `/api/runs/..%2F..%2Fapi%2Fruns`, token: TOKEN, status: 404, code: 'run_not_found' }),
  ],
  [
    'traversal in a run id, no token',
    () => ({ path: `/api/runs/..%2F${f.run}`, status: 401, code: 'unauthorized' }),
  ],
  [
    'traversal in a link id',
    () => ({
      method: 'DELETE',
      path: `/api/runs/${f.run}/share/..%2F..%2F${f.run}`,
      token: TOKEN,
      status: 404,
      code: 'link_not_found',
    }),
  ],
  [
    'traversal in a model version',
    () => ({
      path: `/api/runs/${f.run}/models/..%2F..%2F1/model.onnx`,
      token: TOKEN,
      status: 404,
      code: 'model_not_found',
    }),
  ],
  [
    'traversal in a share token',
    () => ({ path: `/s/..%2F..%2Fapi%2Fruns/api/run`, status: 404, code: 'not_found' }),
  ],
  [
    'an encoded slash in a share token',
    () => ({
      path: `/s/${f.view.slice(0, 20)}%2F${f.view.slice(20)}/api/run`,
      status: 404,
      code: 'not_found',
    }),
  ],
  [
    'traversal as a Bearer share token',
    () => ({ path: `/api/runs/${f.run}`, token: '../../share_links', status: 401, code: 'unauthorized' }),
  ],
  [
    'a KServe model named by traversal',
    () => ({ path: '/v2/models/..%2F..%2Fapi%2Fruns/ready', token: TOKEN, status: 404 }),
  ],

  // Session cookies where they do not belong, and forged ones.
  [
    'a cookie starting without Origin',
    () => ({
      method: 'POST',
      path: '/api/runs',
      headers: { ...cookie(f.session), ...json },
      body: SMALL,
      status: 403,
      code: 'cross_origin',
    }),
  ],
  [
    'a cookie cancelling from another site',
    () => ({
      method: 'POST',
      path: `/api/runs/${f.run}/cancel`,
      headers: { ...cookie(f.session), Origin: 'http://evil.test' },
      status: 403,
      code: 'cross_origin',
    }),
  ],
  [
    'a cookie minting a link from a null origin',
    () => ({
      method: 'POST',
      path: `/api/runs/${f.run}/share`,
      headers: { ...cookie(f.session), ...json, Origin: 'null' },
      body: {},
      status: 403,
      code: 'cross_origin',
    }),
  ],
  [
    'a cookie ending all sessions from another site',
    () => ({
      method: 'DELETE',
      path: '/api/sessions',
      headers: { ...cookie(f.session), Origin: 'https://wann.test' },
      status: 403,
      code: 'cross_origin',
    }),
  ],
  [
    'a cookie predicting without Origin',
    () => ({
      method: 'POST',
      path: `/api/runs/${f.run}/predict`,
      headers: { ...cookie(f.session), ...json },
      body: { pixels: [] },
      status: 403,
      code: 'cross_origin',
    }),
  ],
  [
    'a cookie starting a session',
    () => ({
      method: 'POST',
      path: '/api/session',
      headers: { ...cookie(f.session), Origin: ORIGIN },
      status: 401,
      code: 'unauthorized',
    }),
  ],
  [
    'a signature the server never recorded',
    () => ({ path: '/api/runs', headers: cookie(f.unrecorded), status: 401, code: 'unauthorized' }),
  ],
  [
    'a cookie signed for another API token',
    () => ({ path: `/api/runs/${f.run}`, headers: cookie(f.foreign), status: 401, code: 'unauthorized' }),
  ],
  [
    'an expired session',
    () => ({ path: '/api/runs', headers: cookie(f.expiredSession), status: 401, code: 'unauthorized' }),
  ],
  [
    'a signed-out session',
    () => ({
      path: `/api/runs/${f.run}/events`,
      headers: cookie(f.signedOut),
      status: 401,
      code: 'unauthorized',
    }),
  ],
  [
    'a signed-out session writing from the page',
    () => ({
      method: 'POST',
      path: `/api/runs/${f.run}/cancel`,
      headers: { ...cookie(f.signedOut), Origin: ORIGIN },
      status: 401,
      code: 'unauthorized',
    }),
  ],
  [
    'the API token as the cookie',
    () => ({ path: '/api/runs', headers: cookie(TOKEN), status: 401, code: 'unauthorized' }),
  ],
  [
    'an 8 KB cookie',
    () => ({
      path: '/api/runs',
      headers: cookie('v1.'.padEnd(8192, 'A')),
      status: 401,
      code: 'unauthorized',
    }),
  ],
  [
    'a live cookie under a wrong Bearer header',
    () => ({
      path: `/api/runs/${f.run}`,
      token: 'wrong',
      headers: cookie(f.session),
      status: 401,
      code: 'unauthorized',
    }),
  ],

  // Wrong methods.
  [
    'PUT the run list',
    () => ({
      method: 'PUT',
      path: '/api/runs',
      token: TOKEN,
      headers: json,
      body: {},
      status: 404,
      code: 'not_found',
    }),
  ],
  [
    'DELETE a run',
    () => ({ method: 'DELETE', path: `/api/runs/${f.run}`, token: TOKEN, status: 404, code: 'not_found' }),
  ],
  [
    'POST to a run',
    () => ({ method: 'POST', path: `/api/runs/${f.run}`, token: TOKEN, status: 404, code: 'not_found' }),
  ],
  ['GET cancel', () => ({ path: `/api/runs/${f.run}/cancel`, token: TOKEN, status: 404, code: 'not_found' })],
  [
    'PATCH the session',
    () => ({ method: 'PATCH', path: '/api/session', token: TOKEN, status: 404, code: 'not_found' }),
  ],
  ['GET all sessions', () => ({ path: '/api/sessions', token: TOKEN, status: 404, code: 'not_found' })],
  [
    'PUT through a link',
    () => ({
      method: 'PUT',
      path: `/s/${f.view}/api/run`,
      headers: json,
      body: {},
      status: 404,
      code: 'not_found',
    }),
  ],
  ['POST to a link page', () => ({ method: 'POST', path: `/s/${f.view}`, status: 404, code: 'not_found' })],
];

async function share(runId: string, body: unknown = {}): Promise<{ id: string; token: string }> {
  const res = await post(`/api/runs/${runId}/share`, body);
  if (res.status !== 201) throw new Error(`share → ${res.status} ${await res.text()}`);
  return res.json();
}

/** What must not change however bad the requests: rows of every table a request could touch. */
async function stored() {
  const count = async (table: string) =>
    (await env.DB.prepare(`SELECT count(*) AS n FROM ${table}`).first<{ n: number }>())!.n;
  const links = await env.DB.prepare('SELECT id, revoked_at FROM share_links ORDER BY id').all();
  const sessions = await env.DB.prepare('SELECT id, revoked_at FROM owner_sessions ORDER BY id').all();
  const run = await env.DB.prepare('SELECT status, generation FROM runs WHERE id = ?').bind(f.run).first();
  return {
    runs: await count('runs'),
    generations: await count('generations'),
    models: await count('models'),
    links: links.results,
    sessions: sessions.results,
    run,
  };
}

let before: Awaited<ReturnType<typeof stored>>;

beforeAll(async () => {
  f.run = (await startRun(SMALL)).id;
  f.other = (await startRun({ ...SMALL, seed: 32 })).id;
  await waitFor(f.run);
  await waitFor(f.other);
  f.view = (await share(f.run)).token;
  f.predict = (await share(f.run, { scope: 'view+predict' })).token;
  f.otherLink = (await share(f.other)).token;
  const revoked = await share(f.run, { scope: 'view+predict' });
  await request(`/api/runs/${f.run}/share/${revoked.id}`, { method: 'DELETE' });
  f.revoked = revoked.token;
  const expired = await share(f.run);
  await env.DB.prepare('UPDATE share_links SET expires_at = ? WHERE id = ?')
    .bind(Date.now() - 1, expired.id)
    .run();
  f.expired = expired.token;
  f.session = (await startSession(env)).value;
  const signedOut = await startSession(env);
  await request('/api/session', { method: 'DELETE', token: null, headers: cookie(signedOut.value) });
  f.signedOut = signedOut.value;
  f.expiredSession = (await startSession(env, Date.now() - 2 * 86_400_000, 3600)).value;
  f.unrecorded = (await createSessionValue(env.API_TOKEN!)).value;
  f.foreign = (await createSessionValue('another-token')).value;
  // Each run publishes its champion when it completes: wait for both before the snapshot.
  for (let i = 0; i < 400; i++) {
    const published = await env.DB.prepare(
      'SELECT count(DISTINCT run_id) AS n FROM models WHERE run_id IN (?, ?)',
    )
      .bind(f.run, f.other)
      .first<{ n: number }>();
    if (published!.n === 2) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  before = await stored();
});

describe('bad credentials get their 4xx, in the error shape, and the server keeps answering', () => {
  it('has at least 50 cases', () => {
    expect(CASES.length).toBeGreaterThanOrEqual(50);
  });

  it.each(CASES)('%s', async (_, build) => {
    const c = build();
    const headers = { ...c.headers };
    const res = await request(c.path, {
      method: c.method ?? 'GET',
      token: c.token ?? null,
      headers,
      body: c.body === undefined ? undefined : JSON.stringify(c.body),
    });
    const text = await res.text();
    expect(res.status, text).toBe(c.status);
    const body = JSON.parse(text) as { error: { code: string; message: string } | string };
    if (c.path.startsWith('/v2/')) {
      expect(typeof body.error, text).toBe('string');
    } else {
      expect(body.error, text).toEqual({ code: expect.any(String), message: expect.any(String) });
      if (c.code && typeof body.error === 'object') expect(body.error.code).toBe(c.code);
    }
    expect(header(res, 'Cache-Control')).toBe('no-store');
    const health = await request('/api/health', { token: null });
    expect(health.status).toBe(200);
    await health.arrayBuffer();
  });

  it('lost nothing: runs, generations, models, links and sessions are as they were', async () => {
    expect(await stored()).toEqual(before);
    // And the credentials that were good still are.
    expect((await request(`/api/runs/${f.run}`)).status).toBe(200);
    expect((await request(`/api/runs/${f.run}`, { token: f.view })).status).toBe(200);
    expect((await request(`/s/${f.predict}/api/run`, { token: null })).status).toBe(200);
    expect((await request('/api/runs', { token: null, headers: cookie(f.session) })).status).toBe(200);
  });
});
