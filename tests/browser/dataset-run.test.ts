/**
 * One uploaded CSV dataset end to end against `npm start`'s servers (issue 18's browser record):
 * a generated table (3 classes, 12 columns on scales from 0.01 to 1,000, 600 rows, seeded) is
 * uploaded over the HTTP API, built into shards (waited for by its status), searched by a small run
 * and published; `/v2` infer with RAW feature values answers what the downloaded ONNX file answers
 * in onnxruntime-node (same labels, probabilities equal within float32 rounding). Then the pages:
 * the run page names the dataset, has no draw panel but the tabular form, whose in-browser
 * prediction for a row equals `/v2`'s (also through a share link); an MNIST run's page keeps its
 * draw panel; the runs table shows and filters by dataset; the compare page says the two runs are
 * on different datasets. Screenshots at 1,280 and 375 px land in tests/browser/screenshots/.
 */
import * as ort from 'onnxruntime-node';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { DatasetResource, ModelList, RunResource, UploadedDataset } from '../../src/api/types';
import { combineEnsemble } from '../../src/onnx/ensemble';
import { Rng } from '../../src/random';
import { type Browser, drawSeven, launch, ownerApi, shot, signedInBrowser } from './browser';

const URL_ = inject('wannUrl');
const TOKEN = inject('wannToken');

/** Unique on the platform the browser tests share. */
const NAME = 'browser-levels';
/** Sorted, as the build orders string labels. */
const CLASSES = ['high', 'low', 'mid'];
const FEATURES = 12;
const ROWS = 600;
/** Float32 rounding between onnxruntime-web in workerd, onnxruntime-node and the browser's wasm. */
const CLOSE_DIGITS = 5;
/** This machine may be busy (other work, other tests): waits are long, results are not timed. */
const SLOW = 240_000;

function api<T>(path: string, init: { method?: string; body?: unknown } = {}) {
  return ownerApi<T>(URL_, TOKEN, path, init);
}

/**
 * 3 classes × 12 columns; column f is on the scale 10^(f mod 6 − 2) (0.01 … 1,000), and class c
 * shifts the band of columns 4c … 4c+3 by two noise widths: a model fed unstandardised values
 * would see a very different input. Seeded: the same bytes every run.
 */
function generatedTable(): { text: string; rows: number[][]; labels: string[] } {
  const rng = new Rng(18, 4, 5, 2026);
  const header = [...Array.from({ length: FEATURES }, (_, f) => `x${f}`), 'level'].join(',');
  const lines = [header];
  const rows: number[][] = [];
  const labels: string[] = [];
  for (let r = 0; r < ROWS; r++) {
    const c = rng.int(CLASSES.length);
    const row = Array.from({ length: FEATURES }, (_, f) => {
      const noise = rng.float() + rng.float() + rng.float();
      const value = (Math.floor(f / 4) === c ? 2 + noise : noise) * 10 ** ((f % 6) - 2);
      return Number(value.toPrecision(6));
    });
    rows.push(row);
    labels.push(CLASSES[c]);
    lines.push([...row.map(String), CLASSES[c]].join(','));
  }
  return { text: `${lines.join('\n')}\n`, rows, labels };
}

interface InferAnswer {
  outputs: { name: string; shape: number[]; data: number[]; parameters?: { class_names?: string[] } }[];
}

/** `/v2` infer on raw rows (ensemble unless `parameters` choose a weight). */
async function infer(
  runId: string,
  rows: number[][],
  parameters: Record<string, unknown> = {},
): Promise<{ labels: number[]; probabilities: number[]; classNames: string[] | undefined }> {
  const res = await api<InferAnswer>(`/v2/models/${runId}/infer`, {
    method: 'POST',
    body: {
      inputs: [{ name: 'image', shape: [rows.length, FEATURES], datatype: 'FP32', data: rows }],
      parameters,
    },
  });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  const output = (name: string) => res.body.outputs.find((o) => o.name === name)!;
  return {
    labels: output('label').data,
    probabilities: output('probabilities').data,
    classNames: output('label').parameters?.class_names,
  };
}

async function finished(id: string): Promise<RunResource> {
  await expect
    .poll(async () => (await api<RunResource>(`/api/runs/${id}`)).body.status, {
      timeout: SLOW,
      interval: 250,
    })
    .toBe('completed');
  return (await api<RunResource>(`/api/runs/${id}`)).body;
}

/** Publishes the run's champion (or finds the version its end published) and answers it. */
async function published(id: string) {
  const res = await api(`/api/runs/${id}/publish`, { method: 'POST' });
  expect([200, 201, 202], JSON.stringify(res.body)).toContain(res.status);
  await expect
    .poll(async () => (await api<ModelList>(`/api/runs/${id}/models`)).body.models.length, { timeout: SLOW })
    .toBeGreaterThan(0);
  const { models } = (await api<ModelList>(`/api/runs/${id}/models`)).body;
  return models.reduce((a, m) => (m.version > a.version ? m : a));
}

function signedIn(viewport?: { width: number; height: number }): Promise<Browser> {
  return signedInBrowser(URL_, TOKEN, viewport);
}

/** Fills the tabular form with `row`, predicts in the page, and reads what it shows. */
async function predictInPage(page: Page, row: number[]): Promise<{ label: number; probabilities: number[] }> {
  await expect.poll(() => page.isEnabled('#features-predict'), { timeout: 60_000 }).toBe(true);
  // Each field is labelled with its CSV column's name.
  expect(await page.locator('#features-form .feature-label').allTextContents()).toEqual(
    Array.from({ length: FEATURES }, (_, f) => `x${f}`),
  );
  for (let f = 0; f < FEATURES; f++) await page.fill(`#feature-${f + 1}`, String(row[f]));
  await page.click('#features-predict');
  await expect.poll(() => page.textContent('#features-vote')).toContain('Vote:');
  const probabilities = (await page
    .locator('#features-probs li')
    .evaluateAll((items) =>
      items.map((li) => Number((li as unknown as { dataset: { p: string } }).dataset.p)),
    )) as number[];
  const label = Number(await page.getAttribute('#features-probs li.win', 'data-class'));
  return { label, probabilities };
}

/** Asks the server from the page and reads its exact answer. */
async function askServerInPage(page: Page): Promise<{ label: number; probabilities: number[] }> {
  await page.click('#features-server');
  await expect.poll(() => page.getAttribute('#features-server-answer', 'data-label')).not.toBeNull();
  return {
    label: Number(await page.getAttribute('#features-server-answer', 'data-label')),
    probabilities: JSON.parse((await page.getAttribute('#features-server-answer', 'data-probabilities'))!),
  };
}

function expectClose(actual: readonly number[], expected: readonly number[]): void {
  expect(actual).toHaveLength(expected.length);
  for (const [i, p] of actual.entries()) expect(p, `value ${i}`).toBeCloseTo(expected[i], CLOSE_DIGITS);
}

describe('an uploaded CSV dataset, end to end', () => {
  const table = generatedTable();
  let dataset: DatasetResource;
  let runId = '';
  let mnistRunId = '';
  let owner: Browser;
  /** The /v2 ensemble answer for the rows the pages are tried with. */
  let served: { labels: number[]; probabilities: number[] };
  const tried = [3, 42, 517];

  beforeAll(async () => {
    owner = await signedIn();
  });
  afterAll(async () => {
    await owner?.close();
  });

  it(
    'uploads the CSV over HTTP and builds its shards',
    async () => {
      const bytes = new TextEncoder().encode(table.text);
      const res = await fetch(`${URL_}/api/datasets?name=${NAME}`, {
        method: 'POST',
        headers: {
          Authorization: `Bearer ${TOKEN}`,
          'Content-Type': 'text/csv',
          'Content-Length': String(bytes.byteLength),
        },
        body: bytes,
      });
      expect(res.status, await res.clone().text()).toBe(202);
      // Waiting for the build's state, not for a guessed time.
      await expect
        .poll(async () => (await api<UploadedDataset>(`/api/datasets/${NAME}`)).body.status, {
          timeout: SLOW,
          interval: 250,
        })
        .toMatch(/^(ready|failed)$/);
      const built = (await api<UploadedDataset>(`/api/datasets/${NAME}`)).body;
      expect(built.status, built.error ?? '').toBe('ready');
      dataset = built.dataset!;
      expect(dataset).toMatchObject({ kind: 'tabular', features: FEATURES, classes: CLASSES });
      expect(dataset.splits.train + dataset.splits.test).toBe(ROWS);
    },
    SLOW,
  );

  it(
    'searches it, publishes, and serves on /v2 what the ONNX file answers in onnxruntime-node',
    async () => {
      const started = await api<RunResource>('/api/runs', {
        method: 'POST',
        body: {
          dataset: NAME,
          name: 'levels in the browser',
          population: 32,
          generations: 4,
          sliceSize: 16,
          tournamentSize: 8,
          seed: 11,
          // Connected genomes, ranked on accuracy: an empty champion would answer the same for any row.
          initEnableProb: 0.5,
          probConnectionObjective: 0,
        },
      });
      expect(started.status, JSON.stringify(started.body)).toBe(202);
      runId = started.body.id;
      await finished(runId);
      const model = await published(runId);
      expect(model.connections).toBeGreaterThan(0);

      const rows = table.rows.slice(0, 40);
      const onnx = await fetch(`${URL_}${new URL(model.urls.onnx).pathname}`, {
        headers: { Authorization: `Bearer ${TOKEN}`, Accept: '*/*' },
      });
      expect(onnx.status).toBe(200);
      const session = await ort.InferenceSession.create(new Uint8Array(await onnx.arrayBuffer()));
      const image = new ort.Tensor('float32', Float32Array.from(rows.flat()), [rows.length, FEATURES]);
      const local: { probabilities: Float32Array; labels: BigInt64Array }[] = [];
      for (const w of model.weights) {
        const out = await session.run({
          image,
          shared_weight: new ort.Tensor('float32', new Float32Array([w]), [1]),
        });
        local.push({
          probabilities: out.probabilities.data as Float32Array,
          labels: out.label.data as BigInt64Array,
        });
      }
      await session.release();

      // One shared weight: the same labels and probabilities.
      const single = await infer(runId, rows, { shared_weight: model.weights[0] });
      expect(single.labels).toEqual(Array.from(local[0].labels, Number));
      expectClose(single.probabilities, Array.from(local[0].probabilities));

      // The ensemble: combined the same way from onnxruntime-node's per-weight answers.
      const combined = combineEnsemble(
        local.map((l) => l.probabilities),
        local.map((l) => l.labels),
        rows.length,
        CLASSES.length,
      );
      const ensemble = await infer(runId, rows);
      expect(ensemble.labels).toEqual(Array.from(combined.labels));
      expectClose(ensemble.probabilities, Array.from(combined.probabilities));
      expect(ensemble.classNames).toEqual(ensemble.labels.map((l) => CLASSES[l]));
      // The answer depends on the row (an unconnected champion would answer every row alike, and
      // the comparisons here would prove little).
      const first = ensemble.probabilities.slice(0, CLASSES.length);
      const spread = Math.max(
        ...ensemble.probabilities.map((p, i) => Math.abs(p - first[i % CLASSES.length])),
      );
      expect(spread).toBeGreaterThan(1e-3);

      served = await infer(
        runId,
        tried.map((i) => table.rows[i]),
      );
    },
    SLOW * 2,
  );

  it(
    'shows the dataset on the run page, no draw panel, and a form that predicts as /v2 does',
    async () => {
      const { page, errors } = owner;
      await page.goto(`${URL_}/runs/${runId}`);
      await expect.poll(() => page.textContent('#run-dataset')).toContain(NAME);
      expect(await page.textContent('#run-dataset')).toContain('tabular, 12 features → 3 classes');
      expect(await page.getAttribute('#run-dataset-name', 'href')).toBe(`/datasets?dataset=${NAME}`);
      await page.locator('#features-form').waitFor();
      expect(await page.textContent('#digit h2')).toBe('Try the model');
      expect(await page.locator('canvas.draw').count()).toBe(0);
      expect(await page.locator('#features-form input').count()).toBe(FEATURES);
      // Prefilled with the training split's means.
      if (dataset.preprocessing.kind !== 'tabular') throw new Error('not tabular');
      expect(Number(await page.inputValue('#feature-1'))).toBeCloseTo(dataset.preprocessing.mean[0], 4);
      await shot(page, '40-dataset-run');

      for (const [k, i] of tried.entries()) {
        const shown = await predictInPage(page, table.rows[i]);
        expect(shown.label, `row ${i}`).toBe(served.labels[k]);
        expectClose(shown.probabilities, served.probabilities.slice(k * 3, k * 3 + 3));
        const server = await askServerInPage(page);
        expect(server.label).toBe(served.labels[k]);
        expectClose(server.probabilities, served.probabilities.slice(k * 3, k * 3 + 3));
      }
      expect(await page.textContent('#features-server-answer')).toContain(CLASSES[served.labels.at(-1)!]);

      // A value that is no number is named, and nothing is predicted from it.
      await page.fill('#feature-2', 'abc');
      await page.click('#features-predict');
      await expect.poll(() => page.textContent('#features-error')).toBe("x1: 'abc' is not a number");
      expect(errors).toEqual([]);
    },
    SLOW,
  );

  it(
    'fits the form to a phone and works through a share link',
    async () => {
      const link = await api<{ url: string }>(`/api/runs/${runId}/share`, {
        method: 'POST',
        body: { scope: 'view+predict', expiresIn: '1d' },
      });
      expect(link.status, JSON.stringify(link.body)).toBe(201);
      const guest = await launch({ width: 375, height: 812 });
      try {
        guest.page.setDefaultNavigationTimeout(90_000);
        guest.page.setDefaultTimeout(60_000);
        const { page } = guest;
        await page.goto(new URL(new URL(link.body.url).pathname, URL_).href);
        await expect.poll(() => page.textContent('#run-dataset')).toContain(NAME);
        // The datasets page is the owner's: a link holder gets the name, not a link.
        expect(await page.locator('#run-dataset a').count()).toBe(0);
        await page.locator('#features-form').waitFor();
        const shown = await predictInPage(page, table.rows[tried[0]]);
        expect(shown.label).toBe(served.labels[0]);
        const server = await askServerInPage(page);
        expect(server.label).toBe(served.labels[0]);
        expectClose(server.probabilities, served.probabilities.slice(0, 3));
        expect(
          await page.evaluate('document.documentElement.scrollWidth <= window.innerWidth'),
          'no sideways scroll at 375 px',
        ).toBe(true);
        await page.locator('#digit').scrollIntoViewIfNeeded();
        await shot(page, '41-dataset-run-phone');
        expect(guest.errors).toEqual([]);
      } finally {
        await guest.close();
      }
    },
    SLOW,
  );

  it(
    'keeps the draw panel on an MNIST run page',
    async () => {
      const started = await api<RunResource>('/api/runs', {
        method: 'POST',
        body: { name: 'digits beside levels', population: 32, generations: 3, sliceSize: 16, seed: 3 },
      });
      expect(started.status, JSON.stringify(started.body)).toBe(202);
      mnistRunId = started.body.id;
      expect(started.body.config).not.toHaveProperty('dataset');
      await finished(mnistRunId);
      await published(mnistRunId);
      const { page, errors } = owner;
      await page.goto(`${URL_}/runs/${mnistRunId}`);
      await expect.poll(() => page.textContent('#run-dataset')).toContain('mnist');
      await page.locator('canvas.draw').waitFor();
      expect(await page.textContent('#digit h2')).toBe('Draw a digit');
      expect(await page.locator('#features-form').count()).toBe(0);
      await expect
        .poll(() => page.textContent('#digit-state'), { timeout: 60_000 })
        .toContain('draw a digit');
      await drawSeven(page);
      await expect.poll(() => page.locator('#digit-probs li').count()).toBe(10);
      expect(await page.getAttribute('#digit-preview', 'width')).toBe('16');
      expect(errors).toEqual([]);
    },
    SLOW * 2,
  );

  it('shows and filters runs by dataset, and the compare page says when they differ', async () => {
    const { page, errors } = owner;
    await page.goto(`${URL_}/`);
    const row = (id: string) => page.locator(`#runs tbody tr[data-run="${id}"]`);
    await row(runId).waitFor();
    expect(await row(runId).locator('td[data-col="dataset"]').textContent()).toBe(NAME);
    expect(await row(mnistRunId).locator('td[data-col="dataset"]').textContent()).toBe('mnist');
    await page.locator(`#filter-dataset option[value="${NAME}"]`).waitFor({ state: 'attached' });
    await page.selectOption('#filter-dataset', NAME);
    await expect.poll(() => row(mnistRunId).count()).toBe(0);
    expect(await row(runId).count()).toBe(1);
    await shot(page, '42-runs-by-dataset');
    await page.selectOption('#filter-dataset', 'mnist');
    await expect.poll(() => row(runId).count()).toBe(0);
    expect(await row(mnistRunId).count()).toBe(1);

    await page.goto(`${URL_}/compare?runs=${runId},${mnistRunId}`);
    await page.locator('body[data-ready="true"]').waitFor();
    await expect.poll(() => page.textContent('#compare-datasets')).toContain('different datasets');
    expect(await page.locator('#compare-table td[data-col="dataset"]').allTextContents()).toEqual([
      NAME,
      'mnist',
    ]);
    await shot(page, '43-compare-datasets');
    expect(errors).toEqual([]);
  });
});
