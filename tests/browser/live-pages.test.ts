/**
 * Open pages hear what happens elsewhere, by events (issue 19 items 3 and 6): the dashboard shows a
 * run started through the API as running, then completed, with no list poll; a finished run's page
 * shows a training started through the API (the CLI's path) moving and its trained version appearing
 * without a reload; a guest's page whose share link is revoked says so, stops the ETA and disables
 * downloads. At 1,280 and 375 px; screenshots in tests/browser/screenshots/live-*.png.
 */
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { ModelResource, RunResource } from '../../src/api/types';
import { type Browser, drawSeven, launch, ownerApi, shot } from './browser';

const URL_ = inject('wannUrl');
const TOKEN = inject('wannToken');
/** This machine may be busy: waits are long, results are not timed. */
const SLOW = 240_000;
/** Short: done in seconds, so a list read every ~15 s would never have shown it running. */
const SHORT = { population: 32, sliceSize: 16, generations: 12, seed: 91, trainShards: 2 };

function api<T>(path: string, init: { method?: string; body?: unknown } = {}) {
  return ownerApi<T>(URL_, TOKEN, path, init);
}

async function signedIn(viewport?: { width: number; height: number }): Promise<Browser> {
  const b = await launch(viewport);
  const session = await b.context.request.post(`${URL_}/api/session`, {
    headers: { Authorization: `Bearer ${TOKEN}` },
    timeout: 90_000,
  });
  expect(session.ok(), `POST /api/session: ${session.status()}`).toBe(true);
  b.page.setDefaultNavigationTimeout(90_000);
  b.page.setDefaultTimeout(60_000);
  return b;
}

/**
 * Records, in the page, every status each run's row shows, as the DOM changes (a MutationObserver:
 * no timer). A script string: this project's test TypeScript has no DOM library.
 */
const RECORD_ROW_STATUSES = `(() => {
  const seen = {};
  window.statusesSeen = seen;
  const note = () => {
    for (const row of document.querySelectorAll('tr[data-run]')) {
      const id = row.dataset.run;
      const status = row.querySelector('.status')?.textContent ?? '';
      if (!seen[id]) seen[id] = [];
      const list = seen[id];
      if (list[list.length - 1] !== status) list.push(status);
    }
  };
  new MutationObserver(note).observe(document.body, { childList: true, subtree: true, characterData: true });
  note();
})()`;

const statusesOf = async (page: Page, id: string): Promise<string[]> =>
  (await page.evaluate(`window.statusesSeen[${JSON.stringify(id)}] ?? []`)) as string[];

describe.each([
  ['desktop', { width: 1280, height: 900 }],
  ['phone', { width: 375, height: 800 }],
])('live pages (%s)', (width, viewport) => {
  let owner: Browser;
  let runId = '';
  let listReads = 0;

  beforeAll(async () => {
    owner = await signedIn(viewport);
  }, 120_000);
  afterAll(async () => {
    await owner?.close();
  }, SLOW);

  it(
    'the dashboard shows a run started elsewhere as running, then completed',
    async () => {
      const { page } = owner;
      await page.goto(`${URL_}/`);
      await page.waitForSelector('#runs-live:text("live")');
      await page.evaluate(RECORD_ROW_STATUSES);
      page.on('request', (r) => {
        if (new URL(r.url()).pathname === '/api/runs') listReads++;
      });
      const before = listReads;
      const started = await api<RunResource>('/api/runs', {
        method: 'POST',
        body: { ...SHORT, seed: SHORT.seed + viewport.width },
      });
      expect(started.status, JSON.stringify(started.body)).toBe(202);
      runId = started.body.id;
      await page.waitForSelector(`tr[data-run="${runId}"] .status.completed`, { timeout: SLOW });
      const statuses = await statusesOf(page, runId);
      expect(statuses).toContain('running');
      expect(statuses.indexOf('running')).toBeLessThan(statuses.indexOf('completed'));
      // The list was read because something happened (a new run, a status change), not on a timer:
      // a handful of reads for a dozen generations.
      expect(listReads - before).toBeGreaterThan(0);
      expect(listReads - before).toBeLessThanOrEqual(6);
      await shot(page, `live-dashboard-${width}`);
      expect(owner.errors).toEqual([]);
    },
    SLOW,
  );

  it(
    "a finished run's page shows a training started through the API, its trained version in the draw panel, answers naming their model",
    async () => {
      const { page } = owner;
      await page.goto(`${URL_}/runs/${runId}`);
      await page.waitForSelector('tr[data-version="1"]', { timeout: SLOW });
      expect(await page.textContent('#status')).toBe('completed');
      // Every explanation of the summary opens inside the window (issue 19 item 10).
      const infos = page.locator('#facts button.info');
      for (let i = 0; i < (await infos.count()); i++) {
        await infos.nth(i).click();
        const box = await page.locator('#facts .info-text:not([hidden])').boundingBox();
        expect(box).not.toBeNull();
        expect(box!.x).toBeGreaterThanOrEqual(0);
        expect(box!.x + box!.width).toBeLessThanOrEqual(viewport.width);
        await infos.nth(i).click();
      }
      const trained = await api<ModelResource>(`/api/runs/${runId}/models/1/train`, {
        method: 'POST',
        body: { steps: 60, stepsPerInvocation: 20 },
      });
      expect(trained.status, JSON.stringify(trained.body)).toBe(202);
      await page.waitForSelector('tr[data-variant="trained"]', { timeout: SLOW });
      // The draw panel offers the trained version too (newest first), and every answer names its model.
      await page.waitForSelector('#digit-version option[value="2"]', { state: 'attached' });
      expect(await page.inputValue('#digit-version')).toBe('2');
      await expect.poll(() => page.textContent('#digit-state'), { timeout: 60_000 }).toContain('Model ready');
      await drawSeven(page);
      await page.waitForSelector('#digit-vote:text("by v2")');
      expect(await page.textContent('#digit-vote')).toMatch(
        /^Answer: \d, by v2 \(trained weights, from v1\)$/,
      );
      await page.click('text=Ask the server too');
      await page.waitForSelector('#digit-server:text("answered by")');
      expect(await page.textContent('#digit-server')).toMatch(
        /, answered by v2 \(trained weights, from v1\)$/,
      );
      await page.selectOption('#digit-version', '1');
      await expect.poll(() => page.textContent('#digit-state'), { timeout: 60_000 }).toContain('Model ready');
      await drawSeven(page);
      await page.waitForSelector('#digit-vote:text("by v1")');
      expect(await page.textContent('#digit-vote')).toMatch(
        / of 6 weights\), by v1 \(shared weights, ensemble\)$/,
      );
      await shot(page, `live-run-trained-${width}`);
      expect(owner.errors).toEqual([]);
    },
    SLOW,
  );

  it(
    "a guest's page says a revoked link ended access, stops the ETA and disables downloads",
    async () => {
      const link = await api<{ id: string; url: string }>(`/api/runs/${runId}/share`, {
        method: 'POST',
        body: { scope: 'view' },
      });
      expect(link.status).toBe(201);
      const guest = await launch(viewport);
      try {
        const { page } = guest;
        page.setDefaultTimeout(60_000);
        await page.goto(link.body.url);
        await page.waitForSelector('#downloads button[data-download]');
        expect(await page.textContent('#mode')).toMatch(/^shared view/);
        const revoked = await api(`/api/runs/${runId}/share/${link.body.id}`, { method: 'DELETE' });
        expect(revoked.status).toBeLessThan(300);
        await page.waitForSelector('#access-ended:not([hidden])');
        expect(await page.textContent('#access-ended')).toMatch(/revoked/);
        expect(await page.getAttribute('#access-ended', 'data-code')).toBe('share_link_revoked');
        expect(await page.textContent('[data-fact="ETA"]')).toBe('stopped: access ended');
        expect(await page.textContent('#mode')).toBe('shared view, revoked');
        const buttons = await page.$$eval('#downloads button', (bs) =>
          bs.map((b) => (b as unknown as { disabled: boolean }).disabled),
        );
        expect(buttons.length).toBeGreaterThan(0);
        expect(buttons.every(Boolean)).toBe(true);
        await shot(page, `live-revoked-${width}`);
      } finally {
        await guest.close();
      }
    },
    SLOW,
  );
});
