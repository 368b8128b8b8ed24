/**
 * The datasets page in Chromium against `npm start`'s servers: MNIST is listed with its class
 * balance and a grid of sample images; a CSV generated here is uploaded through the page's form,
 * builds to ready while the page watches, and shows its class balance and raw sample rows (each
 * one a row of the file); a ragged CSV shows the server's 400 in words; an upload is deleted after
 * a confirm. Screenshots at desktop and phone width land in tests/browser/screenshots/ (30-… to 33-…).
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type Browser, launch, shot, signInOnDashboard } from './browser';

const URL_ = inject('wannUrl');
const TOKEN = inject('wannToken');
const SKIP = inject('browserSkip');

/** Names of this file's uploads (the platform is shared with other files). */
const NAME = `dp-${Date.now().toString(36)}`;
const CLASSES = ['setosa', 'versicolor', 'virginica'];
/** Rows per class in the file: unbalanced, so the chart has something to show. */
const PER_CLASS = [80, 50, 30];

/** A table of 4 features on different scales with word labels in the last column. */
function table(): { csv: string; rows: Map<string, string> } {
  const rows = new Map<string, string>();
  const lines = ['sepal_mm,width_cm,weight_g,score,species'];
  for (const [c, n] of PER_CLASS.entries()) {
    for (let i = 0; i < n; i++) {
      const noise = (k: number) => ((i * 31 + k * 7 + c * 3) % 17) / 17;
      const values = [
        Number((40 + 10 * c + 5 * noise(0)).toFixed(1)),
        Number((2 + c + noise(1)).toFixed(2)),
        Math.round(100 * (c + 1) + 40 * noise(2)),
        Number((0.01 * (c + noise(3))).toFixed(4)),
      ];
      rows.set(values.join(','), CLASSES[c]);
      lines.push([...values, CLASSES[c]].join(','));
    }
  }
  return { csv: `${lines.join('\n')}\n`, rows };
}

function signIn(b: Browser): Promise<void> {
  return signInOnDashboard(b, URL_, TOKEN);
}

/** The counts the balance chart drew for one split, by class. */
async function drawnCounts(b: Browser, split: 'train' | 'test'): Promise<number[]> {
  const values = await b.page
    .locator(`#balance rect[data-split="${split}"]`)
    .evaluateAll((rects) => rects.map((r) => Number(r.getAttribute('data-count'))));
  return values;
}

const sum = (v: number[]) => v.reduce((a, b) => a + b, 0);

/** The page's full width, evaluated in the page. */
const PAGE_WIDTH = 'document.documentElement.scrollWidth';

/** The parts of DOM elements read in the page (this TypeScript has no DOM library). */
interface Canvas {
  width: number;
  height: number;
  getContext(kind: '2d'): {
    getImageData(x: number, y: number, w: number, h: number): { data: Uint8ClampedArray };
  };
}
interface Cells {
  querySelectorAll(selector: string): ArrayLike<{ textContent: string | null }>;
}

describe.skipIf(SKIP !== null)('the datasets page', () => {
  let owner: Browser;

  beforeAll(async () => {
    owner = await launch();
  });
  afterAll(async () => {
    await owner?.close();
  });

  it('is linked from the dashboard and lists mnist with its class balance and a grid of samples', async () => {
    const { page } = owner;
    await signIn(owner);
    await page.click('header.top a[href="/datasets"]');
    await page.waitForURL(/\/datasets$/);
    await page.locator('#datasets tr[data-dataset="mnist"]').waitFor();
    await page.click('#datasets tr[data-dataset="mnist"] a');
    await expect.poll(() => page.locator('.sample-grid figure.sample').count(), { timeout: 60_000 }).toBe(24);
    // The first ten samples are one of each digit.
    const labels = await page
      .locator('.sample-grid figure.sample')
      .evaluateAll((f) => f.map((x) => x.getAttribute('data-label')));
    expect(new Set(labels.slice(0, 10))).toEqual(new Set(['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']));
    // The canvases are the shards' 16×16 images, not blank.
    const inked = await page
      .locator('canvas.sample-image')
      .first()
      .evaluate((c) => {
        // (Runs in the page; this project's test TypeScript has no DOM types.)
        const canvas = c as unknown as Canvas;
        const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
        let on = 0;
        for (let i = 0; i < data.length; i += 4) if (data[i] > 128) on++;
        return { width: canvas.width, height: canvas.height, on };
      });
    expect(inked.width).toBe(16);
    expect(inked.height).toBe(16);
    expect(inked.on).toBeGreaterThan(10);
    expect(await page.textContent('#samples-caption')).toContain('not stored');
    expect(sum(await drawnCounts(owner, 'train'))).toBe(60_000);
    expect(sum(await drawnCounts(owner, 'test'))).toBe(10_000);
    expect(await page.textContent('#detail-preprocessing')).toContain('resize 28×28 → 16×16, deskew, /255');
    await shot(page, '30-datasets-mnist');
    expect(owner.errors).toEqual([]);
  });

  it('uploads a CSV through the form, watches it build, and shows its balance and raw rows', async () => {
    const { page } = owner;
    const { csv, rows } = table();
    await page.fill('#upload-name', NAME);
    await page.setInputFiles('#upload-file', {
      name: 'iris-like.csv',
      mimeType: 'text/csv',
      buffer: Buffer.from(csv),
    });
    await page.fill('#upload-label', 'species');
    await page.fill('#upload-test-fraction', '0.2');
    await page.click('#upload-submit');
    await expect.poll(() => page.textContent('#detail-name')).toBe(NAME);
    expect(page.url()).toContain(`dataset=${NAME}`);
    await page
      .locator('#detail-status [data-status="ready"]')
      .waitFor({ timeout: 60_000 })
      .catch(async (e) => {
        throw new Error(
          `${(e as Error).message}\n${await page.textContent('#detail')}\n${owner.errors.join('\n')}`,
        );
      });
    await expect.poll(() => page.locator('#sample-rows tbody tr').count(), { timeout: 30_000 }).toBe(24);

    // The header row names the file's columns.
    expect(await page.locator('#sample-rows thead th').allTextContents()).toEqual([
      'class',
      'sepal_mm',
      'width_cm',
      'weight_g',
      'score',
    ]);
    const facts = await page.textContent('#detail-facts');
    expect(facts).toContain('tabular');
    expect(facts).toContain('setosa, versicolor, virginica');
    expect(await page.textContent('#detail-preprocessing')).toContain(
      "training split's mean and standard deviation",
    );
    // 20 % of every class held out.
    const train = await drawnCounts(owner, 'train');
    const test = await drawnCounts(owner, 'test');
    expect(test).toEqual(PER_CLASS.map((n) => Math.round(n * 0.2)));
    expect(train.map((n, c) => n + test[c])).toEqual(PER_CLASS);
    expect(await page.textContent(`#datasets tr[data-dataset="${NAME}"] td[data-col="rows"]`)).toBe(
      `${sum(train)} / ${sum(test)}`,
    );

    // Every row shown is a row of the file as written (raw values, not standardised), with its class.
    const shown = await page
      .locator('#sample-rows tbody tr')
      .evaluateAll((trs) =>
        trs.map((tr) =>
          Array.from((tr as unknown as Cells).querySelectorAll('td'), (td) => td.textContent ?? ''),
        ),
      );
    for (const [label, ...values] of shown) expect(rows.get(values.join(',')), values.join(',')).toBe(label);
    expect(new Set(shown.slice(0, 3).map((r) => r[0]))).toEqual(new Set(CLASSES));
    await shot(page, '31-datasets-upload-ready');

    await page.setViewportSize({ width: 375, height: 800 });
    await page.reload();
    await expect.poll(() => page.locator('#sample-rows tbody tr').count(), { timeout: 30_000 }).toBe(24);
    // Nothing but the tables (which scroll inside their frames) is wider than the phone.
    expect(await page.evaluate(PAGE_WIDTH)).toBeLessThanOrEqual(375);
    await shot(page, '32-datasets-upload-phone');
    await page.click('#datasets tr[data-dataset="mnist"] a');
    await expect.poll(() => page.locator('.sample-grid figure.sample').count(), { timeout: 30_000 }).toBe(24);
    expect(await page.evaluate(PAGE_WIDTH)).toBeLessThanOrEqual(375);
    await shot(page, '33-datasets-mnist-phone');
    await page.setViewportSize({ width: 1280, height: 900 });
    expect(owner.errors).toEqual([]);
  });

  it("shows the server's 400 for a ragged CSV, and its 409 for the same name again", async () => {
    const { page } = owner;
    await page.fill('#upload-name', `${NAME}-bad`);
    await page.setInputFiles('#upload-file', {
      name: 'bad.csv',
      mimeType: 'text/csv',
      buffer: Buffer.from('a,b,label\n1,2,x\n3,y\n5,6,z\n'),
    });
    await page.click('#upload-submit');
    await page.locator('#upload-error:not([hidden])').waitFor();
    const bad = await page.textContent('#upload-error');
    expect(bad).toContain('Not uploaded: the file or the form was refused');
    expect(bad).toContain('data row 2 (line 3): ragged row');

    await page.fill('#upload-name', NAME);
    await page.setInputFiles('#upload-file', {
      name: 'other.csv',
      mimeType: 'text/csv',
      buffer: Buffer.from('a,label\n1,x\n2,y\n'),
    });
    await page.click('#upload-submit');
    await expect.poll(() => page.textContent('#upload-error')).toContain('it is already here');
    expect(await page.textContent('#upload-error')).toContain(`'${NAME}' exists`);
    // The browser logs each refused request itself: those are the only console errors.
    expect(owner.errors.every((e) => e.includes('Failed to load resource'))).toBe(true);
    owner.errors.length = 0;
  });

  it('deletes an upload after a confirm', async () => {
    const { page } = owner;
    await page.click(`#datasets tr[data-dataset="${NAME}"] a`);
    await expect.poll(() => page.textContent('#detail-name')).toBe(NAME);
    await page.click('#delete-dataset');
    await page.click('#confirm-yes');
    await expect.poll(() => page.locator(`#datasets tr[data-dataset="${NAME}"]`).count()).toBe(0);
    expect(await page.isHidden('#detail')).toBe(true);
    expect(owner.errors).toEqual([]);
  });
});
