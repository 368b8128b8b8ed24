/**
 * Who may read what. Nothing about a run is public: the list needs the owner (API token, or the
 * session cookie for reads), each run's reads need the owner or a live share token for that run.
 * The session cookie never authorises writes, and a forged, tampered or expired one is refused.
 */
import { env, exports } from 'cloudflare:workers';
import { beforeAll, describe, expect, it } from 'vitest';
import type { CreatedShareLink } from '../../src/api/types';
import { createSessionValue, SESSION_TTL_S, startSession } from '../../workers/api/session';
import { type ErrorBody, header, post, request, sessionCookie, startRun, TOKEN, waitFor } from './helpers';

const SMALL = { population: 32, generations: 2, sliceSize: 16, seed: 21, tournamentSize: 8 };

let runId = '';
let otherRunId = '';

type CreatedLink = CreatedShareLink;

async function share(id: string, body: unknown = {}): Promise<CreatedLink> {
  const res = await post(`/api/runs/${id}/share`, body);
  if (res.status !== 201) throw new Error(`share → ${res.status} ${await res.text()}`);
  return res.json();
}

/** Per-run read routes; `:id` is replaced by the run id. */
const RUN_READS = [
  '/api/runs/:id',
  '/api/runs/:id/generations',
  '/api/runs/:id/events?since=-1',
  '/api/runs/:id/champion',
  '/api/runs/:id/models',
  '/api/runs/:id/models/1/model.onnx',
  '/api/runs/:id/models/latest/genome.json',
  '/v2/models/:id',
  '/v2/models/:id/ready',
  '/v2/models/:id/versions/1',
  '/v2/models/:id/versions/1/ready',
];
const pathFor = (route: string, id = runId) => route.replace(':id', id);

/** `value` with the base64url character at `at` changed to its neighbour in the alphabet. */
function flip(value: string, at: number): string {
  const ch = value[at];
  const next = ch === 'A' ? 'B' : 'A';
  return value.slice(0, at) + next + value.slice(at + 1);
}

/** Reads the whole body (closing streams) and returns the status. */
async function statusOf(res: Response): Promise<number> {
  await res.arrayBuffer();
  return res.status;
}

beforeAll(async () => {
  runId = (await startRun(SMALL)).id;
  otherRunId = (await startRun({ ...SMALL, seed: 22 })).id;
  await waitFor(runId);
  await waitFor(otherRunId);
  // The champion is published when the run completes: wait for version 1.
  for (let i = 0; i < 200; i++) {
    const res = await request(`/api/runs/${runId}/models`);
    if (((await res.json()) as { models: unknown[] }).models.length > 0) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('no model was published');
});

describe('reads without credentials (401)', () => {
  it('refuses the run list', async () => {
    const res = await request('/api/runs', { token: null });
    expect(res.status).toBe(401);
    expect(header(res, 'WWW-Authenticate')).toMatch(/^Bearer/);
    const body = (await res.json()) as ErrorBody;
    expect(body.error.code).toBe('unauthorized');
    expect(body.error.message).toContain('API token');
  });

  it.each(RUN_READS)('refuses GET %s', async (route) => {
    const res = await request(pathFor(route), { token: null });
    expect(res.status).toBe(401);
    expect(header(res, 'WWW-Authenticate')).toMatch(/^Bearer/);
    const body = (await res.json()) as ErrorBody | { error: string };
    // `/api` answers in the API's shape, `/v2` in the Open Inference Protocol's.
    const message = typeof body.error === 'string' ? body.error : body.error.message;
    if (typeof body.error !== 'string') expect(body.error.code).toBe('unauthorized');
    expect(message).toMatch(/API token or a share link/);
    expect(JSON.stringify(body)).not.toContain('"status"');
  });

  it('keeps health and the pages public (they hold no data)', async () => {
    expect(await statusOf(await request('/api/health', { token: null }))).toBe(200);
    expect(await statusOf(await request('/v2/health/ready', { token: null }))).toBe(200);
    const page = await request(`/runs/${runId}`, { token: null });
    expect(page.status).toBe(200);
    expect(await page.text()).not.toContain(runId);
  });
});

describe('reads with the API token (200)', () => {
  it('lists the runs', async () => {
    const res = await request('/api/runs');
    expect(res.status).toBe(200);
    const ids = ((await res.json()) as { runs: { id: string }[] }).runs.map((r) => r.id);
    expect(ids).toEqual(expect.arrayContaining([runId, otherRunId]));
  });

  it.each(RUN_READS)('GET %s', async (route) => {
    expect(await statusOf(await request(pathFor(route)))).toBe(200);
  });
});

describe('reads with a share token as Bearer', () => {
  let link: CreatedLink;
  beforeAll(async () => {
    link = await share(runId);
  });

  it.each(RUN_READS)('GET %s of its own run: 200', async (route) => {
    expect(await statusOf(await request(pathFor(route), { token: link.token }))).toBe(200);
  });

  it.each(RUN_READS)('GET %s of another run: 401', async (route) => {
    const res = await request(pathFor(route, otherRunId), { token: link.token });
    expect(res.status).toBe(401);
    expect(JSON.stringify(await res.json())).toContain('not valid for this run');
  });

  it('does not list runs (a share token is not the API token)', async () => {
    expect(await statusOf(await request('/api/runs', { token: link.token }))).toBe(401);
  });

  it('after revocation: 410 with the token, and the run id alone grants nothing', async () => {
    const revoked = await share(runId);
    // The mirror's JSON shows the run id, nothing that outlives the link.
    const mirrored = await request(`${new URL(revoked.url).pathname}/api/run`, { token: null });
    const text = await mirrored.text();
    expect(text).toContain(runId);
    expect(text).not.toContain(TOKEN);
    expect(text).not.toContain('/api/runs/');

    await request(`/api/runs/${runId}/share/${revoked.id}`, { method: 'DELETE' });
    for (const route of RUN_READS) {
      const res = await request(pathFor(route), { token: revoked.token });
      expect(res.status, route).toBe(410);
      await res.arrayBuffer();
      expect(await statusOf(await request(pathFor(route), { token: null })), route).toBe(401);
    }
    const mirror = await request(`${new URL(revoked.url).pathname}/api/run`, { token: null });
    expect(mirror.status).toBe(410);
    expect(((await mirror.json()) as ErrorBody).error.code).toBe('share_link_revoked');
  });
});

describe('the owner session cookie', () => {
  it('is set by POST /api/session with the API token: HttpOnly, SameSite=Strict, not the token', async () => {
    const res = await request('/api/session', { method: 'POST' });
    expect(res.status).toBe(204);
    const cookie = header(res, 'Set-Cookie')!;
    expect(cookie).toMatch(/^wann_session=v1\.[A-Za-z0-9_-]{22}\.\d+\.[A-Za-z0-9_-]{43}; /);
    expect(cookie).toContain('HttpOnly');
    expect(cookie).toContain('SameSite=Strict');
    expect(cookie).toContain('Path=/');
    expect(cookie).toContain(`Max-Age=${SESSION_TTL_S}`);
    expect(SESSION_TTL_S).toBe(12 * 3600);
    expect(cookie).not.toContain('Secure'); // plain http here
    expect(cookie).not.toContain(TOKEN);
    expect(header(res, 'Cache-Control')).toBe('no-store');
    // Two sessions are two different random ids.
    expect(await sessionCookie()).not.toBe(await sessionCookie());
  });

  it('is Secure over https', async () => {
    const res = await exports.default.fetch(
      new Request('https://wann.test/api/session', {
        method: 'POST',
        headers: { Authorization: `Bearer ${TOKEN}` },
      }),
    );
    expect(res.status).toBe(204);
    expect(header(res, 'Set-Cookie')).toMatch(/; Secure$/);
  });

  it.each([
    ['no header', null],
    ['a wrong token', 'nope'],
  ])('is not set with %s (401)', async (_, token) => {
    const res = await request('/api/session', { method: 'POST', token });
    expect(res.status).toBe(401);
    expect(header(res, 'Set-Cookie')).toBeNull();
  });

  it('cannot be started by a share token or by the cookie itself', async () => {
    const link = await share(runId);
    expect(await statusOf(await request('/api/session', { method: 'POST', token: link.token }))).toBe(401);
    const cookie = await sessionCookie();
    const res = await request('/api/session', { method: 'POST', token: null, headers: { Cookie: cookie } });
    expect(res.status).toBe(401);
  });

  it('grants the list and every per-run read', async () => {
    const cookie = await sessionCookie();
    const list = await request('/api/runs', { token: null, headers: { Cookie: cookie } });
    expect(list.status).toBe(200);
    expect(((await list.json()) as { runs: unknown[] }).runs.length).toBeGreaterThanOrEqual(2);
    for (const route of RUN_READS) {
      const res = await request(pathFor(route), { token: null, headers: { Cookie: `a=b; ${cookie}` } });
      expect(res.status, route).toBe(200);
      await res.arrayBuffer();
    }
    const events = await request(`/api/runs/${runId}/events?since=-1`, {
      token: null,
      headers: { Cookie: cookie },
    });
    expect(header(events, 'Content-Type')).toContain('text/event-stream');
    expect(await events.text()).toContain('event: generation');
  });

  it("authorises writes only from this site's pages (Origin), never with the cookie alone", async () => {
    const cookie = await sessionCookie();
    const writes: [string, string, unknown][] = [
      ['POST', `/api/runs/${runId}/cancel`, undefined],
      ['POST', `/api/runs/${runId}/fork`, {}],
      ['POST', '/api/runs', SMALL],
      ['POST', `/api/runs/${runId}/publish`, undefined],
      ['POST', `/api/runs/${runId}/share`, {}],
      ['DELETE', `/api/runs/${runId}/share/x`, undefined],
      ['POST', `/api/runs/${runId}/predict`, { pixels: [] }],
      ['POST', `/v2/models/${runId}/infer`, { inputs: [] }],
      ['DELETE', '/api/sessions', undefined],
    ];
    // No Origin (curl, a replayed cookie), another site, or the opaque `null` origin: 403.
    for (const origin of [undefined, 'http://evil.test', 'null', 'http://wann.test.evil.test']) {
      const headers: Record<string, string> = { Cookie: cookie, 'Content-Type': 'application/json' };
      if (origin) headers.Origin = origin;
      for (const [method, path, body] of writes) {
        const res = await request(path, {
          token: null,
          headers,
          method,
          body: body === undefined ? undefined : JSON.stringify(body),
        });
        expect(res.status, `${method} ${path} from ${origin}`).toBe(403);
        expect(((await res.json()) as ErrorBody | { error: string }).error).toSatisfy(
          (e: unknown) => typeof e === 'string' || (e as ErrorBody['error']).code === 'cross_origin',
        );
      }
    }
    // Without the cookie, the page's Origin alone is nothing: 401.
    const bare = await request(`/api/runs/${runId}/cancel`, {
      method: 'POST',
      token: null,
      headers: { Origin: 'http://wann.test' },
    });
    expect(bare.status).toBe(401);
    // Reading the owner's share links needs no Origin (a GET); a share token still cannot.
    expect(
      await statusOf(await request(`/api/runs/${runId}/share`, { token: null, headers: { Cookie: cookie } })),
    ).toBe(200);
  });

  it("authorises the pages' writes: the cookie with this site's Origin", async () => {
    const cookie = await sessionCookie();
    const page = {
      token: null,
      headers: { Cookie: cookie, Origin: 'http://wann.test', 'Content-Type': 'application/json' },
    };
    const created = await post(`/api/runs/${runId}/share`, { scope: 'view' }, page);
    expect(created.status).toBe(201);
    const link = (await created.json()) as CreatedLink;
    const revoked = await request(`/api/runs/${runId}/share/${link.id}`, { ...page, method: 'DELETE' });
    expect(revoked.status).toBe(200);
    // A finished run: the cancel is authorised, then refused as a conflict.
    expect(await statusOf(await request(`/api/runs/${runId}/cancel`, { ...page, method: 'POST' }))).toBe(409);
    const predict = await post(`/api/runs/${runId}/predict`, { pixels: [new Array(784).fill(0)] }, page);
    expect(predict.status).toBe(200);
    await predict.arrayBuffer();
  });

  it('does not override an explicit wrong Authorization header', async () => {
    const cookie = await sessionCookie();
    const res = await request(`/api/runs/${runId}`, { token: 'wrong', headers: { Cookie: cookie } });
    expect(res.status).toBe(401);
    expect(await statusOf(await request('/api/runs', { token: 'wrong', headers: { Cookie: cookie } }))).toBe(
      401,
    );
  });

  it.each([
    ['a flipped signature character', (v: string) => flip(v, v.length - 10)],
    // The last character's low bits are base64 padding: only the canonical spelling is accepted.
    ['a non-canonical last character', (v: string) => flip(v, v.length - 1)],
    ['a later expiry', (v: string) => v.replace(/\.(\d+)\./, (_, e) => `.${Number(e) + 86_400}.`)],
    ['another session id', (v: string) => v.replace(/^v1\.[A-Za-z0-9_-]{22}/, `v1.${'A'.repeat(22)}`)],
    ['the raw API token', () => TOKEN],
    ['garbage', () => 'x.y.z'],
    ['an empty value', () => ''],
  ])('refuses a tampered cookie: %s', async (_, tamper) => {
    const value = (await sessionCookie()).slice('wann_session='.length);
    const cookie = `wann_session=${tamper(value)}`;
    for (const path of ['/api/runs', `/api/runs/${runId}`]) {
      const res = await request(path, { token: null, headers: { Cookie: cookie } });
      expect(res.status, path).toBe(401);
      await res.arrayBuffer();
    }
  });

  it('refuses an expired cookie and one signed for another API token', async () => {
    const expired = await createSessionValue(env.API_TOKEN!, Date.now() - 2 * 86_400_000, 86_400);
    const foreign = await createSessionValue('another-token');
    for (const { value } of [expired, foreign]) {
      for (const path of ['/api/runs', `/api/runs/${runId}`]) {
        const res = await request(path, { token: null, headers: { Cookie: `wann_session=${value}` } });
        expect(res.status, path).toBe(401);
        await res.arrayBuffer();
      }
    }
    // A recorded session past its expiry is refused too.
    const recorded = await startSession(env, Date.now() - 2 * 86_400_000, 86_400);
    const old = await request('/api/runs', {
      token: null,
      headers: { Cookie: `wann_session=${recorded.value}` },
    });
    expect(await statusOf(old)).toBe(401);
    // A signature alone is not a session: the server must have recorded it.
    const unrecorded = await createSessionValue(env.API_TOKEN!);
    const forged = await request('/api/runs', {
      token: null,
      headers: { Cookie: `wann_session=${unrecorded.value}` },
    });
    expect(await statusOf(forged)).toBe(401);
    // The same construction, recorded and live, is accepted (the test is fair).
    const live = await startSession(env);
    const ok = await request('/api/runs', { token: null, headers: { Cookie: `wann_session=${live.value}` } });
    expect(await statusOf(ok)).toBe(200);
  });

  it('DELETE /api/session clears it', async () => {
    const res = await request('/api/session', { method: 'DELETE', token: null });
    expect(res.status).toBe(204);
    const cookie = header(res, 'Set-Cookie')!;
    expect(cookie).toMatch(/^wann_session=; Max-Age=0; Path=\/; HttpOnly; SameSite=Strict/);
  });
});

describe('over https', () => {
  const https = (path: string, init: RequestInit = {}) =>
    exports.default.fetch(new Request(`https://wann.test${path}`, init));

  it('the session cookie is `__Host-` prefixed and Secure, and only that name is honoured there', async () => {
    const res = await https('/api/session', {
      method: 'POST',
      headers: { Authorization: `Bearer ${TOKEN}` },
    });
    expect(res.status).toBe(204);
    const cookie = header(res, 'Set-Cookie')!;
    expect(cookie).toMatch(/^__Host-wann_session=v1\.[A-Za-z0-9_-]{22}\.\d+\.[A-Za-z0-9_-]{43}; /);
    expect(cookie).toContain('; Secure');
    expect(cookie).toContain('Path=/');
    expect(cookie).not.toContain('Domain');
    const pair = cookie.split(';')[0];
    expect((await https('/api/runs', { headers: { Cookie: pair } })).status).toBe(200);
    // The unprefixed name (which any plain-http page or sibling host could set) grants nothing.
    const plain = `wann_session=${pair.slice(pair.indexOf('=') + 1)}`;
    expect((await https('/api/runs', { headers: { Cookie: plain } })).status).toBe(401);
  });

  it('every answer carries HSTS over https, none over http', async () => {
    for (const path of ['/api/health', '/api/runs', '/']) {
      expect(header(await https(path), 'Strict-Transport-Security'), path).toBe(
        'max-age=31536000; includeSubDomains',
      );
      expect(header(await request(path, { token: null }), 'Strict-Transport-Security'), path).toBeNull();
    }
  });
});

describe('a weak configured API token', () => {
  it.each(['password123', 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa', 'Tr0ub4dor&3'])(
    "'%s' is refused for every use with a 503 saying why",
    async (weak) => {
      const configured = env.API_TOKEN;
      try {
        env.API_TOKEN = weak;
        const res = await post('/api/runs', SMALL, { token: weak });
        expect(res.status).toBe(503);
        expect(((await res.json()) as ErrorBody).error.message).toMatch(
          /API_TOKEN is too weak .* at least 128/,
        );
        expect((await request('/api/session', { method: 'POST', token: weak })).status).toBe(503);
      } finally {
        env.API_TOKEN = configured;
      }
    },
  );
});

describe('ending sessions', () => {
  const cookieOf = (value: string) => ({ token: null, headers: { Cookie: `wann_session=${value}` } });
  const listStatus = async (value: string) => statusOf(await request('/api/runs', cookieOf(value)));

  it('GET /api/session says whether this browser is signed in, and until when', async () => {
    const session = await startSession(env);
    const res = await request('/api/session', cookieOf(session.value));
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      signedIn: true,
      expiresAt: new Date(session.expiresAt).toISOString(),
    });
    // Not signed in is an answer, not an error (the dashboard asks on every load).
    for (const init of [{ token: null }, cookieOf(session.value.replace(/.$/, '-'))]) {
      const none = await request('/api/session', init);
      expect(none.status).toBe(200);
      expect(await none.json()).toEqual({ signedIn: false, expiresAt: null });
    }
  });

  it('signing out ends the session on the server, not only in the browser', async () => {
    const session = await startSession(env);
    expect(await listStatus(session.value)).toBe(200);
    const out = await request('/api/session', { method: 'DELETE', ...cookieOf(session.value) });
    expect(out.status).toBe(204);
    // A copy of the cookie kept elsewhere is worth nothing now.
    expect(await listStatus(session.value)).toBe(401);
    expect(await statusOf(await request(`/api/runs/${runId}`, cookieOf(session.value)))).toBe(401);
  });

  it('DELETE /api/sessions ends every session at once (API token or the pages)', async () => {
    const a = await startSession(env);
    const b = await startSession(env);
    expect(await listStatus(a.value)).toBe(200);
    expect(await listStatus(b.value)).toBe(200);
    const res = await request('/api/sessions', { method: 'DELETE' });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { ended: number }).ended).toBeGreaterThanOrEqual(2);
    expect(await listStatus(a.value)).toBe(401);
    expect(await listStatus(b.value)).toBe(401);
    // New sessions work again; the pages can end them all themselves (cookie + this site's Origin).
    const c = await startSession(env);
    const fromPage = await request('/api/sessions', {
      method: 'DELETE',
      token: null,
      headers: { Cookie: `wann_session=${c.value}`, Origin: 'http://wann.test' },
    });
    expect(fromPage.status).toBe(200);
    expect(header(fromPage, 'Set-Cookie')).toMatch(/^wann_session=; Max-Age=0;/);
    expect(await listStatus(c.value)).toBe(401);
  });

  it('needs the owner to end them: no credentials, a share token or a wrong token are refused', async () => {
    const session = await startSession(env);
    const link = await share(runId);
    for (const token of [null, link.token, 'wrong']) {
      const res = await request('/api/sessions', { method: 'DELETE', token });
      expect(res.status, String(token)).toBe(401);
      await res.arrayBuffer();
    }
    expect(await listStatus(session.value)).toBe(200);
  });
});

describe('headers on every answer', () => {
  const answers: [string, string, RequestInit & { token?: string | null }][] = [
    ['the run list', '/api/runs', {}],
    ['a run', '/api/runs/:id', {}],
    ['a 401', '/api/runs/:id', { token: null }],
    ['a 404', '/api/nothing', {}],
    ['health', '/api/health', { token: null }],
    ['the run page', '/runs/:id', { token: null }],
    ['a missing run page', '/runs/nothing', { token: null }],
    ['KServe metadata', '/v2/models/:id', {}],
    ['KServe 401', '/v2/models/:id', { token: null }],
    ['a session', '/api/session', { method: 'POST' }],
  ];

  it.each(answers)(
    '%s: CSP without inline script, nosniff, no framing, no referrer',
    async (_, route, init) => {
      const res = await request(pathFor(route), init);
      await res.arrayBuffer();
      const csp = header(res, 'Content-Security-Policy') ?? '';
      expect(csp).toContain("default-src 'none'");
      expect(csp).toContain("script-src 'self' 'wasm-unsafe-eval'");
      expect(csp).not.toContain('unsafe-inline');
      expect(csp).toContain("frame-ancestors 'none'");
      expect(header(res, 'X-Content-Type-Options')).toBe('nosniff');
      expect(header(res, 'X-Frame-Options')).toBe('DENY');
      expect(header(res, 'Referrer-Policy')).toBe('no-referrer');
    },
  );

  it('serves pages with no inline script or handler', async () => {
    const link = await share(runId);
    for (const path of [
      `/runs/${runId}`,
      new URL(link.url).pathname,
      '/runs/nothing',
      `/s/${'A'.repeat(43)}`,
    ]) {
      const html = await (await request(path, { token: null })).text();
      expect(html, path).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/i);
      expect(html, path).not.toMatch(/\son[a-z]+\s*=/i);
      expect(html, path).not.toMatch(/\sstyle\s*=/i);
    }
  });
});

describe('caching: nothing read with a credential outlives it', () => {
  let link: CreatedLink;
  beforeAll(async () => {
    link = await share(runId);
  });

  it.each(RUN_READS)('GET %s with the token, a share token and the session: no-store', async (route) => {
    const cookie = await sessionCookie();
    for (const init of [{}, { token: link.token }, { token: null, headers: { Cookie: cookie } }]) {
      const res = await request(pathFor(route), init);
      expect(res.status).toBe(200);
      expect(header(res, 'Cache-Control')).toMatch(/(^|, )no-store(,|$)/);
      expect(header(res, 'Cache-Control')).not.toMatch(/immutable|max-age|public/);
      await res.arrayBuffer();
    }
  });

  it('under a link: the run, its stream and model downloads are no-store, never immutable', async () => {
    const base = `${new URL(link.url).pathname}/api/run`;
    for (const path of [
      base,
      `${base}/generations`,
      `${base}/events?since=-1`,
      `${base}/models`,
      `${base}/models/latest/model.onnx`,
      `${base}/models/1/genome.json`,
      new URL(link.url).pathname,
    ]) {
      const res = await request(path, { token: null });
      expect(res.status, path).toBe(200);
      const cacheControl = header(res, 'Cache-Control') ?? '';
      expect(cacheControl, path).toMatch(/(^|, )no-store(,|$)/);
      expect(cacheControl, path).not.toMatch(/immutable|max-age|public/);
      await res.arrayBuffer();
    }
    const download = await request(`${base}/models/latest/model.onnx`, { token: null });
    expect(header(download, 'Cache-Control')).toBe('private, no-store');
    await download.arrayBuffer();
  });

  it('errors and refusals are no-store too', async () => {
    for (const [path, token] of [
      [`/api/runs/${runId}`, null],
      [`/api/runs/${runId}`, 'wrong'],
      [`/s/${'A'.repeat(43)}/api/run`, null],
    ] as const) {
      const res = await request(path, { token });
      expect(res.status).toBeGreaterThanOrEqual(400);
      expect(header(res, 'Cache-Control'), path).toBe('no-store');
      await res.arrayBuffer();
    }
  });
});
