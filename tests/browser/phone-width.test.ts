/**
 * The runs table and the compare page at phone (375 px) and desktop (1,280 px) width, in Chromium
 * against `npm start`'s servers (issue 19 item 10). Three runs of a seed sweep share a long name
 * prefix: each row must show its seed and tags inside the window (a line under the name at phone
 * width, their columns at desktop width), the page must not scroll sideways, and the compare
 * summary, when wider than its box, must say so with a visible hint. Screenshots land in
 * tests/browser/screenshots/ (15-… and 16-…).
 */
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { RunListEntry, RunResource } from '../../src/api/types';
import { type Browser, launch, ownerApi, shot } from './browser';

const URL_ = inject('wannUrl');
const TOKEN = inject('wannToken');
const SKIP = inject('browserSkip');

/** This file's runs carry this tag, so other files' runs on the same servers do not matter. */
const MARK = `pw-${Date.now().toString(36)}`;
const TINY = { population: 16, generations: 3, sliceSize: 16, tournamentSize: 4 };
/** Long enough to be cut at phone width if names were truncated at the end. */
const NAME = 'seed sweep of the wide hidden layer';
const SEEDS = [11, 12, 13] as const;
const WIDTHS = [
  { width: 375, height: 812, label: 'phone' },
  { width: 1280, height: 900, label: 'desktop' },
] as const;

function api<T>(path: string, init: { method?: string; body?: unknown } = {}) {
  return ownerApi<T>(URL_, TOKEN, path, init);
}

async function signIn(b: Browser): Promise<void> {
  await b.page.goto(`${URL_}/`);
  await b.page.fill('#token', TOKEN);
  await b.page.click('#token-form button[type=submit]');
  await expect
    .poll(() => b.page.textContent('#token-state'), { timeout: 30_000, message: b.errors.join('\n') })
    .toContain('Signed in until');
}

/** Whether the page scrolls sideways (the window is narrower than the document). */
async function pageOverflows(page: Page): Promise<boolean> {
  return (await page.evaluate('document.documentElement.scrollWidth > window.innerWidth')) as boolean;
}

/** Whether the element with this id is wider inside than its box (its content scrolls sideways). */
async function scrollsSideways(page: Page, id: string): Promise<boolean> {
  return (await page.evaluate(
    `(() => { const e = document.getElementById(${JSON.stringify(id)}); return e.scrollWidth > e.clientWidth + 1; })()`,
  )) as boolean;
}

/**
 * The visible elements among `selector` inside `row` that lie wholly inside the window
 * horizontally, with their text.
 */
async function shownInside(page: Page, row: string, selector: string): Promise<string[]> {
  const cells = page.locator(row).locator(selector);
  const width = page.viewportSize()!.width;
  const texts: string[] = [];
  for (let i = 0; i < (await cells.count()); i++) {
    const cell = cells.nth(i);
    if (!(await cell.isVisible())) continue;
    const box = await cell.boundingBox();
    if (!box || box.x < 0 || box.x + box.width > width + 0.5) continue;
    texts.push(((await cell.textContent()) ?? '').trim());
  }
  return texts;
}

describe.skipIf(SKIP !== null)('the runs table and compare page at phone and desktop width', () => {
  const ids: string[] = [];
  let browsers: Browser[] = [];

  beforeAll(() => {
    browsers = [];
  });
  afterAll(async () => {
    for (const b of browsers) await b.close();
  });

  it('has three runs of a seed sweep, alike but for the seed', async () => {
    for (const seed of SEEDS) {
      const { body } = await api<RunResource>('/api/runs', {
        method: 'POST',
        body: { ...TINY, seed, name: NAME, tags: [MARK, `s${seed}`] },
      });
      ids.push(body.id);
    }
    await expect
      .poll(
        async () => {
          const { body } = await api<{ runs: RunListEntry[] }>(`/api/runs?tag=${MARK}`);
          return body.runs.filter((r) => r.status === 'completed').length;
        },
        { timeout: 120_000, interval: 250 },
      )
      .toBe(3);
  });

  for (const view of WIDTHS) {
    it(`shows each run's seed and tags at ${view.width} px, without the page scrolling sideways`, async () => {
      const b = await launch({ width: view.width, height: view.height });
      browsers.push(b);
      const { page } = b;
      await signIn(b);
      await page.fill('#filter-tag', MARK);
      await expect.poll(() => page.locator('#runs tbody tr[data-run]').count()).toBe(3);
      for (const [i, id] of ids.entries()) {
        const row = `#runs tbody tr[data-run="${id}"]`;
        const seed = String(SEEDS[i]);
        // At phone width the line under the name, at desktop width the Seed column: either way one
        // visible element inside the window says this row's seed.
        const seeds = await shownInside(page, row, '[data-field="seed"], td[data-col="seed"]');
        expect(seeds.map((t) => t.replace(/^seed /, ''))).toEqual([seed]);
        const tags = await shownInside(page, row, 'button.tag');
        expect(tags).toEqual([MARK, `s${seed}`]);
        // The name is shown whole (wrapped, not cut).
        const cell = page.locator(`${row} td.name`);
        expect(await cell.evaluate((td) => td.scrollWidth <= td.clientWidth + 1)).toBe(true);
        expect(await shownInside(page, row, 'td.name a')).toEqual([NAME]);
      }
      expect(await pageOverflows(page)).toBe(false);
      // The "scroll sideways" line shows exactly when the table is wider than its box.
      const wider = await scrollsSideways(page, 'runs-wrap');
      expect(await page.locator('#runs-scroll-hint').isVisible()).toBe(wider);
      await shot(page, `15-runs-table-sweep-${view.label}`);
      expect(b.errors).toEqual([]);
    });
  }

  for (const view of WIDTHS) {
    it(`compares the sweep at ${view.width} px: no sideways page, a visible cue where the summary is wider`, async () => {
      const b = await launch({ width: view.width, height: view.height });
      browsers.push(b);
      const { page } = b;
      await signIn(b);
      await page.goto(`${URL_}/compare?runs=${ids.join(',')}`);
      await page.locator('body[data-ready="true"]').waitFor({ timeout: 60_000 });
      expect(await page.locator('#compare-table tbody tr[data-run]').count()).toBe(3);
      expect(await pageOverflows(page)).toBe(false);
      const wider = await scrollsSideways(page, 'compare-wrap');
      // Three runs' summary is wider than a phone: the hint must be there and visible.
      if (view.width < 640) expect(wider).toBe(true);
      expect(await page.locator('#compare-scroll-hint').isVisible()).toBe(wider);
      if (wider) {
        const box = await page.locator('#compare-scroll-hint').boundingBox();
        expect(box!.x + box!.width).toBeLessThanOrEqual(view.width + 0.5);
      }
      await shot(page, `16-compare-sweep-${view.label}`);
      expect(b.errors).toEqual([]);
    });
  }
});
