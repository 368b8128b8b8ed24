/**
 * The compare page in Chromium against `npm start`'s servers: two small runs and a fork of the
 * first, started through the API, compared at `/compare?runs=…`. Checks the summary table (one row
 * per run, figures from the API), the configuration fields where the runs differ, one series per
 * run on every chart (read from what each chart was handed: `data-series`) with the fork's
 * inherited history (its parent's generations before the fork point), the hover values, the notes
 * for unreadable ids and the cap, the sign-in message for a browser without a session, the
 * security headers and a CSP-clean console. Screenshots at desktop and phone width land in
 * tests/browser/screenshots/; `UPDATE_DOCS_SCREENSHOTS=1` also writes the README's docs/compare.png.
 */
import { copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type RunResource, runStatsSchema } from '../../src/api/types';
import type { GenerationRecord } from '../../src/wann/record';
import { SECURITY_HEADERS } from '../../workers/api/security-headers';
import { type Browser, launch, ownerApi, SCREENSHOTS, shot } from './browser';

const URL_ = inject('wannUrl');
const TOKEN = inject('wannToken');
const SKIP = inject('browserSkip');
const DOCS = fileURLToPath(new URL('../../docs/', import.meta.url));

type ApiRun = RunResource;
type ApiRecord = GenerationRecord;
interface SeriesSummary {
  runId: string;
  label: string;
  kind: 'own' | 'inherited';
  points: number;
}

const CHARTS = [
  'chart-best-fitness',
  'chart-test-accuracy',
  'chart-champion-connections',
  'chart-mean-connections',
  'chart-seconds',
];
const GENERATIONS = 20;
const FORK_GENERATIONS = 32;

function api<T>(path: string, init: { method?: string; body?: unknown } = {}) {
  return ownerApi<T>(URL_, TOKEN, path, init);
}

async function finished(id: string): Promise<ApiRun> {
  await expect
    .poll(async () => (await api<ApiRun>(`/api/runs/${id}`)).body.status, { timeout: 180_000, interval: 250 })
    .toBe('completed');
  return (await api<ApiRun>(`/api/runs/${id}`)).body;
}

async function records(id: string): Promise<ApiRecord[]> {
  return (await api<{ generations: ApiRecord[] }>(`/api/runs/${id}/generations?limit=5000`)).body.generations;
}

const label = (r: ApiRun) => (r.name?.trim() ? r.name.trim() : r.id.slice(0, 8));

describe.skipIf(SKIP !== null)('compare runs in the browser', () => {
  let owner: Browser;
  let a: ApiRun;
  let b: ApiRun;
  let fork: ApiRun;
  let compareUrl = '';

  beforeAll(async () => {
    owner = await launch();
  });

  afterAll(async () => {
    await owner?.close();
  });

  it('starts two runs and a fork of the first through the API', async () => {
    const start = async (config: Record<string, unknown>) => {
      const res = await api<ApiRun>('/api/runs', { method: 'POST', body: config });
      expect(res.status, JSON.stringify(res.body)).toBe(202);
      return res.body;
    };
    const first = await start({ population: 48, generations: GENERATIONS, seed: 1 });
    const second = await start({ population: 48, generations: GENERATIONS, seed: 2, probAddNode: 0.5 });
    // Names, where the server has them (run identity); ids label the runs otherwise.
    for (const [run, name] of [
      [first, 'baseline'],
      [second, 'more nodes'],
    ] as const) {
      await api(`/api/runs/${run.id}`, { method: 'PATCH', body: { name } });
    }
    a = await finished(first.id);
    const forked = await api<ApiRun>(`/api/runs/${a.id}/fork`, {
      method: 'POST',
      body: { generations: FORK_GENERATIONS },
    });
    expect(forked.status, JSON.stringify(forked.body)).toBe(202);
    await api(`/api/runs/${forked.body.id}`, { method: 'PATCH', body: { name: 'baseline, longer' } });
    b = await finished(second.id);
    fork = await finished(forked.body.id);
    expect(fork.forkOf).toEqual({ runId: a.id, generation: GENERATIONS });

    // The owner's session cookie, as signing in on the dashboard gets it.
    const session = await owner.context.request.post(`${URL_}/api/session`, {
      headers: { Authorization: `Bearer ${TOKEN}` },
    });
    expect(session.ok()).toBe(true);
    compareUrl = `${URL_}/compare?runs=${a.id},${b.id},${fork.id}`;
  }, 480_000);

  it('shows one summary row per run with the figures the API gives', async () => {
    const { page } = owner;
    const response = await page.goto(compareUrl);
    expect(response?.status()).toBe(200);
    await page.locator('body[data-ready="true"]').waitFor({ timeout: 30_000 });
    const rows = page.locator('#compare-table tbody tr');
    expect(await rows.count()).toBe(3);
    for (const [i, run] of [a, b, fork].entries()) {
      const row = rows.nth(i);
      expect(await row.getAttribute('data-run')).toBe(run.id);
      expect(await row.locator('[data-col="run"]').textContent()).toBe(label(run));
      expect(await row.locator('[data-col="run"] a').getAttribute('href')).toBe(`/runs/${run.id}`);
      expect(await row.locator('[data-col="status"]').textContent()).toBe('completed');
      expect(await row.locator('[data-col="generations"]').textContent()).toBe(
        `${run.generations} / ${run.generations}`,
      );
      expect(await row.locator('[data-col="best-fitness"]').textContent()).toBe(run.bestFitness!.toFixed(3));
      expect(await row.locator('[data-col="champion-connections"]').textContent()).toBe(
        String(run.champion!.connections),
      );
      const own = await records(run.id);
      const seconds = own.reduce((s, r) => s + r.durationMs, 0) / own.length / 1000;
      expect(await row.locator('[data-col="mean-s-per-gen"]').textContent()).toBe(seconds.toFixed(2));
      // The test figures are the run's stats (src/api/figures.ts), the same numbers as every view.
      const stats = runStatsSchema.parse((await api<ApiRun>(`/api/runs/${run.id}`)).body.stats);
      const shown = (v: number | null) => (v === null ? '–' : `${(v * 100).toFixed(1)}%`);
      expect(await row.locator('[data-col="ensemble-test-accuracy"]').textContent()).toBe(
        shown(stats.ensembleTestAccuracy),
      );
      expect(await row.locator('[data-col="trained-test-accuracy"]').textContent()).toBe(
        shown(stats.trainedTestAccuracy),
      );
      const tested = own.filter((r) => typeof r.testAccuracy === 'number');
      expect(await row.locator('[data-col="check-test-accuracy"]').textContent()).toBe(
        shown(tested.length ? (tested[tested.length - 1].testAccuracy as number) : null),
      );
    }
    expect(await rows.nth(0).locator('[data-col="forked-from"]').textContent()).toBe('–');
    expect(await rows.nth(2).locator('[data-col="forked-from"]').textContent()).toBe(
      `${label(a)} at gen ${GENERATIONS}`,
    );
    expect(await page.textContent('#compare-state')).toBe('3 runs');
  });

  it('highlights the configuration fields where the runs differ', async () => {
    const { page } = owner;
    const differing = await page
      .locator('#compare-config tr.differs')
      .evaluateAll((rows) => rows.map((r) => (r as unknown as { dataset: { field: string } }).dataset.field));
    expect(differing.sort()).toEqual(['generations', 'probAddNode', 'seed']);
    const seed = page.locator('#compare-config tr[data-field="seed"] td');
    expect(await seed.allTextContents()).toEqual(['1', '2', '1']);
    // The others are folded away, one row each, the same in every column.
    expect(await page.textContent('#config-same-summary')).toMatch(/^\d+ fields the same in every run$/);
    expect(await page.locator('#config-same tr[data-field="population"] td').allTextContents()).toEqual([
      '48',
      '48',
      '48',
    ]);
    expect(await page.locator('#config-same tr.differs').count()).toBe(0);
    expect(await page.textContent('#config-caption')).toBe('3 fields where the runs differ (highlighted).');
  });

  it('draws a series per run on every chart, the fork prefixed with its parent up to the fork point', async () => {
    const { page } = owner;
    const [recA, recB, recF] = await Promise.all([records(a.id), records(b.id), records(fork.id)]);
    expect(recF[0].gen).toBe(GENERATIONS);
    const count = (rs: ApiRecord[], pick: (r: ApiRecord) => unknown) =>
      rs.filter((r) => typeof pick(r) === 'number').length;
    const picks: Record<string, (r: ApiRecord) => unknown> = {
      'chart-best-fitness': (r) => r.bestEverFitness,
      'chart-test-accuracy': (r) => r.testAccuracy,
      'chart-champion-connections': (r) => r.champion?.connections,
      'chart-mean-connections': (r) => r.meanConnections,
      'chart-seconds': (r) => r.durationMs,
    };
    for (const id of CHARTS) {
      const chart = page.locator(`#${id}`);
      expect(await chart.locator('canvas').count(), id).toBe(1);
      expect(await chart.getAttribute('data-last-gen')).toBe(String(FORK_GENERATIONS - 1));
      const series = JSON.parse((await chart.getAttribute('data-series')) ?? '[]') as SeriesSummary[];
      const pick = picks[id];
      expect(series, id).toEqual([
        { runId: a.id, label: label(a), kind: 'own', points: count(recA, pick) },
        { runId: b.id, label: label(b), kind: 'own', points: count(recB, pick) },
        { runId: fork.id, label: label(fork), kind: 'own', points: count(recF, pick) },
        // The parent's generations before the fork point: all of run A's.
        { runId: fork.id, label: `${label(fork)} (inherited)`, kind: 'inherited', points: count(recA, pick) },
      ]);
      // The legend names each run once (the inherited series shares the fork's entry).
      const legend = await chart.locator('.u-legend tr.u-series:visible th').allTextContents();
      expect(legend.map((t) => t.trim())).toEqual(['generation', label(a), label(b), label(fork)]);
    }
    // Dense charts always have points; the seconds chart has every generation of every run.
    expect(count(recA, picks['chart-seconds'])).toBe(GENERATIONS);
    expect(count(recF, picks['chart-seconds'])).toBe(FORK_GENERATIONS - GENERATIONS);
  });

  it('reads every run at the hovered generation, the fork from its parent before the fork point', async () => {
    const { page } = owner;
    const recA = await records(a.id);
    const chart = page.locator('#chart-best-fitness');
    const over = chart.locator('.u-over');
    await over.scrollIntoViewIfNeeded();
    const box = (await over.boundingBox())!;
    // A quarter of the way along the x axis: before the fork point (generation 20 of 0…31).
    await page.mouse.move(box.x + box.width * 0.25, box.y + box.height / 2);
    const values = async () =>
      (await chart.locator('.u-legend tr.u-series:visible td').allTextContents()).map((t) => t.trim());
    await expect.poll(async () => (await values())[0]).toMatch(/^\d+$/);
    const [gen, atA, , atFork] = await values();
    const g = Number(gen);
    expect(g).toBeLessThan(GENERATIONS);
    const expected = recA.find((r) => r.gen === g)!.bestEverFitness!.toFixed(4);
    expect(atA).toBe(expected);
    expect(atFork).toBe(`${expected} (parent)`);
    // Cursors are synced: the seconds chart shows the same generation.
    await expect
      .poll(async () =>
        (await page.locator('#chart-seconds .u-legend tr.u-series td').first().textContent())?.trim(),
      )
      .toBe(gen);
    await page.mouse.move(0, 0);
    await shot(page, 'compare-desktop');
    if (process.env.UPDATE_DOCS_SCREENSHOTS === '1') {
      mkdirSync(DOCS, { recursive: true });
      copyFileSync(join(SCREENSHOTS, 'compare-desktop.png'), join(DOCS, 'compare.png'));
    }
    expect(owner.errors).toEqual([]);
  });

  it('fits a phone screen: no page-wide horizontal scroll, charts as wide as the screen', async () => {
    const phone = await launch({ width: 390, height: 844 });
    try {
      await phone.context.request.post(`${URL_}/api/session`, {
        headers: { Authorization: `Bearer ${TOKEN}` },
      });
      await phone.page.goto(compareUrl);
      await phone.page.locator('body[data-ready="true"]').waitFor({ timeout: 30_000 });
      const sizes = (await phone.page.evaluate(
        '({ scroll: document.documentElement.scrollWidth, client: document.documentElement.clientWidth })',
      )) as { scroll: number; client: number };
      expect(sizes.scroll).toBeLessThanOrEqual(sizes.client);
      const canvas = (await phone.page.locator('#chart-best-fitness canvas').boundingBox())!;
      expect(canvas.width).toBeLessThanOrEqual(390);
      expect(canvas.width).toBeGreaterThan(250);
      await shot(phone.page, 'compare-phone');
      expect(phone.errors).toEqual([]);
    } finally {
      await phone.close();
    }
  });

  it('names runs it cannot show and caps the comparison at 8 runs', async () => {
    const { page } = owner;
    const missing = Array.from({ length: 7 }, (_, i) => `${i + 1}0000000-0000-4000-8000-000000000000`);
    await page.goto(`${URL_}/compare?runs=${a.id},not-a-run,${missing.join(',')},${b.id}`);
    await page.locator('body[data-ready="true"]').waitFor({ timeout: 30_000 });
    const notes = await page.locator('#compare-notes li').allTextContents();
    expect(notes[0]).toBe("Not run ids, left out: 'not-a-run'.");
    expect(notes[1]).toBe(
      '9 runs were asked for; the page compares at most 8 at once, so it shows the first 8.',
    );
    // The 8 shown: run A and the 7 unknown ids (run B was the 9th); each unknown id is named.
    for (const id of missing) {
      expect(notes.some((n) => n.startsWith(`Run ${id.slice(0, 8)} is not shown: no such run`))).toBe(true);
    }
    expect(await page.locator('#compare-table tbody tr').count()).toBe(1);
    expect(await page.getAttribute('#compare-table tbody tr', 'data-run')).toBe(a.id);
    expect(await page.locator('#chart-best-fitness canvas').count()).toBe(1);
    // The browser reports the 404s of the unknown runs; nothing else.
    expect(owner.errors.filter((e) => !/status of 404/.test(e))).toEqual([]);
  });

  it('tells a browser without a session to sign in, and shows nothing', async () => {
    const stranger = await launch();
    try {
      const { page } = stranger;
      const res = await page.goto(compareUrl);
      expect(res?.status()).toBe(200);
      for (const [name, value] of Object.entries(SECURITY_HEADERS)) {
        expect(res?.headers()[name.toLowerCase()], name).toBe(value);
      }
      await expect.poll(() => page.textContent('#fatal')).toContain('needs the API token');
      expect(await page.getAttribute('#fatal a', 'href')).toBe('/');
      expect(await page.locator('#compare-table tr').count()).toBe(0);
      for (const panel of ['#compare-curves', '#compare-config-panel', '#summary-note'])
        expect(await page.locator(panel).isHidden(), panel).toBe(true);
      await shot(page, 'compare-needs-token');
      expect(stranger.errors.filter((e) => !/status of 401/.test(e))).toEqual([]);
    } finally {
      await stranger.close();
    }
  });
});
