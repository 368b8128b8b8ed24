import { env } from 'cloudflare:workers';
import { Hono } from 'hono';
import { beforeAll, describe, expect, it } from 'vitest';
import type { AllShareLinks, CreatedShareLink, RevokedShareLinks } from '../../src/api/types';
import { hashShareToken, newShareToken } from '../../src/share';
import { requireRunAccess } from '../../workers/api/auth';
import { handleError } from '../../workers/api/errors';
import { type ErrorBody, header, post, request, startRun, TOKEN, waitFor } from './helpers';

const SMALL = { population: 32, generations: 2, sliceSize: 16, seed: 11, tournamentSize: 8 };

type CreatedLink = CreatedShareLink;

async function share(runId: string, body: unknown = {}): Promise<CreatedLink> {
  const res = await post(`/api/runs/${runId}/share`, body);
  if (res.status !== 201) throw new Error(`share → ${res.status} ${await res.text()}`);
  return res.json();
}

/** Path (with the leading slash) of a share URL. */
const pathOf = (url: string) => new URL(url).pathname;

let runId: string;
let otherRunId: string;

beforeAll(async () => {
  runId = (await startRun(SMALL)).id;
  otherRunId = (await startRun({ ...SMALL, seed: 12 })).id;
  await waitFor(runId);
  await waitFor(otherRunId);
});

describe('minting, listing and revoking links (owner API)', () => {
  it('mints a view link by default, expiring in 30 days, and stores only the hash', async () => {
    const before = Date.now();
    const link = await share(runId);
    expect(link.scope).toBe('view');
    expect(link.status).toBe('active');
    expect(link.url).toBe(`http://wann.test/s/${link.token}`);
    expect(link.token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const ttl = Date.parse(link.expiresAt) - before;
    expect(ttl).toBeGreaterThan(30 * 86_400_000 - 60_000);
    expect(ttl).toBeLessThanOrEqual(30 * 86_400_000 + 60_000);

    const row = await env.DB.prepare('SELECT * FROM share_links WHERE id = ?').bind(link.id).first();
    expect(row).not.toBeNull();
    expect(row!.token_hash).toBe(await hashShareToken(link.token));
    expect(JSON.stringify(row)).not.toContain(link.token);
  });

  it.each([
    [{ scope: 'view+predict', expiresIn: '7d' }, 'view+predict', 7 * 86_400_000],
    [{ expiresIn: '12h' }, 'view', 12 * 3_600_000],
    [{ expiresIn: 3600 }, 'view', 3_600_000],
  ])('honours %j', async (body, scope, ttl) => {
    const link = await share(runId, body);
    expect(link.scope).toBe(scope);
    expect(Math.abs(Date.parse(link.expiresAt) - Date.parse(link.createdAt) - ttl)).toBeLessThan(1000);
  });

  it.each([
    [{ scope: 'admin' }, 'scope'],
    [{ expiresIn: 'forever' }, 'expiresIn'],
    [{ expiresIn: '400d' }, 'expiresIn'],
    [{ expiresIn: 10 }, 'expiresIn'],
    [{ expires: '7d' }, 'expires: unknown field'],
  ])('rejects %j with 400 naming %s', async (body, field) => {
    const res = await post(`/api/runs/${runId}/share`, body);
    expect(res.status).toBe(400);
    const err = (await res.json()) as ErrorBody;
    expect(err.error.code).toBe('invalid_share');
    expect(err.error.message).toContain(field);
  });

  it('needs the API token for every owner route', async () => {
    expect((await post(`/api/runs/${runId}/share`, {}, { token: null })).status).toBe(401);
    expect((await request(`/api/runs/${runId}/share`, { token: null })).status).toBe(401);
    expect((await request(`/api/runs/${runId}/share/x`, { method: 'DELETE', token: null })).status).toBe(401);
    // A share token is not an API token.
    const link = await share(runId);
    expect((await post(`/api/runs/${runId}/share`, {}, { token: link.token })).status).toBe(401);
  });

  it('404s for a run that does not exist', async () => {
    const res = await post('/api/runs/00000000-0000-4000-8000-000000000000/share', {});
    expect(res.status).toBe(404);
    expect(((await res.json()) as ErrorBody).error.code).toBe('run_not_found');
  });

  it('lists links of one run without tokens or hashes, and revokes idempotently', async () => {
    const link = await share(runId, { scope: 'view+predict' });
    const otherLink = await share(otherRunId);
    const list = (await (await request(`/api/runs/${runId}/share`)).json()) as { links: CreatedLink[] };
    const ids = list.links.map((l) => l.id);
    expect(ids).toContain(link.id);
    expect(ids).not.toContain(otherLink.id);
    const text = JSON.stringify(list);
    expect(text).not.toContain(link.token);
    expect(text).not.toContain(await hashShareToken(link.token));

    const del = await request(`/api/runs/${runId}/share/${link.id}`, { method: 'DELETE' });
    expect(del.status).toBe(200);
    const revoked = (await del.json()) as CreatedLink;
    expect(revoked.status).toBe('revoked');
    const again = (await (
      await request(`/api/runs/${runId}/share/${link.id}`, { method: 'DELETE' })
    ).json()) as CreatedLink;
    expect(again.revokedAt).toBe(revoked.revokedAt);

    // A link of another run cannot be revoked through this run.
    const cross = await request(`/api/runs/${runId}/share/${otherLink.id}`, { method: 'DELETE' });
    expect(cross.status).toBe(404);
    expect(((await cross.json()) as ErrorBody).error.code).toBe('link_not_found');
  });
});

describe('every link of every run (GET and DELETE /api/share-links)', () => {
  it('is for the owner only: no token, or a share token, is refused', async () => {
    const link = await share(runId);
    for (const token of [null, link.token]) {
      expect((await request('/api/share-links', { token })).status).toBe(401);
      expect((await request('/api/share-links', { method: 'DELETE', token })).status).toBe(401);
    }
    // The link was not revoked by the refused call.
    expect((await request(`/s/${link.token}/api/run`, { token: null })).status).toBe(200);
    // Nor is the list reachable under a link.
    expect((await request(`/s/${link.token}/api/share-links`, { token: null })).status).toBe(404);
  });

  it('lists the links of all runs with run, scope, expiry and revocation, without tokens', async () => {
    const a = await share(runId, { scope: 'view+predict', expiresIn: '1h' });
    const b = await share(otherRunId);
    await request(`/api/runs/${otherRunId}/share/${b.id}`, { method: 'DELETE' });
    const res = await request('/api/share-links');
    expect(res.status).toBe(200);
    const { links } = (await res.json()) as AllShareLinks;
    const byId = new Map(links.map((l) => [l.id, l]));
    expect(byId.get(a.id)).toMatchObject({ runId, scope: 'view+predict', status: 'active', revokedAt: null });
    expect(byId.get(a.id)?.expiresAt).toBe(a.expiresAt);
    expect(byId.get(b.id)).toMatchObject({ runId: otherRunId, scope: 'view', status: 'revoked' });
    const text = JSON.stringify(links);
    expect(text).not.toContain(a.token);
    expect(text).not.toContain(await hashShareToken(a.token));
  });

  it('revokes every link of every run at once and says how many', async () => {
    const links = [await share(runId), await share(runId), await share(otherRunId)];
    const already = await share(otherRunId);
    await request(`/api/runs/${otherRunId}/share/${already.id}`, { method: 'DELETE' });
    const before = (await (await request('/api/share-links')).json()) as AllShareLinks;
    const unrevoked = before.links.filter((l) => l.revokedAt === null).length;
    expect(unrevoked).toBeGreaterThanOrEqual(links.length);

    const res = await request('/api/share-links', { method: 'DELETE' });
    expect(res.status).toBe(200);
    expect((await res.json()) as RevokedShareLinks).toEqual({ revoked: unrevoked });
    for (const link of links) {
      expect((await request(`/s/${link.token}/api/run`, { token: null })).status).toBe(410);
    }
    const after = (await (await request('/api/share-links')).json()) as AllShareLinks;
    expect(after.links.every((l) => l.status === 'revoked')).toBe(true);
    // The first revocation time of a link revoked before is kept; a second call revokes nothing.
    expect(after.links.find((l) => l.id === already.id)?.revokedAt).toBe(
      before.links.find((l) => l.id === already.id)?.revokedAt,
    );
    expect(await (await request('/api/share-links', { method: 'DELETE' })).json()).toEqual({ revoked: 0 });
  });
});

describe('holding a link: /s/{token}', () => {
  it('serves the run page without credentials, marked no-referrer and no-store', async () => {
    const link = await share(runId);
    const res = await request(pathOf(link.url), { token: null });
    expect(res.status).toBe(200);
    expect(header(res, 'Content-Type')).toContain('text/html');
    expect(header(res, 'Referrer-Policy')).toBe('no-referrer');
    expect(header(res, 'Cache-Control')).toBe('no-store');
    const html = await res.text();
    expect(html).toContain('/build/run.js');
  });

  it('mirrors the run read-only, with links rewritten to the token and no write links', async () => {
    const link = await share(runId);
    const base = `${pathOf(link.url)}/api/run`;
    const res = await request(base, { token: null });
    expect(res.status).toBe(200);
    const run = (await res.json()) as { id: string; status: string; urls: Record<string, string> };
    expect(run.id).toBe(runId);
    expect(run.status).toBe('completed');
    expect(run.urls.self).toBe(`http://wann.test${base}`);
    expect(run.urls.events).toBe(`http://wann.test${base}/events`);
    expect(run.urls.page).toBe(link.url);
    expect(run.urls.cancel).toBeUndefined();
    expect(run.urls.fork).toBeUndefined();
    expect(JSON.stringify(run)).not.toContain('/api/runs/');

    const gens = (await (await request(`${base}/generations`, { token: null })).json()) as {
      generations: { gen: number }[];
    };
    expect(gens.generations.map((g) => g.gen)).toEqual([0, 1]);

    const csv = await request(`${base}/generations`, { token: null, headers: { Accept: 'text/csv' } });
    expect(header(csv, 'Content-Type')).toContain('text/csv');
    expect((await csv.text()).trim().split('\n')).toHaveLength(3);

    const champion = (await (await request(`${base}/champion`, { token: null })).json()) as {
      format: string;
    };
    expect(champion.format).toBe('wann-genome/1');

    const events = await request(`${base}/events?since=-1`, { token: null });
    expect(header(events, 'Content-Type')).toContain('text/event-stream');
    const stream = await events.text();
    expect(stream).toContain('event: generation');
    expect(stream).toContain('event: status');
  });

  it('refuses writes through the link (403) and unknown paths (404)', async () => {
    const link = await share(runId, { scope: 'view+predict' });
    const base = `${pathOf(link.url)}/api/run`;
    for (const action of ['cancel', 'fork', 'publish', 'share']) {
      const res = await post(`${base}/${action}`, {}, { token: null });
      expect(res.status).toBe(403);
      expect(((await res.json()) as ErrorBody).error.code).toBe('read_only');
    }
    expect((await request(`${base}/../../../api/runs`, { token: null })).status).toBe(404);
    expect((await request(`${pathOf(link.url)}/api/runs`, { token: null })).status).toBe(404);
    expect((await request(`${base}/nothing`, { token: null })).status).toBe(404);
  });

  it('refuses predictions for a view-only link (403)', async () => {
    const link = await share(runId, { scope: 'view' });
    const res = await post(`${pathOf(link.url)}/api/run/predict`, { pixels: [] }, { token: null });
    expect(res.status).toBe(403);
    expect(((await res.json()) as ErrorBody).error.code).toBe('forbidden');
  });

  it('answers every wrong token with the same 404 that names no run', async () => {
    const bodies = new Set<string>();
    for (const token of [newShareToken(), 'short', `${newShareToken()}x`, '..x', 'A'.repeat(43)]) {
      for (const path of [`/s/${token}`, `/s/${token}/api/run`, `/s/${token}/api/run/champion`]) {
        const res = await request(path, { token: null });
        expect(res.status, path).toBe(404);
        const text = await res.text();
        expect(text).not.toContain(runId);
        bodies.add(`${path.endsWith(token) ? 'page' : 'json'}:${text}`);
      }
    }
    // One HTML answer and one JSON answer, whatever the token or path.
    expect(bodies.size).toBe(2);
  });

  it('stops working once revoked: 410 for the page and the JSON', async () => {
    const link = await share(runId);
    expect((await request(`${pathOf(link.url)}/api/run`, { token: null })).status).toBe(200);
    await request(`/api/runs/${runId}/share/${link.id}`, { method: 'DELETE' });
    const page = await request(pathOf(link.url), { token: null });
    expect(page.status).toBe(410);
    expect(await page.text()).toContain('revoked');
    const json = await request(`${pathOf(link.url)}/api/run`, { token: null });
    expect(json.status).toBe(410);
    expect(((await json.json()) as ErrorBody).error.code).toBe('share_link_revoked');
  });

  it('stops working once expired: 410', async () => {
    const link = await share(runId);
    await env.DB.prepare('UPDATE share_links SET expires_at = ? WHERE id = ?')
      .bind(Date.now() - 1, link.id)
      .run();
    const page = await request(pathOf(link.url), { token: null });
    expect(page.status).toBe(410);
    expect(await page.text()).toContain('expired');
    const json = await request(`${pathOf(link.url)}/api/run/generations`, { token: null });
    expect(json.status).toBe(410);
    expect(((await json.json()) as ErrorBody).error.code).toBe('share_link_expired');
  });
});

describe('requireRunAccess (the check every per-run read and prediction uses)', () => {
  const probe = new Hono<{ Bindings: typeof env }>()
    .get('/runs/:id/view', requireRunAccess('view'), (c) => c.text('ok'))
    .post('/runs/:id/predict', requireRunAccess('predict'), (c) => c.text('ok'))
    .post('/v2/models/:model/infer', requireRunAccess('predict', 'model'), (c) => c.text('ok'));
  probe.onError(handleError);
  const call = (method: string, path: string, token?: string) =>
    probe.request(path, { method, headers: token ? { Authorization: `Bearer ${token}` } : {} }, env);

  it('lets the owner do everything and nobody without credentials do anything', async () => {
    expect((await call('POST', `/runs/${runId}/predict`, TOKEN)).status).toBe(200);
    expect((await call('GET', `/runs/${runId}/view`, TOKEN)).status).toBe(200);
    for (const [method, path] of [
      ['GET', `/runs/${runId}/view`],
      ['POST', `/runs/${runId}/predict`],
    ]) {
      const res = await call(method, path);
      expect(res.status, path).toBe(401);
      expect(header(res, 'WWW-Authenticate')).toMatch(/^Bearer/);
      expect(((await res.json()) as ErrorBody).error.code).toBe('unauthorized');
    }
  });

  it('accepts a share token for its own run and scope only', async () => {
    const view = await share(runId, { scope: 'view' });
    const predict = await share(runId, { scope: 'view+predict' });
    expect((await call('GET', `/runs/${runId}/view`, view.token)).status).toBe(200);
    expect((await call('POST', `/runs/${runId}/predict`, view.token)).status).toBe(403);
    expect((await call('POST', `/runs/${runId}/predict`, predict.token)).status).toBe(200);
    expect((await call('POST', `/v2/models/${runId}/infer`, predict.token)).status).toBe(200);
    // Another run, an unknown token, garbage: the same 401.
    for (const token of [predict.token.replace(/^./, (c) => (c === 'A' ? 'B' : 'A')), 'garbage']) {
      expect((await call('POST', `/runs/${runId}/predict`, token)).status).toBe(401);
    }
    expect((await call('POST', `/runs/${otherRunId}/predict`, predict.token)).status).toBe(401);
    expect((await call('GET', `/runs/${otherRunId}/view`, predict.token)).status).toBe(401);
  });

  it('gives 410 for a revoked share token', async () => {
    const link = await share(runId, { scope: 'view+predict' });
    await request(`/api/runs/${runId}/share/${link.id}`, { method: 'DELETE' });
    expect((await call('POST', `/runs/${runId}/predict`, link.token)).status).toBe(410);
  });
});

describe('published models and predictions through a link', () => {
  const pixels = [Array.from({ length: 784 }, (_, i) => (i % 28 > 10 && i % 28 < 16 ? 1 : 0))];

  it('lists models with download links under the token, and serves the ONNX file', async () => {
    const link = await share(runId);
    const base = `${pathOf(link.url)}/api/run`;
    const res = await request(`${base}/models`, { token: null });
    expect(res.status).toBe(200);
    const { models } = (await res.json()) as { models: { version: number; urls: Record<string, string> }[] };
    expect(models.length).toBeGreaterThan(0);
    expect(models[0].urls.onnx).toBe(`http://wann.test${base}/models/${models[0].version}/model.onnx`);
    const onnx = await request(pathOf(models[0].urls.onnx), { token: null });
    expect(onnx.status).toBe(200);
    expect((await onnx.arrayBuffer()).byteLength).toBeGreaterThan(100);
    const latest = await request(`${base}/models/latest/genome.json`, { token: null });
    expect(((await latest.json()) as { format: string }).format).toBe('wann-genome/1');
  });

  it('answers predictions for a view+predict link, by path or as a Bearer token', async () => {
    const link = await share(runId, { scope: 'view+predict' });
    const byPath = await post(`${pathOf(link.url)}/api/run/predict`, { pixels, top_k: 10 }, { token: null });
    expect(byPath.status).toBe(200);
    const body = (await byPath.json()) as { predictions: { label: number; score: number }[][] };
    expect(body.predictions[0]).toHaveLength(10);
    expect(body.predictions[0].reduce((s, p) => s + p.score, 0)).toBeCloseTo(1, 4);

    const byBearer = await post(`/api/runs/${runId}/predict`, { pixels, top_k: 10 }, { token: link.token });
    expect(byBearer.status).toBe(200);
    expect(await byBearer.json()).toEqual(body);

    const viewOnly = await share(runId, { scope: 'view' });
    expect((await post(`/api/runs/${runId}/predict`, { pixels }, { token: viewOnly.token })).status).toBe(
      403,
    );
    expect((await post(`/api/runs/${otherRunId}/predict`, { pixels }, { token: link.token })).status).toBe(
      401,
    );
  });
});
