/**
 * Datasets page (`/datasets`, the owner's): every dataset a run can search on and every upload in
 * any state; for the one picked (`?dataset=NAME`), its manifest (kind, shapes, classes, rows per
 * split, preprocessing), the baseline when the server has one ready, a class-balance bar chart and
 * samples of the training split (a grid of images, or a table of raw feature values), the build's
 * progress while an upload builds, and delete for uploads. The upload form takes what the server
 * takes: a CSV table alone goes as the body of one `POST /api/datasets`; a table with a test table,
 * or an idx pair (with or without a test pair), goes in the three steps (announce, one PUT a file,
 * build). Every file is a request body the browser streams from disk: nothing here reads it.
 */
import type { DatasetList, DatasetResource, DatasetSamples, UploadedDataset } from '../../src/api/types';
import { formatCount, UPLOAD_LIMITS } from '../../src/data/limits';
import { forgetLegacyToken, HttpError, request, requestJson, sessionExpiry } from './api';
import { featureName } from './dataset-facts';
import { byId, confirmAction, el, pct, replace, svg } from './dom';

/** One row of the list: a loaded built-in, or an upload in any state. */
interface Entry {
  name: string;
  source: 'built-in' | 'upload';
  status: UploadedDataset['status'];
  /** The manifest and shapes, once there are shards. */
  resource: DatasetResource | null;
  upload: UploadedDataset | null;
}

/** How often a building upload is asked for its state, and for how long at most. */
const BUILD_POLL_MS = 1000;
const BUILD_POLL_LIMIT_MS = 15 * 60_000;
/** Displayed size of one sample image (CSS pixels, whatever its own size). */
const SAMPLE_PX = 56;
/** Train and test bars: the colours of the house's compare page (Okabe–Ito blue and vermilion). */
const SPLIT_COLOURS = { train: '#0072b2', test: '#d55e00' } as const;

const tableBody = byId('datasets').querySelector('tbody')!;
const listState = byId('list-state');
const detail = byId('detail');
const detailError = byId('detail-error');
const deleteButton = byId<HTMLButtonElement>('delete-dataset');
const uploadForm = byId<HTMLFormElement>('upload-form');
const uploadError = byId('upload-error');
const uploadState = byId('upload-state');
const uploadSubmit = byId<HTMLButtonElement>('upload-submit');

let entries: Entry[] = [];
/** Counts detail renders: an answer for a dataset no longer shown is dropped. */
let shown = 0;
let buildTimer: ReturnType<typeof setTimeout> | undefined;

function selectedName(): string | null {
  return new URLSearchParams(location.search).get('dataset');
}

function select(name: string | null): void {
  const url = new URL(location.href);
  if (name) url.searchParams.set('dataset', name);
  else url.searchParams.delete('dataset');
  history.replaceState(null, '', url);
  renderList();
  void showDetail();
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

// ------------------------------------------------------------------------------------------------
// The list

function toEntries(list: DatasetList): Entry[] {
  const uploads = list.uploads ?? [];
  const uploadNames = new Set(uploads.map((u) => u.name));
  const builtins: Entry[] = list.datasets
    .filter((d) => !uploadNames.has(d.name))
    .map((d) => ({ name: d.name, source: 'built-in', status: 'ready', resource: d, upload: null }));
  return [
    ...builtins,
    ...uploads.map(
      (u): Entry => ({ name: u.name, source: 'upload', status: u.status, resource: u.dataset, upload: u }),
    ),
  ];
}

const rowsText = (d: DatasetResource | null) =>
  d ? `${formatCount(d.splits.train)} / ${formatCount(d.splits.test)}` : '–';

function statusChip(entry: Entry): HTMLElement {
  // The run statuses' colours: ready as completed, building as running.
  const look = {
    ready: 'completed',
    building: 'running',
    uploaded: 'queued',
    pending: 'queued',
    failed: 'failed',
  }[entry.status];
  const text =
    entry.status === 'building' && entry.upload ? `building ${pct(entry.upload.progress, 0)}` : entry.status;
  return el('span', { class: `status ${look}`, 'data-status': entry.status }, text);
}

function renderList(): void {
  const chosen = selectedName();
  if (entries.length === 0) {
    replace(tableBody, el('tr', {}, el('td', { colspan: 7, class: 'muted' }, 'No datasets.')));
    return;
  }
  replace(
    tableBody,
    ...entries.map((entry) => {
      const d = entry.resource;
      const link = el('a', { href: `?dataset=${encodeURIComponent(entry.name)}` }, entry.name);
      link.addEventListener('click', (e) => {
        e.preventDefault();
        select(entry.name);
      });
      return el(
        'tr',
        { 'data-dataset': entry.name, class: entry.name === chosen ? 'selected' : undefined },
        el('td', { class: 'name' }, link),
        el('td', {}, entry.source),
        el('td', {}, statusChip(entry)),
        el('td', {}, d?.kind ?? '–'),
        el('td', {}, d ? d.rawShape.join('×') : '–'),
        el('td', {}, d ? d.classes.length : '–'),
        el('td', { 'data-col': 'rows' }, rowsText(d)),
      );
    }),
  );
}

async function loadList(): Promise<void> {
  const list = await requestJson<DatasetList>('/api/datasets');
  entries = toEntries(list);
  listState.textContent = `${entries.length} dataset${entries.length === 1 ? '' : 's'}, updated ${new Date().toLocaleTimeString()}`;
  renderList();
}

// ------------------------------------------------------------------------------------------------
// One dataset

/** An image dataset's raw size as width × height (its raw shape is [rows, columns]). */
function rawSize(d: DatasetResource): string {
  const [rows, columns] = d.rawShape;
  return `${columns ?? rows}×${rows}`;
}

function preprocessingText(d: DatasetResource): string {
  const p = d.preprocessing;
  if (p.kind === 'image') {
    // Sizes as width × height, as the upload form and the run page say them (shapes are rows × columns).
    return `resize ${rawSize(d)} → ${p.width}×${p.height}${p.deskew ? ', deskew' : ''}, /255 (width × height)`;
  }
  return "standardise each feature with the training split's mean and standard deviation (a step of the served model, which so takes raw feature values)";
}

function facts(d: DatasetResource, entry: Entry): HTMLElement[] {
  const items: [string, string | Node][] = [
    ['Kind', d.kind],
    [
      'Raw shape',
      `${d.rawShape.join('×')} (${d.kind === 'image' ? `${d.rawShape[1]} wide, ${d.rawShape[0]} high; ` : ''}what a client sends)`,
    ],
    ['Features', `${formatCount(d.features)} (network inputs)`],
    ['Classes', `${d.classes.length}: ${d.classes.join(', ')}`],
    ['Training rows', formatCount(d.splits.train)],
    ['Test rows', `${formatCount(d.splits.test)} (reported accuracy only)`],
    ['Shards', `${d.shards.train} + ${d.shards.test} of ${formatCount(d.shards.rowsPerShard)} rows`],
    ['Source', el('span', { class: 'mono small' }, d.sourceHash)],
  ];
  if (entry.upload) items.push(['Uploaded', `${formatCount(entry.upload.bytes)} bytes`]);
  return items.flatMap(([term, value]) => [el('dt', {}, term), el('dd', {}, value)]);
}

function showBaseline(d: DatasetResource | null): void {
  const p = byId('detail-baseline');
  const b = d?.baseline;
  p.hidden = !(b && b.status === 'ready' && b.testAccuracy !== null);
  if (p.hidden || !b) return;
  replace(
    p,
    el('strong', {}, 'Softmax-regression baseline: '),
    `${pct(b.testAccuracy, 2)} test accuracy`,
    el(
      'span',
      { class: 'muted' },
      ` (one layer, ${formatCount(b.weights)} weights trained by Adam for ${b.epochs} epochs on the training split)`,
    ),
  );
}

/**
 * The class-balance chart: per class, its share of the training split and of the test split as
 * two bars, drawn in SVG at the container's width (redrawn when that changes), so its text stays
 * readable from phone width up.
 */
function balanceChart(
  container: HTMLElement,
  classes: readonly string[],
  counts: DatasetSamples['classCounts'],
): void {
  const width = Math.max(260, Math.floor(container.clientWidth || 320));
  // As wide as the longest class name needs (about 6.5 px a character at 11 px), within limits.
  const longest = Math.max(...classes.map((name) => name.length));
  const labelWidth = Math.max(24, Math.min(140, Math.floor(width * 0.3), Math.ceil(longest * 6.5) + 10));
  const valueWidth = 110;
  const bar = 9;
  const rowHeight = 2 * bar + 8;
  const legend = 22;
  const height = legend + classes.length * rowHeight;
  const totals = {
    train: counts.train.reduce((a, b) => a + b, 0),
    test: counts.test.reduce((a, b) => a + b, 0),
  };
  const maxShare = Math.max(
    ...(['train', 'test'] as const).flatMap((s) => counts[s].map((n) => (totals[s] ? n / totals[s] : 0))),
    1e-9,
  );
  const span = width - labelWidth - valueWidth - 8;
  const chart = svg('svg', {
    width,
    height,
    viewBox: `0 0 ${width} ${height}`,
    class: 'balance-svg',
    role: 'img',
    'aria-label': `Class balance of ${classes.length} classes in the training and test splits`,
  });
  let x = labelWidth;
  for (const split of ['train', 'test'] as const) {
    chart.append(
      svg('rect', { x, y: 4, width: 10, height: 10, fill: SPLIT_COLOURS[split] }),
      svg('text', { x: x + 14, y: 13, class: 'legend' }, split === 'train' ? 'training split' : 'test split'),
    );
    x += 120;
  }
  classes.forEach((name, c) => {
    const y = legend + c * rowHeight;
    const group = svg('g', { 'data-class': name });
    const label = svg('text', { x: labelWidth - 6, y: y + bar + 3, 'text-anchor': 'end' }, name);
    group.append(label, svg('title', {}, name));
    (['train', 'test'] as const).forEach((split, k) => {
      const n = counts[split][c] ?? 0;
      const share = totals[split] ? n / totals[split] : 0;
      const top = y + k * bar;
      group.append(
        svg('rect', {
          x: labelWidth,
          y: top,
          width: Math.max(share > 0 ? 1 : 0, (share / maxShare) * span),
          height: bar - 1,
          fill: SPLIT_COLOURS[split],
          'data-split': split,
          'data-count': n,
        }),
        svg(
          'text',
          { x: labelWidth + (share / maxShare) * span + 4, y: top + bar - 1, class: 'value' },
          `${pct(share, 1)} (${formatCount(n)})`,
        ),
      );
    });
    chart.append(group);
  });
  replace(container, chart);
  container.dataset.width = String(width);
}

/** Grayscale 0–255 pixels, row-major, as a canvas of their own size (CSS scales it up, crisp). */
function sampleCanvas(values: readonly number[], [height, width]: readonly number[]): HTMLCanvasElement {
  const canvas = el('canvas', { width, height, class: 'sample-image' });
  const ctx = canvas.getContext('2d');
  if (ctx) {
    const image = ctx.createImageData(width, height);
    for (let i = 0; i < width * height; i++) {
      const v = values[i] ?? 0;
      image.data.set([v, v, v, 255], 4 * i);
    }
    ctx.putImageData(image, 0, 0);
  }
  canvas.style.width = `${SAMPLE_PX}px`;
  canvas.style.height = `${Math.round((SAMPLE_PX * height) / width)}px`;
  return canvas;
}

function renderSamples(d: DatasetResource, samples: DatasetSamples): void {
  const box = byId('samples');
  const caption = byId('samples-caption');
  const shape = samples.sampleShape ?? (d.kind === 'image' ? d.rawShape : [d.features]);
  byId('samples-figure').hidden = samples.samples.length === 0;
  if (d.kind === 'image') {
    caption.textContent =
      samples.sampleValues === 'preprocessed'
        ? `Samples of the training split, as the shards keep them: ${shape[1]}×${shape[0]} pixels after preprocessing (the raw ${rawSize(d)} images are not stored)`
        : `Samples of the training split, ${shape[1]}×${shape[0]} pixels`;
    replace(
      box,
      el(
        'div',
        { class: 'sample-grid' },
        ...samples.samples.map((s) =>
          el(
            'figure',
            { class: 'sample', 'data-label': s.label },
            sampleCanvas(s.values, shape),
            el('figcaption', {}, s.label),
          ),
        ),
      ),
    );
    return;
  }
  caption.textContent = `Rows of the training split, raw feature values (${samples.samples.length} shown)`;
  const features = shape[0] ?? d.features;
  replace(
    box,
    el(
      'div',
      { class: 'table-wrap scroll-cue' },
      el(
        'table',
        { class: 'sample-rows', id: 'sample-rows' },
        el(
          'thead',
          {},
          el(
            'tr',
            {},
            el('th', { scope: 'col' }, 'class'),
            ...Array.from({ length: features }, (_, f) => el('th', { scope: 'col' }, featureName(d, f))),
          ),
        ),
        el(
          'tbody',
          {},
          ...samples.samples.map((s) =>
            el(
              'tr',
              {},
              el('td', { class: 'label' }, s.label),
              ...s.values.map((v) => el('td', { class: 'num' }, String(v))),
            ),
          ),
        ),
      ),
    ),
  );
}

/** Latest class counts drawn, for redrawing the chart at a new width. */
let drawn: { classes: readonly string[]; counts: DatasetSamples['classCounts'] } | null = null;

function showDetailError(text: string | null): void {
  detailError.hidden = text === null;
  detailError.textContent = text ?? '';
}

/** A pending upload: announced, its files not all sent, or its build never asked for. */
function pendingText(u: UploadedDataset): string {
  const files = u.files ?? [];
  const sent = files.filter((f) => f.uploaded).map((f) => f.role);
  const waiting = files.filter((f) => !f.uploaded).map((f) => f.role);
  const which =
    files.length === 0
      ? ''
      : ` Received: ${sent.length > 0 ? sent.join(', ') : 'nothing yet'}; ${waiting.length > 0 ? `waiting for: ${waiting.join(', ')}` : 'every file, but no build was asked for'}.`;
  return `Pending: announced${u.format ? ` as ${u.format}` : ''}, but not built (an upload of several files sends each, then asks for the build).${which} Delete it to start again.`;
}

function showBuild(entry: Entry): void {
  const box = byId('build');
  const u = entry.upload;
  const building = u !== null && (u.status === 'uploaded' || u.status === 'building');
  box.hidden = !building;
  if (!building || !u) return;
  const bar = byId('build-progress');
  const percent = Math.round(u.progress * 100);
  bar.setAttribute('aria-valuenow', String(percent));
  (bar.firstElementChild as HTMLElement).style.width = `${percent}%`;
  byId('build-state').textContent =
    u.status === 'uploaded'
      ? 'Uploaded; the build (split, statistics, shards) is queued.'
      : `Building shards: ${percent}% (reading the upload in passes).`;
}

async function showDetail(): Promise<void> {
  clearTimeout(buildTimer);
  const render = ++shown;
  const name = selectedName();
  const entry = entries.find((e) => e.name === name);
  detail.hidden = !entry;
  drawn = null;
  if (!entry) return;
  byId('detail-name').textContent = entry.name;
  replace(byId('detail-status'), statusChip(entry));
  deleteButton.hidden = entry.source !== 'upload';
  showDetailError(
    entry.status === 'failed'
      ? `The build failed: ${entry.upload?.error ?? 'no reason recorded'}`
      : entry.status === 'pending' && entry.upload
        ? pendingText(entry.upload)
        : null,
  );
  showBuild(entry);
  const d = entry.resource;
  replace(byId('detail-facts'), ...(d ? facts(d, entry) : []));
  const preprocessing = byId('detail-preprocessing');
  preprocessing.hidden = !d;
  if (d) replace(preprocessing, el('strong', {}, 'Preprocessing: '), preprocessingText(d));
  showBaseline(d);
  byId('balance-figure').hidden = true;
  byId('samples-figure').hidden = true;
  if (entry.status === 'uploaded' || entry.status === 'building') {
    pollBuild(entry.name, Date.now());
    return;
  }
  if (!d) return;
  try {
    const samples = await requestJson<DatasetSamples>(
      `/api/datasets/${encodeURIComponent(entry.name)}/samples`,
    );
    if (render !== shown) return;
    byId('balance-figure').hidden = false;
    drawn = { classes: d.classes, counts: samples.classCounts };
    balanceChart(byId('balance'), d.classes, samples.classCounts);
    renderSamples(d, samples);
  } catch (e) {
    if (render !== shown) return;
    showDetailError(`Samples not shown: ${errorText(e)}`);
  }
}

/** Asks for a building upload's state every second (for at most BUILD_POLL_LIMIT_MS). */
function pollBuild(name: string, since: number): void {
  buildTimer = setTimeout(async () => {
    if (selectedName() !== name) return;
    try {
      const u = await requestJson<UploadedDataset>(`/api/datasets/${encodeURIComponent(name)}`);
      const entry = entries.find((e) => e.name === name);
      if (!entry || selectedName() !== name) return;
      Object.assign(entry, { upload: u, status: u.status, resource: u.dataset });
      renderList();
      if (u.status === 'ready' || u.status === 'failed') {
        await showDetail();
        return;
      }
      replace(byId('detail-status'), statusChip(entry));
      showBuild(entry);
    } catch (e) {
      showDetailError(`Build state not read: ${errorText(e)}`);
    }
    if (Date.now() - since < BUILD_POLL_LIMIT_MS) pollBuild(name, since);
    else byId('build-state').textContent = 'Still building after 15 minutes: reload the page to check again.';
  }, BUILD_POLL_MS);
}

deleteButton.addEventListener('click', async () => {
  const name = selectedName();
  if (!name) return;
  const ok = await confirmAction(
    `Delete the dataset '${name}', its upload and its shards? Runs that used it must be deleted first.`,
    'Delete dataset',
  );
  if (!ok) return;
  deleteButton.disabled = true;
  try {
    await request(`/api/datasets/${encodeURIComponent(name)}`, { method: 'DELETE' });
    select(null);
    await loadList();
  } catch (e) {
    const reason = e instanceof HttpError && e.status === 409 ? `it is in use. ${e.message}` : errorText(e);
    showDetailError(`Not deleted: ${reason}`);
  } finally {
    deleteButton.disabled = false;
  }
});

let resizeTimer: ReturnType<typeof setTimeout> | undefined;
window.addEventListener('resize', () => {
  clearTimeout(resizeTimer);
  resizeTimer = setTimeout(() => {
    const box = byId('balance');
    if (drawn && box.dataset.width !== String(Math.floor(box.clientWidth))) {
      balanceChart(box, drawn.classes, drawn.counts);
    }
  }, 150);
});

// ------------------------------------------------------------------------------------------------
// Uploading

/** What each refusal of an upload means, before the server's own words. */
const UPLOAD_REFUSALS: Record<number, string> = {
  400: 'the file or the form was refused',
  404: 'the upload is gone (refused earlier, or deleted)',
  409: 'it is already here',
  411: 'the browser sent no length',
  413: 'a file is too large',
  415: 'the file is not sent as CSV',
};

/** A refused request in words: what the status means, then the server's own message. */
async function refusal(res: Response): Promise<Error> {
  const body = (await res.json().catch(() => null)) as { error?: { message?: string } } | null;
  const words = UPLOAD_REFUSALS[res.status] ?? `the server answered ${res.status}`;
  return new Error(`${words}: ${body?.error?.message ?? res.statusText}`);
}

byId('upload-limits').textContent =
  `Limits: ${formatCount(UPLOAD_LIMITS.maxRows)} rows, ${formatCount(UPLOAD_LIMITS.maxFeatures)} features (W×H inputs), ${UPLOAD_LIMITS.maxClasses} classes; the server names its size limit if a file passes it.`;

const uploadKind = byId<HTMLSelectElement>('upload-kind');
const testFraction = byId<HTMLInputElement>('upload-test-fraction');
const fileInput = (id: string) => byId<HTMLInputElement>(id);

/** One file of a multi-file upload: its role in the API, and the input it is picked in. */
interface UploadPart {
  role: 'table' | 'test-table' | 'images' | 'labels' | 'test-images' | 'test-labels';
  input: string;
  /** What the step line calls it. */
  what: string;
}
const PARTS: Record<'csv' | 'idx', readonly UploadPart[]> = {
  csv: [
    { role: 'table', input: 'upload-file', what: 'the table' },
    { role: 'test-table', input: 'upload-test-table', what: 'the test table' },
  ],
  idx: [
    { role: 'images', input: 'upload-images', what: 'images' },
    { role: 'labels', input: 'upload-labels', what: 'labels' },
    { role: 'test-images', input: 'upload-test-images', what: 'test images' },
    { role: 'test-labels', input: 'upload-test-labels', what: 'test labels' },
  ],
};
const TEST_ROLES: ReadonlySet<string> = new Set(['test-table', 'test-images', 'test-labels']);

function chosenKind(): 'csv' | 'idx' {
  return uploadKind.value === 'idx' ? 'idx' : 'csv';
}

/** The parts of the chosen kind that have a file picked. */
function chosenParts(): { part: UploadPart; file: File }[] {
  return PARTS[chosenKind()].flatMap((part) => {
    const file = fileInput(part.input).files?.[0];
    return file ? [{ part, file }] : [];
  });
}

/**
 * Shows the fields of the chosen kind (the other kind's are disabled, so the browser neither
 * checks nor requires them), and the test fraction only while no test file is picked: test
 * files are the test split.
 */
function syncUploadForm(): void {
  const kind = chosenKind();
  for (const k of ['csv', 'idx'] as const) {
    const group = byId(`upload-${k}`);
    group.hidden = k !== kind;
    for (const input of group.querySelectorAll<HTMLInputElement>('input')) input.disabled = k !== kind;
  }
  const withTests = chosenParts().some(({ part }) => TEST_ROLES.has(part.role));
  testFraction.disabled = withTests;
  byId('upload-test-fraction-note').textContent = withTests
    ? 'not used: the test files are the test split'
    : 'held out of every class; never searched on';
}
uploadKind.addEventListener('change', syncUploadForm);
uploadForm.addEventListener('change', syncUploadForm);

/** "16" or "16x12" as the API takes it (the pattern on the field has checked the shape). */
function imageSizeOption(text: string): number | string {
  const [w, h] = text
    .replace(/\s+/g, '')
    .toLowerCase()
    .split(/[x×]/)
    .map((v) => Number.parseInt(v, 10));
  return h === undefined ? w : `${w}x${h}`;
}

/** The options of an announced upload, from the form. */
function announcedOptions(kind: 'csv' | 'idx', withTests: boolean): Record<string, unknown> {
  const options: Record<string, unknown> = {};
  if (!withTests) options.testFraction = Number(testFraction.value);
  if (kind === 'csv') {
    const label = fileInput('upload-label').value.trim();
    if (label) options.label = label;
    return options;
  }
  options.imageSize = imageSizeOption(fileInput('upload-image-size').value);
  options.deskew = fileInput('upload-deskew').checked;
  const classes = fileInput('upload-classes')
    .value.split(',')
    .map((c) => c.trim())
    .filter((c) => c.length > 0);
  if (classes.length > 0) options.classes = classes;
  return options;
}

/** A single CSV table in one request: `POST /api/datasets?name=…` with the file as the body. */
async function uploadTable(name: string, file: File): Promise<UploadedDataset> {
  const query = new URLSearchParams({ name });
  const label = fileInput('upload-label').value.trim();
  if (label) query.set('label', label);
  if (testFraction.value.trim()) query.set('testFraction', testFraction.value.trim());
  uploadState.textContent = `Uploading ${file.name} (${formatCount(file.size)} bytes)…`;
  // The File itself is the body: the browser streams it from disk with its Content-Length.
  // The type is said explicitly (a .csv file may be typed application/vnd.ms-excel, or not at all).
  const res = await fetch(`/api/datasets?${query}`, {
    method: 'POST',
    headers: { 'Content-Type': 'text/csv', Accept: 'application/json' },
    body: file,
  });
  if (!res.ok) throw await refusal(res);
  return (await res.json()) as UploadedDataset;
}

/**
 * Several files in three steps: announce them (`POST /api/datasets`, JSON), send each as the
 * body of its own `PUT …/files/ROLE` (streamed from disk by the browser, one after the other),
 * then ask for the build. A file the server refuses removes the whole upload there; any other
 * failure part-way deletes what was announced here, so the name is free to try again.
 */
async function uploadParts(
  name: string,
  kind: 'csv' | 'idx',
  parts: readonly { part: UploadPart; file: File }[],
): Promise<UploadedDataset> {
  const withTests = parts.some(({ part }) => TEST_ROLES.has(part.role));
  uploadState.textContent = `Announcing '${name}' (${parts.length} files)…`;
  const announced = await fetch('/api/datasets', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
    body: JSON.stringify({
      name,
      format: kind,
      files: parts.map(({ part }) => part.role),
      options: announcedOptions(kind, withTests),
    }),
  });
  if (!announced.ok) throw await refusal(announced);
  const pending = (await announced.json()) as UploadedDataset;
  const base = `/api/datasets/${encodeURIComponent(pending.id)}`;
  try {
    for (const [i, { part, file }] of parts.entries()) {
      uploadState.textContent = `Sending ${part.what} (${i + 1}/${parts.length}): ${file.name}, ${formatCount(file.size)} bytes…`;
      const sent = await fetch(`${base}/files/${part.role}`, {
        method: 'PUT',
        headers: { 'Content-Type': 'application/octet-stream', Accept: 'application/json' },
        body: file,
      });
      if (!sent.ok) {
        const error = await refusal(sent);
        throw new Error(`${part.what} (${file.name}): ${error.message}`);
      }
    }
    uploadState.textContent = 'Every file sent; checking the set and queueing the build…';
    const built = await fetch(`${base}/build`, { method: 'POST', headers: { Accept: 'application/json' } });
    if (!built.ok) throw await refusal(built);
    return (await built.json()) as UploadedDataset;
  } catch (e) {
    // A refused file or set is already removed by the server (this answers 404 then).
    await fetch(base, { method: 'DELETE', headers: { Accept: 'application/json' } }).catch(() => null);
    throw e;
  }
}

uploadForm.addEventListener('submit', async (e) => {
  e.preventDefault();
  uploadError.hidden = true;
  const name = byId<HTMLInputElement>('upload-name').value.trim();
  const kind = chosenKind();
  const parts = chosenParts();
  if (!parts.some(({ part }) => !TEST_ROLES.has(part.role))) return;
  uploadSubmit.disabled = true;
  try {
    const created =
      kind === 'csv' && parts.length === 1
        ? await uploadTable(name, parts[0].file)
        : await uploadParts(name, kind, parts);
    uploadState.textContent = `Uploaded as '${created.name}' (its build is shown above).`;
    uploadForm.reset();
    syncUploadForm();
    await loadList();
    select(created.name);
    detail.scrollIntoView({ block: 'start' });
  } catch (err) {
    uploadState.textContent = '';
    uploadError.textContent = `Not uploaded: ${errorText(err)}`;
    uploadError.hidden = false;
    // A part-way upload may have been listed meanwhile: show the list as it is now.
    await loadList().catch(() => undefined);
  } finally {
    uploadSubmit.disabled = false;
  }
});
syncUploadForm();

// ------------------------------------------------------------------------------------------------

async function init(): Promise<void> {
  forgetLegacyToken();
  const until = await sessionExpiry().catch(() => null);
  if (!until) {
    byId('need-session').hidden = false;
    byId('list-panel').hidden = true;
    byId('upload-panel').hidden = true;
    return;
  }
  try {
    await loadList();
  } catch (e) {
    listState.textContent = '';
    replace(
      tableBody,
      el('tr', {}, el('td', { colspan: 7, class: 'error' }, `Could not list datasets: ${errorText(e)}`)),
    );
    return;
  }
  await showDetail();
}

void init();
