/**
 * A fork's lineage (issue 19 item 5): the fork form says generations is a total, counting the
 * generations it continues from, shows how many more and how long, and takes a name and tags; the
 * fork's page says "forked from <parent> at generation G" under its title and draws the parent's
 * history dashed on its own charts. At 1,280 and 375 px; screenshots tests/browser/screenshots/fork-*.png.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { RunResource } from '../../src/api/types';
import { type Browser, launch, ownerApi, shot, shotOf } from './browser';

const URL_ = inject('wannUrl');
const TOKEN = inject('wannToken');
const SLOW = 240_000;
const PARENT = { population: 32, sliceSize: 16, generations: 8, seed: 77, trainShards: 2 };

function api<T>(path: string, init: { method?: string; body?: unknown } = {}) {
  return ownerApi<T>(URL_, TOKEN, path, init);
}

async function signedIn(viewport: { width: number; height: number }): Promise<Browser> {
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

describe.each([
  ['desktop', { width: 1280, height: 900 }],
  ['phone', { width: 375, height: 800 }],
])('a fork and its lineage (%s)', (width, viewport) => {
  let owner: Browser;

  beforeAll(async () => {
    owner = await signedIn(viewport);
  }, 120_000);
  afterAll(async () => {
    await owner?.close();
  }, SLOW);

  it(
    'the fork form explains generations, takes name and tags, estimates; the fork page shows its parent',
    async () => {
      const { page } = owner;
      const started = await api<RunResource>('/api/runs', {
        method: 'POST',
        body: { ...PARENT, seed: PARENT.seed + viewport.width, name: `parent ${width}` },
      });
      expect(started.status, JSON.stringify(started.body)).toBe(202);
      const parentId = started.body.id;
      await page.goto(`${URL_}/runs/${parentId}`);
      await page.waitForSelector('#status.completed', { timeout: SLOW });
      // The form follows the run while closed: right as the run shows completed, not only once
      // opening it has fired its 'toggle' event (read at once after the click, it said the
      // generation the page loaded at when the renderer ran the read first).
      const help = page.locator('#fork-form .field:has(#cfg-generations) small');
      expect(await help.textContent()).toBe('total, counting the 8 it continues from');
      await page.click('#fork summary');
      expect(await help.textContent()).toBe('total, counting the 8 it continues from');
      expect(await page.inputValue('#fork-name')).toBe(`parent ${width} (fork)`);
      await page.fill('#fork-form #cfg-generations', '14');
      await page.waitForSelector('#fork-estimate:text("6 more")');
      expect(await page.textContent('#fork-estimate')).toMatch(
        /^Runs generations 8 → 14 \(6 more\); estimated time .+, likely .+ \(fitted to this run's generations\)\.$/,
      );
      await page.fill('#fork-name', `fork ${width}`);
      await page.fill('#fork-tags', 'lineage, sweep');
      await shotOf(page.locator('#fork-form'), `fork-form-${width}`);
      await Promise.all([
        page.waitForURL((u) => /^\/runs\/[0-9a-f-]{36}$/.test(u.pathname) && !u.pathname.includes(parentId)),
        page.click('#fork-form button[type="submit"]'),
      ]);
      expect(page.url()).not.toContain(parentId);
      // The parent's name once it is read (its id's first 8 characters until then).
      await page.waitForSelector(`#fork-line:not([hidden]) a#fork-parent:text("parent ${width}")`);
      expect(await page.textContent('#fork-line')).toBe(`forked from parent ${width} at generation 8`);
      expect(await page.getAttribute('#fork-parent', 'href')).toBe(`/runs/${parentId}`);
      // The parent's 8 generations, dashed, before the fork's own.
      await page.waitForSelector('#chart-fitness[data-inherited-points="8"]');
      await page.waitForSelector('#status.completed', { timeout: SLOW });
      expect(await page.getAttribute('#chart-fitness', 'data-points')).toBe('6');
      const identity = await page.textContent('#run-identity');
      expect(identity).toContain(`fork ${width}`);
      expect(identity).toContain('lineage');
      await shot(page, `fork-page-${width}`);
      expect(owner.errors).toEqual([]);
    },
    SLOW,
  );
});
