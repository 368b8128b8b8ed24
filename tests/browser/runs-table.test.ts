/**
 * Run identity and the runs table in Chromium against `npm start`'s servers: the owner starts a
 * named, tagged search from the dashboard, edits its name on the run page (a bad tag is marked
 * beside its field), a link holder sees the identity read-only; the dashboard's table sorts by a
 * clicked column, filters by text, tag and status, labels its test accuracy, and sends the ticked
 * runs to the compare page. Screenshots at desktop and phone width land in
 * tests/browser/screenshots/ (10-… to 14-…).
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { RunListEntry, RunResource } from '../../src/api/types';
import { type Browser, launch, shot, shotOf, signInOnDashboard } from './browser';

const URL_ = inject('wannUrl');
const TOKEN = inject('wannToken');
const SKIP = inject('browserSkip');

/** Runs of this file carry this tag, so the other files' runs on the same servers do not matter. */
const MARK = `rt-${Date.now().toString(36)}`;
/** A tag only this file's edit adds (other files' runs share the platform, and may say 'edited'). */
const EDITED = `${MARK}-edited`;
const TINY = { population: 16, generations: 3, sliceSize: 16, tournamentSize: 4 };

async function api<T>(method: string, path: string, body?: unknown): Promise<T> {
  const res = await fetch(`${URL_}${path}`, {
    method,
    headers: { Authorization: `Bearer ${TOKEN}`, 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path} → ${res.status} ${text}`);
  return JSON.parse(text) as T;
}

/** Names in the table's order. */
async function shownNames(b: Browser): Promise<string[]> {
  return b.page.locator('#runs tbody tr[data-run] td.name a').allTextContents();
}

function signIn(b: Browser): Promise<void> {
  return signInOnDashboard(b, URL_, TOKEN);
}

describe.skipIf(SKIP !== null)('run identity and the runs table', () => {
  let owner: Browser;
  const ids: Record<string, string> = {};

  beforeAll(async () => {
    owner = await launch();
  });
  afterAll(async () => {
    await owner?.close();
  });

  it('has three finished, named and tagged runs to show (started through the API)', async () => {
    for (const [name, tags, seed] of [
      ['alpha baseline', [MARK, 'baseline'], 1],
      ['beta wide', [MARK, 'wide'], 2],
      ['gamma wide', [MARK, 'wide'], 3],
    ] as const) {
      const run = await api<RunResource>('POST', '/api/runs', {
        ...TINY,
        seed,
        name,
        tags,
        notes: `seed ${seed}`,
      });
      ids[name] = run.id;
    }
    // Each publishes its model when it completes.
    await expect
      .poll(
        async () => {
          const { runs } = await api<{ runs: RunListEntry[] }>('GET', `/api/runs?tag=${MARK}`);
          return runs.filter((r) => r.status === 'completed' && r.stats.models > 0).length;
        },
        { timeout: 110_000, interval: 250 },
      )
      .toBe(3);
  });

  it('starts a named, tagged search from the dashboard form', async () => {
    const { page } = owner;
    await signIn(owner);
    await page.fill('#start-name', 'delta from the form');
    await page.fill('#start-tags', `${MARK.toUpperCase()}, Form`);
    await page.fill('#start-notes', 'started by the browser test');
    await page.fill('#cfg-population', '16');
    await page.fill('#cfg-generations', '3');
    await page.fill('#cfg-tournamentSize', '4');
    await page.fill('#cfg-seed', '4');
    await page.click('#start-submit');
    await page.waitForURL(/\/runs\/[0-9a-f-]{36}$/);
    ids['delta from the form'] = page.url().split('/').pop()!;
    await expect.poll(() => page.textContent('#run-name')).toBe('delta from the form');
    expect(await page.locator('#run-tags li').allTextContents()).toEqual([MARK, 'form']);
    expect(await page.textContent('#run-notes')).toBe('started by the browser test');
    expect(owner.errors).toEqual([]);
  });

  it('edits the identity on the run page; a bad tag is marked beside its field', async () => {
    const { page } = owner;
    await page.click('#identity-edit');
    await page.fill('#identity-name', 'delta renamed');
    await page.fill('#identity-tags', `${MARK}, form, not/ok`);
    await page.click('#identity-save');
    await page.locator('.field-error[data-field="tags"]').waitFor();
    expect(await page.textContent('.field-error[data-field="tags"]')).toContain('a-z, 0-9');
    expect(await page.getAttribute('#identity-tags', 'aria-invalid')).toBe('true');
    expect(await page.textContent('#identity-error')).toContain('Not saved');
    await shot(page, '12-run-identity-error');
    // (The browser logs the refused request itself: that is the only console error.)
    owner.errors.length = 0;

    await page.fill('#identity-tags', `${MARK}, form, ${EDITED}`);
    await page.click('#identity-save');
    await expect.poll(() => page.textContent('#run-name')).toBe('delta renamed');
    expect(await page.locator('#run-tags li').allTextContents()).toEqual([MARK, 'form', EDITED]);
    const stored = await api<RunResource>('GET', `/api/runs/${ids['delta from the form']}`);
    expect(stored).toMatchObject({ name: 'delta renamed', tags: [MARK, 'form', EDITED] });
    await page.reload();
    await expect.poll(() => page.textContent('#run-name')).toBe('delta renamed');
    await shot(page, '12-run-identity');
  });

  it('shows the identity read-only through a share link', async () => {
    const link = await api<{ url: string }>('POST', `/api/runs/${ids['beta wide']}/share`, {});
    const guest = await launch({ width: 390, height: 844 });
    try {
      await guest.page.goto(link.url);
      await expect.poll(() => guest.page.textContent('#run-name')).toBe('beta wide');
      expect(await guest.page.locator('#run-tags li').allTextContents()).toEqual([MARK, 'wide']);
      expect(await guest.page.textContent('#run-notes')).toBe('seed 2');
      expect(await guest.page.locator('#identity-edit').count()).toBe(0);
      await shotOf(guest.page.locator('#summary'), '13-shared-identity-phone');
      expect(guest.errors).toEqual([]);
    } finally {
      await guest.close();
    }
  });

  it('sorts by a clicked column, filters by text, tag and status, and labels test accuracy', async () => {
    const { page } = owner;
    await page.goto(`${URL_}/`);
    await page.fill('#filter-tag', MARK);
    await expect.poll(() => shownNames(owner)).toHaveLength(4);
    // Newest first by default.
    expect(await shownNames(owner)).toEqual(['delta renamed', 'gamma wide', 'beta wide', 'alpha baseline']);

    await page.click('#runs th button[data-sort="name"]');
    expect(await shownNames(owner)).toEqual(['alpha baseline', 'beta wide', 'delta renamed', 'gamma wide']);
    expect(await page.getAttribute('#runs th:has(button[data-sort="name"])', 'aria-sort')).toBe('ascending');
    await page.click('#runs th button[data-sort="name"]');
    expect(await shownNames(owner)).toEqual(['gamma wide', 'delta renamed', 'beta wide', 'alpha baseline']);

    // Every finished run published a shared-weight version: its cell shows the ensemble figure.
    const finished = page.locator(
      `#runs tbody tr[data-run="${ids['alpha baseline']}"] td[data-col="test-accuracy"]`,
    );
    expect(await finished.getAttribute('data-source')).toBe('ensemble');
    expect(await finished.textContent()).toMatch(/^\d+\.\d% ensemble$/);
    const model = (
      await api<{ models: { ensembleTestAccuracy: number }[] }>(
        'GET',
        `/api/runs/${ids['alpha baseline']}/models`,
      )
    ).models[0];
    expect(await finished.textContent()).toContain(`${(model.ensembleTestAccuracy * 100).toFixed(1)}%`);
    await shot(page, '10-runs-table');

    await page.fill('#filter-text', 'WIDE');
    await expect.poll(() => shownNames(owner)).toEqual(['gamma wide', 'beta wide']);
    await page.fill('#filter-text', '');
    await page.fill('#filter-tag', EDITED);
    await expect.poll(() => shownNames(owner)).toEqual(['delta renamed']);
    await page.fill('#filter-tag', MARK);
    await page.selectOption('#filter-status', 'failed');
    await expect.poll(() => page.textContent('#runs tbody')).toContain('No run matches these filters.');
    await page.selectOption('#filter-status', 'completed');
    await expect.poll(() => shownNames(owner)).toHaveLength(4);

    // A tag chip in a row filters by that tag.
    await page.click(
      `#runs tbody tr[data-run="${ids['alpha baseline']}"] td.tags button.tag:text-is("baseline")`,
    );
    await expect.poll(() => shownNames(owner)).toEqual(['alpha baseline']);
    expect(await page.inputValue('#filter-tag')).toBe('baseline');
    expect(owner.errors).toEqual([]);
  });

  it('ticks runs and opens the compare page with them', async () => {
    const { page } = owner;
    await page.click('#runs-filter button[type=reset]');
    await page.fill('#filter-tag', MARK);
    await expect.poll(() => shownNames(owner)).toHaveLength(4);
    expect(await page.isDisabled('#compare')).toBe(true);
    await page.check(`input[data-select="${ids['alpha baseline']}"]`);
    expect(await page.isDisabled('#compare')).toBe(true);
    await page.check(`input[data-select="${ids['gamma wide']}"]`);
    expect(await page.textContent('#compare')).toBe('Compare 2 runs');
    await shot(page, '10-runs-table-selected');

    const phone = await launch({ width: 390, height: 844 });
    try {
      await signIn(phone);
      await phone.page.fill('#filter-tag', MARK);
      await expect.poll(() => shownNames(phone)).toHaveLength(4);
      // The table fits the phone's width with its wide columns hidden, or scrolls inside its box.
      const page = phone.page;
      const overflow = (await page.evaluate(
        'document.documentElement.scrollWidth > window.innerWidth',
      )) as boolean;
      expect(overflow).toBe(false);
      expect(await page.locator('#runs th.wide').first().isHidden()).toBe(true);
      await shot(page, '11-runs-table-phone');
      expect(phone.errors).toEqual([]);
    } finally {
      await phone.close();
    }

    await page.click('#compare');
    await page.waitForURL(/\/compare\?runs=/);
    const url = new URL(page.url());
    expect(url.pathname).toBe('/compare');
    expect(url.searchParams.get('runs')?.split(',').sort()).toEqual(
      [ids['alpha baseline'], ids['gamma wide']].sort(),
    );
  });
});
