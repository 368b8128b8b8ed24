/**
 * One truth per number, in Chromium against `npm start`'s servers: a finished run with a
 * shared-weight version and a trained one shows each test figure under its own label (the trained
 * figure never as "ensemble"; the models table leaves a trained version's Ensemble cell empty),
 * "Publish the current champion" on a finished run says what happened, "New run from this config"
 * opens the start form filled with the run's config and its seed cleared, and a cancelled run's
 * time left says "cancelled". Screenshots at desktop and phone width: tests/browser/screenshots/
 * 40-… to 43-….
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { RUN_FIGURES } from '../../src/api/figures';
import type { ModelList, RunResource } from '../../src/api/types';
import { type Browser, launch, ownerApi, shot, shotOf } from './browser';

const URL_ = inject('wannUrl');
const TOKEN = inject('wannToken');
const SKIP = inject('browserSkip');

const TINY = { population: 16, generations: 3, sliceSize: 16, tournamentSize: 4, seed: 11 };
const NAME = `figures ${Date.now().toString(36)}`;

function api<T>(path: string, init: { method?: string; body?: unknown } = {}) {
  return ownerApi<T>(URL_, TOKEN, path, init);
}

const pct = (v: number) => `${(v * 100).toFixed(1)}%`;

async function signIn(b: Browser): Promise<void> {
  await b.page.goto(`${URL_}/`);
  await b.page.fill('#token', TOKEN);
  await b.page.click('#token-form button[type=submit]');
  await expect
    .poll(() => b.page.textContent('#token-state'), { timeout: 30_000 })
    .toContain('Signed in until');
}

describe.skipIf(SKIP !== null)('the test figures, publish feedback and a new run from a config', () => {
  let owner: Browser;
  let phone: Browser;
  let runId = '';

  beforeAll(async () => {
    owner = await launch();
    phone = await launch({ width: 390, height: 844 });
  });
  afterAll(async () => {
    await owner?.close();
    await phone?.close();
  });

  it('has a finished run with a shared-weight version and a trained one', async () => {
    await Promise.all([signIn(owner), signIn(phone)]);
    const started = await api<RunResource>('/api/runs', {
      method: 'POST',
      body: { ...TINY, name: NAME, tags: ['figures'] },
    });
    expect(started.status, JSON.stringify(started.body)).toBe(202);
    runId = started.body.id;
    await expect
      .poll(async () => (await api<ModelList>(`/api/runs/${runId}/models`)).body.models.length, {
        timeout: 180_000,
        interval: 500,
      })
      .toBeGreaterThan(0);
    const train = await api(`/api/runs/${runId}/models/1/train`, { method: 'POST', body: { steps: 2 } });
    expect([200, 202]).toContain(train.status);
    await expect
      .poll(
        async () =>
          (await api<ModelList>(`/api/runs/${runId}/models`)).body.models.some(
            (m) => m.variant === 'trained',
          ),
        { timeout: 180_000, interval: 1000 },
      )
      .toBe(true);
  }, 400_000);

  it('shows each figure under its own label, the trained one never as the ensemble', async () => {
    const { page, errors } = owner;
    const run = (await api<RunResource>(`/api/runs/${runId}`)).body;
    const stats = run.stats!;
    expect(stats.ensembleTestAccuracy).not.toBeNull();
    expect(stats.trainedTestAccuracy).not.toBeNull();
    await page.goto(`${URL_}/runs/${runId}`);
    await expect
      .poll(() => page.textContent('[data-fact="Best trained test accuracy"]'), { timeout: 30_000 })
      .toBe(`${pct(stats.trainedTestAccuracy!)} (v2)`);
    expect(await page.textContent('[data-fact="Best published test accuracy"]')).toBe(
      `${pct(stats.ensembleTestAccuracy!)} (v1)`,
    );
    const labels = (await page.locator('#facts dt').allTextContents()).join(' | ');
    for (const f of ['ensembleTestAccuracy', 'trainedTestAccuracy', 'checkTestAccuracy'] as const)
      expect(labels).toContain(RUN_FIGURES[f].label);
    // The models table: a trained version has no mean over weights and no ensemble.
    const ensembleColumn = 5;
    const cell = (variant: string, column: number) =>
      page.textContent(`#model-table tr[data-variant="${variant}"] td:nth-child(${column})`);
    expect(await cell('trained', ensembleColumn)).toBe('–');
    expect(await cell('trained', ensembleColumn - 1)).toBe('–');
    expect(await cell('shared', ensembleColumn)).toBe(pct(stats.ensembleTestAccuracy!));
    expect(await page.textContent('[data-fact="ETA"]')).toBe('done');
    await shot(page, '40-figures-run-page');
    expect(errors).toEqual([]);
  });

  it('"Publish the current champion" on a finished run says it is already published', async () => {
    const { page } = owner;
    await page.click('#publish');
    await expect
      .poll(() => page.textContent('#publish-note'), { timeout: 60_000 })
      .toMatch(/^The current champion \(generation \d+\) is already published as v1\.$/);
    await page.locator('#publish').scrollIntoViewIfNeeded();
    await shotOf(page, '40b-figures-publish-note');
  });

  it('"New run from this config" fills the start form, seed cleared, and starts that config', async () => {
    const { page, errors } = owner;
    await page.click('#new-run-from');
    await expect
      .poll(() => page.textContent('#start-from'), { timeout: 30_000 })
      .toContain('Filled from the config of run');
    expect(await page.inputValue('#cfg-population')).toBe('16');
    expect(await page.inputValue('#cfg-generations')).toBe('3');
    expect(await page.inputValue('#cfg-tournamentSize')).toBe('4');
    expect(await page.inputValue('#cfg-seed')).toBe('');
    expect(await page.inputValue('#start-name')).toBe(NAME);
    expect(await page.inputValue('#start-tags')).toBe('figures');
    await shot(page, '41-figures-new-run-form');
    // The form's minimum population is the server's: the browser refuses 2 before any request.
    expect(await page.getAttribute('#cfg-population', 'min')).toBe('4');
    await page.fill('#cfg-population', '2');
    await page.click('#start-submit');
    expect(
      await page.$eval(
        '#cfg-population',
        (e) => (e as unknown as { validity: { rangeUnderflow: boolean } }).validity.rangeUnderflow,
      ),
    ).toBe(true);
    expect(new URL(page.url()).pathname).toBe('/');
    await page.fill('#cfg-population', '16');
    await page.fill('#cfg-generations', '400');
    await page.click('#start-submit');
    await page.waitForURL(/\/runs\/[0-9a-f-]{36}$/, { timeout: 30_000 });
    const newId = page.url().split('/runs/')[1];
    const fresh = (await api<RunResource>(`/api/runs/${newId}`)).body;
    const { seed: _a, generations: _b, ...carried } = fresh.config;
    const {
      seed: _c,
      generations: _d,
      ...source
    } = (await api<RunResource>(`/api/runs/${runId}`)).body.config;
    expect(carried).toEqual(source);
    // The seed was not carried: the server drew one (equal to the source's by chance: 1 in 2^32).
    expect(fresh.config.seed).not.toBe(TINY.seed);
    // Cancelled, its time left says so (not "done").
    expect((await api(`/api/runs/${newId}/cancel`, { method: 'POST' })).status).toBe(200);
    await expect.poll(() => page.textContent('#status'), { timeout: 60_000 }).toBe('cancelled');
    expect(await page.textContent('[data-fact="ETA"]')).toBe('cancelled');
    expect(errors).toEqual([]);
  }, 120_000);

  it('at phone width the figures read the same', async () => {
    const { page, errors } = phone;
    await page.goto(`${URL_}/runs/${runId}`);
    await expect
      .poll(() => page.textContent('[data-fact="Best trained test accuracy"]'), { timeout: 30_000 })
      .toMatch(/^\d+\.\d% \(v2\)$/);
    await shot(page, '42-figures-run-page-phone');
    await page.goto(`${URL_}/?from=${runId}`);
    await expect
      .poll(() => page.textContent('#start-from'), { timeout: 30_000 })
      .toContain('Filled from the config of run');
    expect(await page.inputValue('#cfg-seed')).toBe('');
    await shot(page, '43-figures-new-run-form-phone');
    expect(errors).toEqual([]);
  });
});
