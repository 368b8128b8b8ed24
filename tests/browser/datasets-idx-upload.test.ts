/**
 * An idx image set uploaded through the datasets page, end to end against `npm start`'s servers:
 * a pair generated here (300 grayscale images 12 wide × 10 high of three seeded patterns; the
 * labels gzipped, the images not) is sent by the page's form in its three steps with image size
 * 8x6 and class names, builds to ready while the page watches, and shows its samples at 8×6 and
 * its class names in the balance chart. A labels file picked as the images is refused in words
 * and leaves nothing listed; an upload still waiting for a file is shown pending. Then a short run on it (started over the API): its run page has the
 * draw panel at 8×6, answers a drawing with a class name, names the dataset in its configuration,
 * and, once the dataset's baseline is ready on the server, shows the same figure the API serves.
 * Screenshots at 1,280 and 375 px: tests/browser/screenshots/35-… to 39-….
 */
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { ModelList, RunResource, UploadedDataset } from '../../src/api/types';
import { Rng } from '../../src/random';
import { type Browser, drawSeven, ownerApi, shot, signedInBrowser } from './browser';

const URL_ = inject('wannUrl');
const TOKEN = inject('wannToken');

const NAME = 'browser-glyphs';
const CLASSES = ['bar', 'column', 'ring'];
const COUNT = 300;
/** The uploaded images' size, and what the network sees. */
const RAW = { width: 12, height: 10 };
const SEEN = { width: 8, height: 6 };
/** This machine may be busy (other work, other tests): waits are long, results are not timed. */
const SLOW = 240_000;

function api<T>(path: string, init: { method?: string; body?: unknown } = {}) {
  return ownerApi<T>(URL_, TOKEN, path, init);
}

/** An idx file: the magic (uint8, `dims` dimensions), each dimension big-endian, then the bytes. */
function idxFile(dims: readonly number[], body: Uint8Array): Uint8Array {
  const file = new Uint8Array(4 + 4 * dims.length + body.length);
  const view = new DataView(file.buffer);
  view.setUint32(0, 0x00000800 + dims.length);
  for (const [i, d] of dims.entries()) view.setUint32(4 + 4 * i, d);
  file.set(body, 4 + 4 * dims.length);
  return file;
}

/**
 * A horizontal bar, a vertical column or a ring, each moved by up to a pixel and on faint noise,
 * drawn white on black (as MNIST's digits); the classes take turns, 100 each. Seeded: the same
 * bytes every run.
 */
function glyphs(): { images: Buffer; labels: Buffer } {
  const rng = new Rng(18, 12, 10, 2026);
  const { width, height } = RAW;
  const pixels = new Uint8Array(COUNT * width * height);
  const labels = new Uint8Array(COUNT);
  for (let n = 0; n < COUNT; n++) {
    const c = n % CLASSES.length;
    labels[n] = c;
    const dx = rng.int(3) - 1;
    const dy = rng.int(3) - 1;
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const u = x - dx;
        const v = y - dy;
        const on =
          c === 0
            ? v >= 4 && v <= 5 && u >= 1 && u <= 10
            : c === 1
              ? u >= 5 && u <= 6 && v >= 1 && v <= 8
              : (u === 2 || u === 9 || v === 2 || v === 7) && u >= 2 && u <= 9 && v >= 2 && v <= 7;
        pixels[n * width * height + y * width + x] = on ? 200 + rng.int(56) : rng.int(30);
      }
    }
  }
  return {
    images: Buffer.from(idxFile([COUNT, height, width], pixels)),
    labels: gzipSync(idxFile([COUNT], labels)),
  };
}

function signedIn(viewport?: { width: number; height: number }): Promise<Browser> {
  return signedInBrowser(URL_, TOKEN, viewport);
}

/** The page's full width, evaluated in the page. */
const PAGE_WIDTH = 'document.documentElement.scrollWidth';

/** The parts of a canvas read in the page (this TypeScript has no DOM library). */
interface Canvas {
  width: number;
  height: number;
}
interface Term {
  textContent: string | null;
  nextElementSibling: { textContent: string | null } | null;
}

describe('an idx image set uploaded through the datasets page', () => {
  let owner: Browser;
  let runId = '';

  beforeAll(async () => {
    owner = await signedIn();
  });
  afterAll(async () => {
    await owner?.close();
  });

  it('refuses a labels file picked as the images in words, and leaves nothing behind', async () => {
    const { page } = owner;
    const { labels } = glyphs();
    await page.goto(`${URL_}/datasets`);
    await page.locator('#datasets tr[data-dataset="mnist"]').waitFor();
    await page.fill('#upload-name', `${NAME}-bad`);
    await page.selectOption('#upload-kind', 'idx');
    expect(await page.isVisible('#upload-images')).toBe(true);
    expect(await page.isHidden('#upload-file')).toBe(true);
    await page.setInputFiles('#upload-images', {
      name: 'labels.gz',
      mimeType: 'application/gzip',
      buffer: labels,
    });
    await page.setInputFiles('#upload-labels', {
      name: 'labels.gz',
      mimeType: 'application/gzip',
      buffer: labels,
    });
    // A test file makes the test fraction moot; without one it is back.
    await page.setInputFiles('#upload-test-images', {
      name: 'labels.gz',
      mimeType: 'application/gzip',
      buffer: labels,
    });
    expect(await page.isDisabled('#upload-test-fraction')).toBe(true);
    await page.setInputFiles('#upload-test-images', []);
    expect(await page.isDisabled('#upload-test-fraction')).toBe(false);
    await page.click('#upload-submit');
    await page.locator('#upload-error:not([hidden])').waitFor();
    const refused = await page.textContent('#upload-error');
    expect(refused).toContain('Not uploaded: images (labels.gz): the file or the form was refused');
    expect(refused).toMatch(/magic|labels/);
    // The server removed the refused upload whole: no pending row stays listed.
    await page.reload();
    await page.locator('#datasets tr[data-dataset="mnist"]').waitFor();
    expect(await page.locator(`#datasets tr[data-dataset="${NAME}-bad"]`).count()).toBe(0);
    expect(owner.errors.every((e) => e.includes('Failed to load resource'))).toBe(true);
    owner.errors.length = 0;
  });

  it('shows an upload still waiting for a file as pending, with what it waits for', async () => {
    const { page } = owner;
    const { labels } = glyphs();
    const pendingName = `${NAME}-pending`;
    const announced = await api<UploadedDataset>('/api/datasets', {
      method: 'POST',
      body: { name: pendingName, format: 'idx', files: ['images', 'labels'] },
    });
    expect(announced.status, JSON.stringify(announced.body)).toBe(201);
    const sent = await fetch(`${URL_}/api/datasets/${announced.body.id}/files/labels`, {
      method: 'PUT',
      headers: { Authorization: `Bearer ${TOKEN}` },
      body: labels,
    });
    expect(sent.status, await sent.clone().text()).toBe(200);
    await page.goto(`${URL_}/datasets?dataset=${pendingName}`);
    await expect.poll(() => page.textContent('#detail-name')).toBe(pendingName);
    expect(await page.getAttribute('#detail-status [data-status]', 'data-status')).toBe('pending');
    const said = await page.textContent('#detail-error');
    expect(said).toContain('Pending: announced as idx');
    expect(said).toContain('Received: labels; waiting for: images.');
    await page.click('#delete-dataset');
    await page.click('#confirm-yes');
    await expect.poll(() => page.locator(`#datasets tr[data-dataset="${pendingName}"]`).count()).toBe(0);
    expect(owner.errors).toEqual([]);
  });

  it(
    'uploads the pair at 8x6 with class names, watches it build, and shows its samples and balance',
    async () => {
      const { page } = owner;
      const { images, labels } = glyphs();
      await page.fill('#upload-name', NAME);
      await page.selectOption('#upload-kind', 'idx');
      await page.setInputFiles('#upload-images', {
        name: 'glyphs-images-idx3-ubyte',
        mimeType: 'application/octet-stream',
        buffer: images,
      });
      await page.setInputFiles('#upload-labels', {
        name: 'glyphs-labels-idx1-ubyte.gz',
        mimeType: 'application/gzip',
        buffer: labels,
      });
      await page.fill('#upload-image-size', '8x6');
      await page.fill('#upload-classes', CLASSES.join(', '));
      await page.fill('#upload-test-fraction', '0.2');
      await page.locator('#upload-panel').scrollIntoViewIfNeeded();
      await shot(page, '35-datasets-idx-form');
      await page.click('#upload-submit');
      await expect.poll(() => page.textContent('#detail-name'), { timeout: 60_000 }).toBe(NAME);
      await page
        .locator('#detail-status [data-status="ready"]')
        .waitFor({ timeout: SLOW })
        .catch(async (e) => {
          throw new Error(
            `${(e as Error).message}\n${await page.textContent('#detail')}\n${await page.textContent('#upload-panel')}\n${owner.errors.join('\n')}`,
          );
        });
      expect(await page.textContent('#upload-state')).toContain(`Uploaded as '${NAME}'`);
      await expect
        .poll(() => page.locator('.sample-grid figure.sample').count(), { timeout: 60_000 })
        .toBe(24);

      const facts = await page.textContent('#detail-facts');
      expect(facts).toContain('image');
      expect(facts).toContain('3: bar, column, ring');
      expect(facts).toContain(`${(SEEN.width * SEEN.height).toLocaleString('en-US')} (network inputs)`);
      expect(facts).toContain(`${RAW.height}×${RAW.width} (${RAW.width} wide, ${RAW.height} high;`);
      // Sizes as width × height, as typed in the form.
      expect(await page.textContent('#detail-preprocessing')).toContain(
        `resize ${RAW.width}×${RAW.height} → ${SEEN.width}×${SEEN.height}, /255 (width × height)`,
      );
      expect(await page.textContent('#samples-caption')).toContain(`${SEEN.width}×${SEEN.height} pixels`);
      // The samples as the shards keep them: 8 wide, 6 high, labelled by name.
      const sizes = await page
        .locator('canvas.sample-image')
        .evaluateAll((cs) =>
          cs.map((c) => [(c as unknown as Canvas).width, (c as unknown as Canvas).height]),
        );
      expect(new Set(sizes.map((s) => s.join('×')))).toEqual(new Set([`${SEEN.width}×${SEEN.height}`]));
      const sampleLabels = await page
        .locator('.sample-grid figure.sample')
        .evaluateAll((f) => f.map((x) => x.getAttribute('data-label')));
      expect(new Set(sampleLabels)).toEqual(new Set(CLASSES));
      // The balance chart by class name; 20 % of each class's 100 held out.
      const charted = await page
        .locator('#balance g[data-class]')
        .evaluateAll((g) => g.map((x) => x.getAttribute('data-class')));
      expect(charted).toEqual(CLASSES);
      const test = await page
        .locator('#balance rect[data-split="test"]')
        .evaluateAll((rs) => rs.map((r) => Number(r.getAttribute('data-count'))));
      expect(test).toEqual([20, 20, 20]);
      await shot(page, '36-datasets-idx-ready');

      await page.setViewportSize({ width: 375, height: 800 });
      await page.reload();
      await expect
        .poll(() => page.locator('.sample-grid figure.sample').count(), { timeout: 60_000 })
        .toBe(24);
      expect(await page.evaluate(PAGE_WIDTH)).toBeLessThanOrEqual(375);
      await shot(page, '37-datasets-idx-phone');
      await page.setViewportSize({ width: 1280, height: 900 });
      expect(owner.errors).toEqual([]);
    },
    SLOW * 2,
  );

  it(
    'runs on it: the draw panel at 8×6 answers with a class name, and the baseline matches the API',
    async () => {
      const started = await api<RunResource>('/api/runs', {
        method: 'POST',
        body: {
          dataset: NAME,
          name: 'glyphs in the browser',
          population: 32,
          generations: 3,
          sliceSize: 16,
          tournamentSize: 8,
          seed: 7,
          initEnableProb: 0.5,
          probConnectionObjective: 0,
        },
      });
      expect(started.status, JSON.stringify(started.body)).toBe(202);
      runId = started.body.id;
      await expect
        .poll(async () => (await api<RunResource>(`/api/runs/${runId}`)).body.status, {
          timeout: SLOW,
          interval: 250,
        })
        .toBe('completed');
      const published = await api(`/api/runs/${runId}/publish`, { method: 'POST' });
      expect([200, 201, 202], JSON.stringify(published.body)).toContain(published.status);
      await expect
        .poll(async () => (await api<ModelList>(`/api/runs/${runId}/models`)).body.models.length, {
          timeout: SLOW,
        })
        .toBeGreaterThan(0);

      const { page, errors } = owner;
      await page.goto(`${URL_}/runs/${runId}`);
      await expect.poll(() => page.textContent('#run-dataset')).toContain(NAME);
      await page.locator('canvas.draw').waitFor();
      expect(await page.textContent('#digit h2')).toBe('Draw an image');
      expect(await page.getAttribute('#digit-preview', 'width')).toBe(String(SEEN.width));
      expect(await page.getAttribute('#digit-preview', 'height')).toBe(String(SEEN.height));
      await expect
        .poll(() => page.textContent('#digit-state'), { timeout: 60_000 })
        .toContain('draw an image');
      await drawSeven(page);
      await expect.poll(() => page.locator('#digit-probs li').count()).toBe(CLASSES.length);
      expect(await page.locator('#digit-probs li .digit').allTextContents()).toEqual(CLASSES);
      expect(await page.textContent('#digit-vote')).toMatch(/^Vote: (bar|column|ring) \(/);
      // The configuration names the dataset (the config records the upload's id).
      const configured = await page.locator('#config-facts dt').evaluateAll((dts) =>
        dts
          .map((dt) => dt as unknown as Term)
          .filter((dt) => dt.textContent === 'dataset')
          .map((dt) => dt.nextElementSibling?.textContent),
      );
      expect(configured).toEqual([NAME]);
      expect(started.body.config.dataset).toMatch(/^u-/);
      await shot(page, '38-dataset-idx-run');

      // The baseline: computed once on the server (queued by the first read); waited for by its state.
      await expect
        .poll(
          async () => (await api<UploadedDataset>(`/api/datasets/${NAME}`)).body.dataset?.baseline?.status,
          { timeout: SLOW, interval: 500 },
        )
        .toMatch(/^(ready|failed)$/);
      const baseline = (await api<UploadedDataset>(`/api/datasets/${NAME}`)).body.dataset?.baseline;
      expect(baseline?.status, JSON.stringify(baseline)).toBe('ready');
      const figure = `${((baseline?.testAccuracy ?? Number.NaN) * 100).toFixed(2)} %`;
      // One layer: a weight per input and class, and a bias per class.
      const weights = (SEEN.width * SEEN.height + 1) * CLASSES.length;
      expect(baseline?.weights).toBe(weights);
      await page.setViewportSize({ width: 375, height: 812 });
      await page.reload();
      await expect.poll(() => page.textContent('#run-baseline'), { timeout: 60_000 }).toContain(figure);
      expect(await page.textContent('#run-baseline')).toContain(
        `softmax regression, ${weights.toLocaleString('en-US')} weights`,
      );
      expect(await page.evaluate(PAGE_WIDTH)).toBeLessThanOrEqual(375);
      await page.locator('#run-baseline').scrollIntoViewIfNeeded();
      await shot(page, '39-dataset-idx-run-phone');
      await page.setViewportSize({ width: 1280, height: 900 });
      // The compare page's configuration names the dataset too.
      await page.goto(`${URL_}/compare?runs=${runId}`);
      await page.locator('body[data-ready="true"]').waitFor();
      expect(await page.locator('#compare-config tr[data-field="dataset"] td').allTextContents()).toEqual([
        NAME,
      ]);
      expect(errors).toEqual([]);
    },
    SLOW * 3,
  );
});
