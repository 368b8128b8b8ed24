/**
 * Compare page, `/compare?runs=<id>,<id>,…`: up to MAX_RUNS of the owner's runs side by side (a
 * summary table, the configuration fields where they differ, and overlaid curves). It reads the
 * API with the owner's session cookie, like the run page; a run this browser cannot read is named
 * with the reason and left out, the others are still compared. A fork's curves are prefixed with
 * its parent's history up to the fork point (and the grandparent's before that, for a fork of a
 * fork), read from the parents' own generations.
 */

import { latestCheckFigure, RUN_FIGURES, RUN_TEST_FIGURES } from '../../src/api/figures';
import type { DatasetResource } from '../../src/api/types';
import type { GenerationRecord } from '../../src/wann/record';
import { forgetLegacyToken, HttpError, type Run, requestJson } from './api';
import { type CurvePoint, keepWidth, type Metric, overlayChart, type RunCurves } from './compare-charts';
import { baselineText, configDatasetKey, datasetDescription, datasetMixNote } from './dataset-facts';
import { byId, el, fmt, pct, replace, showScrollHintWhileOverflowing } from './dom';

/** Runs compared at once: one colour each, and a legend that stays readable. */
export const MAX_RUNS = 8;
/** Ancestors followed for a fork of a fork of …; older history is left out (and said so). */
const MAX_ANCESTORS = 8;
/** Generations per request (the API's largest page). */
const PAGE = 5000;
const RUN_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
/** Okabe–Ito colours (distinguishable with the common colour-vision deficiencies), yellow swapped for brown. */
const COLOURS = ['#0072b2', '#d55e00', '#009e73', '#cc79a7', '#e69f00', '#56b4e9', '#000000', '#8c564b'];

/** A run resource; `name` and `tags` come with run identity and are absent on older servers. */
type ComparedRun = Run & { name?: string; tags?: string[] };
/** Generation records; `testAccuracy` is absent on rows recorded before champion re-checks. */
type Record_ = GenerationRecord & { testAccuracy?: number | null };

interface Compared {
  run: ComparedRun;
  label: string;
  colour: string;
  own: CurvePoint[];
  inherited: CurvePoint[];
  /** Why part of a fork's inherited history is missing, if it is. */
  lineageNote: string | null;
}

const notes: (string | Node)[] = [];

function fatal(...message: (string | Node)[]): void {
  const p = byId('fatal');
  replace(p, ...message);
  p.hidden = false;
}

function setState(text: string, kind = ''): void {
  const s = byId('compare-state');
  s.textContent = text;
  s.className = `status ${kind}`;
}

/** The ids in `?runs=a,b,c` (also `?runs=a&runs=b`), de-duplicated, in the given order. */
export function parseRunIds(search: string): { ids: string[]; invalid: string[] } {
  const params = new URLSearchParams(search);
  const raw = params
    .getAll('runs')
    .flatMap((v) => v.split(','))
    .map((s) => s.trim().toLowerCase())
    .filter(Boolean);
  const ids: string[] = [];
  const invalid: string[] = [];
  for (const id of raw) {
    if (!RUN_ID.test(id)) invalid.push(id);
    else if (!ids.includes(id)) ids.push(id);
  }
  return { ids, invalid };
}

function toPoint(r: Record_): CurvePoint {
  return {
    gen: r.gen,
    bestEverFitness: r.bestEverFitness,
    testAccuracy: typeof r.testAccuracy === 'number' ? r.testAccuracy : null,
    championConnections: r.champion?.connections ?? null,
    meanConnections: r.meanConnections,
    durationMs: r.durationMs,
  };
}

const runCache = new Map<string, Promise<ComparedRun>>();
const historyCache = new Map<string, Promise<CurvePoint[]>>();

function getRun(id: string): Promise<ComparedRun> {
  let p = runCache.get(id);
  if (!p) {
    p = requestJson<ComparedRun>(`/api/runs/${id}`);
    runCache.set(id, p);
  }
  return p;
}

/** A run's generations (all of them, or those before `before`), page by page. */
async function loadHistory(id: string, before = Number.POSITIVE_INFINITY): Promise<CurvePoint[]> {
  const cached = historyCache.get(id);
  if (cached) return (await cached).filter((p) => p.gen < before);
  const out: CurvePoint[] = [];
  let after = -1;
  for (;;) {
    const limit = Number.isFinite(before) ? Math.max(1, Math.min(PAGE, before - after - 1)) : PAGE;
    const page = await requestJson<{ generations: Record_[]; next: string | null }>(
      `/api/runs/${id}/generations?after=${after}&limit=${limit}`,
    );
    for (const r of page.generations) if (r.gen < before) out.push(toPoint(r));
    const last = page.generations[page.generations.length - 1];
    if (!page.next || !last || last.gen >= before - 1) break;
    after = last.gen;
  }
  return out;
}

function fullHistory(id: string): Promise<CurvePoint[]> {
  let p = historyCache.get(id);
  if (!p) {
    p = loadHistory(id);
    historyCache.set(id, p);
  }
  return p;
}

/** A fork's ancestors' generations before its fork point, oldest first. */
async function inheritedHistory(run: ComparedRun): Promise<{ points: CurvePoint[]; note: string | null }> {
  const segments: CurvePoint[][] = [];
  let child: ComparedRun = run;
  for (let depth = 0; child.forkOf && child.forkOf.generation > 0; depth++) {
    const { runId, generation } = child.forkOf;
    if (depth === MAX_ANCESTORS) {
      return {
        points: segments.reverse().flat(),
        note: `history before generation ${generation} is left out (more than ${MAX_ANCESTORS} forks deep)`,
      };
    }
    let parent: ComparedRun;
    let points: CurvePoint[];
    try {
      parent = await getRun(runId);
      points = await loadHistory(runId, generation);
    } catch (e) {
      return {
        points: segments.reverse().flat(),
        note: `the history of parent run ${runId.slice(0, 8)} before generation ${generation} cannot be read (${reason(e)})`,
      };
    }
    const from = parent.forkOf?.generation ?? 0;
    segments.push(points.filter((p) => p.gen >= from));
    child = parent;
  }
  return { points: segments.reverse().flat(), note: null };
}

function reason(e: unknown): string {
  if (e instanceof HttpError) {
    if (e.status === 404) return 'no such run';
    if (e.status === 401) return 'not signed in';
    return e.message;
  }
  return (e as Error).message ?? String(e);
}

function labelsFor(runs: readonly ComparedRun[]): string[] {
  const base = runs.map((r) => (r.name?.trim() ? r.name.trim() : r.id.slice(0, 8)));
  // Two runs with one name: tell them apart by id.
  return base.map((b, i) =>
    base.indexOf(b) !== base.lastIndexOf(b) && b !== runs[i].id.slice(0, 8)
      ? `${b} (${runs[i].id.slice(0, 8)})`
      : b,
  );
}

// ------------------------------------------------------------------------------------------------
// Summary and configuration tables

function meanSeconds(points: readonly CurvePoint[]): number | null {
  if (points.length === 0) return null;
  let s = 0;
  for (const p of points) s += p.durationMs;
  return s / points.length / 1000;
}

/**
 * A run's test figures as src/api/figures.ts defines them: from its stats, the re-check from its
 * own records where the answer has no stats (an older server).
 */
function testFigure(c: Compared, figure: (typeof RUN_TEST_FIGURES)[number]): number | null {
  const stats = c.run.stats;
  if (stats) return stats[figure];
  return figure === 'checkTestAccuracy' ? (latestCheckFigure(c.own)?.value ?? null) : null;
}

/** Shows the summary's "scroll sideways" line while the table is wider than its box. */
const summaryScrollHint = showScrollHintWhileOverflowing(byId('compare-wrap'), byId('compare-scroll-hint'));

/** The summary's column keys of the test figures. */
const FIGURE_COLUMNS = {
  ensembleTestAccuracy: 'ensemble-test-accuracy',
  trainedTestAccuracy: 'trained-test-accuracy',
  checkTestAccuracy: 'check-test-accuracy',
} as const;

function swatch(colour: string): HTMLElement {
  const s = el('span', { class: 'swatch run-swatch' });
  s.style.background = colour;
  s.style.borderColor = colour;
  return s;
}

function renderSummary(compared: readonly Compared[]): void {
  const head = [
    'Run',
    'Status',
    'Generations',
    'Best fitness',
    ...RUN_TEST_FIGURES.map((f) => RUN_FIGURES[f].label),
    'Champion connections',
    'Mean s/gen',
    'Forked from',
  ];
  const body = compared.map((c) => {
    const { run } = c;
    const link = el('a', { href: `/runs/${run.id}` }, c.label);
    const fork = run.forkOf
      ? el(
          'span',
          {},
          el(
            'a',
            { href: `/runs/${run.forkOf.runId}` },
            labelOf(compared, run.forkOf.runId) ?? run.forkOf.runId.slice(0, 8),
          ),
          ` at gen ${run.forkOf.generation}`,
          c.lineageNote ? el('span', { class: 'error small' }, ` (${c.lineageNote})`) : null,
        )
      : '–';
    return el(
      'tr',
      { 'data-run': run.id },
      el('td', { 'data-col': 'run' }, swatch(c.colour), link),
      el('td', { 'data-col': 'status' }, el('span', { class: `status ${run.status}` }, run.status)),
      el('td', { 'data-col': 'generations' }, `${run.generation} / ${run.generations}`),
      el('td', { 'data-col': 'best-fitness' }, fmt(run.bestFitness)),
      ...RUN_TEST_FIGURES.map((f) => el('td', { 'data-col': FIGURE_COLUMNS[f] }, pct(testFigure(c, f)))),
      el('td', { 'data-col': 'champion-connections' }, run.champion ? String(run.champion.connections) : '–'),
      el('td', { 'data-col': 'mean-s-per-gen' }, fmt(meanSeconds(c.own), 2)),
      el('td', { 'data-col': 'forked-from' }, fork),
    );
  });
  byId('summary-note').hidden = false;
  replace(
    byId('compare-table'),
    el('thead', {}, el('tr', {}, ...head.map((h) => el('th', { scope: 'col' }, h)))),
    el('tbody', {}, ...body),
  );
}

/**
 * Each run's dataset (and its baseline, when one is ready) as columns of the summary table, and a
 * plain warning above it when the runs are not all on the same dataset.
 */
async function renderDatasets(compared: readonly Compared[]): Promise<string[]> {
  const datasets = await Promise.all(
    compared.map((c) => requestJson<DatasetResource>(`/api/runs/${c.run.id}/dataset`).catch(() => null)),
  );
  const names = compared.map((c, i) => datasets[i]?.name ?? configDatasetKey(c.run.config));
  const baselines = datasets.map((d) => baselineText(d?.baseline));
  const anyBaseline = baselines.some((b) => b !== null);
  const table = byId('compare-table');
  // The dataset beside the run's name (the table scrolls sideways at its far end), the baseline
  // beside the test accuracy it is to be read against.
  const head = table.querySelector('thead tr');
  const firstRow = table.querySelector('tbody tr');
  const accuracyAt = firstRow
    ? [...firstRow.children].findIndex((td) => (td as HTMLElement).dataset.col === 'best-test-accuracy')
    : -1;
  const place = (row: Element, dataset: HTMLElement, baseline: HTMLElement | null) => {
    const anchor = accuracyAt >= 0 ? row.children[accuracyAt] : null;
    if (baseline) (anchor ?? row.lastElementChild)?.after(baseline);
    row.firstElementChild?.after(dataset);
  };
  if (head) {
    place(
      head,
      el('th', { scope: 'col' }, 'Dataset'),
      anyBaseline ? el('th', { scope: 'col' }, 'Baseline (test)') : null,
    );
  }
  compared.forEach((c, i) => {
    const d = datasets[i];
    const row = table.querySelector(`tbody tr[data-run="${c.run.id}"]`);
    if (!row) return;
    place(
      row,
      el('td', { 'data-col': 'dataset', title: d ? datasetDescription(d) : null }, names[i]),
      anyBaseline ? el('td', { 'data-col': 'baseline', class: 'small' }, baselines[i] ?? '–') : null,
    );
  });
  const note = datasetMixNote(names);
  let line = document.getElementById('compare-datasets');
  if (!note) {
    line?.remove();
    return names;
  }
  if (!line) {
    line = el('p', { id: 'compare-datasets', class: 'error' });
    table.closest('.table-wrap')?.before(line);
  }
  line.textContent = note;
  return names;
}

function labelOf(compared: readonly Compared[], runId: string): string | null {
  return compared.find((c) => c.run.id === runId)?.label ?? null;
}

function configValue(v: unknown): string {
  if (v === undefined) return '–';
  if (Array.isArray(v)) return v.join(', ');
  if (typeof v === 'object' && v !== null) return JSON.stringify(v);
  return String(v);
}

/**
 * Configuration fields, one row each: those where the runs differ in the highlighted table, the
 * rest folded away under "the same in every run" (a single run shows all its fields).
 */
function renderConfig(compared: readonly Compared[], datasetNames: readonly string[]): void {
  const keys = [...new Set(compared.flatMap((c) => Object.keys(c.run.config)))].filter((k) => k !== 'forkOf');
  const rows = keys.map((key) => {
    // The dataset by name (an upload is recorded by its id, `u-…`).
    const values = compared.map((c, i) =>
      key === 'dataset'
        ? (datasetNames[i] ?? configValue(c.run.config[key]))
        : configValue(c.run.config[key]),
    );
    return { key, values, differs: compared.length > 1 && new Set(values).size > 1 };
  });
  byId('compare-config-panel').hidden = false;
  const single = compared.length === 1;
  const differing = rows.filter((r) => r.differs);
  const same = rows.filter((r) => !r.differs);
  const head = () =>
    el(
      'thead',
      {},
      el(
        'tr',
        {},
        el('th', { scope: 'col' }, 'Field'),
        ...compared.map((c) => el('th', { scope: 'col' }, swatch(c.colour), c.label)),
      ),
    );
  const row = (r: (typeof rows)[number]) =>
    el(
      'tr',
      { class: r.differs ? 'differs' : null, 'data-field': r.key },
      el('th', { scope: 'row' }, r.key),
      ...r.values.map((v) => el('td', {}, v)),
    );
  const shown = single ? rows : differing;
  const table = byId('compare-config');
  replace(table, head(), el('tbody', {}, ...shown.map(row)));
  table.hidden = shown.length === 0;
  const folded = byId<HTMLDetailsElement>('config-same');
  folded.hidden = single || same.length === 0;
  byId('config-same-summary').textContent =
    `${same.length} field${same.length === 1 ? '' : 's'} the same in every run`;
  replace(byId('compare-config-same'), head(), el('tbody', {}, ...(single ? [] : same.map(row))));
  byId('config-caption').textContent = single
    ? ''
    : differing.length === 0
      ? 'The runs have the same configuration.'
      : `${differing.length} field${differing.length === 1 ? '' : 's'} where the runs differ (highlighted).`;
}

// ------------------------------------------------------------------------------------------------
// Charts

const percentOf = (v: number) => `${(v * 100).toFixed(1)}%`;

const METRICS: { id: string; metric: Metric }[] = [
  {
    id: 'chart-best-fitness',
    metric: {
      title: 'Best-ever fitness',
      axis: 'fitness',
      pick: (p) => p.bestEverFitness,
      format: (v) => v.toFixed(4),
    },
  },
  {
    id: 'chart-test-accuracy',
    metric: {
      title: 'Test accuracy',
      axis: 'test accuracy',
      pick: (p) => p.testAccuracy,
      format: percentOf,
      ticks: (v) => `${Math.round(v * 100)}%`,
      sparse: true,
    },
  },
  {
    id: 'chart-champion-connections',
    metric: {
      title: 'Champion connections',
      axis: 'connections',
      pick: (p) => p.championConnections,
      format: (v) => String(Math.round(v)),
    },
  },
  {
    id: 'chart-mean-connections',
    metric: {
      title: 'Mean connections',
      axis: 'connections',
      pick: (p) => p.meanConnections,
      format: (v) => v.toFixed(1),
    },
  },
  {
    id: 'chart-seconds',
    metric: {
      title: 'Seconds per generation',
      axis: 'seconds',
      pick: (p) => p.durationMs / 1000,
      format: (v) => `${v.toFixed(2)} s`,
    },
  },
];

function renderCharts(compared: readonly Compared[]): void {
  const curves: RunCurves[] = compared.map((c) => ({
    runId: c.run.id,
    label: c.label,
    colour: c.colour,
    own: c.own,
    inherited: c.inherited,
    forkGeneration: c.run.forkOf?.generation ?? null,
  }));
  let lastGen = 0;
  for (const c of compared) {
    const last = c.own[c.own.length - 1] ?? c.inherited[c.inherited.length - 1];
    if (last) lastGen = Math.max(lastGen, last.gen);
  }
  const plots = METRICS.map(({ id, metric }) => {
    const container = byId(id);
    container.replaceChildren();
    return { plot: overlayChart(container, metric, curves, lastGen, 'compare'), container };
  });
  keepWidth(plots);
  const anyTest = compared.some(
    (c) => c.own.some((p) => p.testAccuracy !== null) || c.inherited.some((p) => p.testAccuracy !== null),
  );
  byId('test-accuracy-note').hidden = anyTest;
  byId('compare-curves').hidden = false;
}

// ------------------------------------------------------------------------------------------------

function needsSignIn(): void {
  fatal(
    'Comparing runs needs the API token: only their owner can see them. ',
    el('a', { href: '/', id: 'enter-token' }, 'Sign in with the API token on the dashboard'),
    ', then come back to this page.',
  );
  byId('fatal').dataset.reason = 'needs-token';
  setState('needs the API token');
}

function renderNotes(): void {
  const list = byId('compare-notes');
  replace(list, ...notes.map((n) => el('li', {}, n)));
  list.hidden = notes.length === 0;
}

async function main(): Promise<void> {
  forgetLegacyToken();
  const { ids: all, invalid } = parseRunIds(location.search);
  if (invalid.length) {
    notes.push(
      `Not run ids, left out: ${invalid
        .slice(0, 5)
        .map((s) => `'${s.slice(0, 40)}'`)
        .join(', ')}${invalid.length > 5 ? ` and ${invalid.length - 5} more` : ''}.`,
    );
  }
  if (all.length > MAX_RUNS) {
    notes.push(
      `${all.length} runs were asked for; the page compares at most ${MAX_RUNS} at once, so it shows the first ${MAX_RUNS}.`,
    );
  }
  const ids = all.slice(0, MAX_RUNS);
  if (ids.length === 0) {
    renderNotes();
    setState('no runs');
    fatal(
      'No runs to compare. Pick runs on the ',
      el('a', { href: '/' }, 'dashboard'),
      `, or open /compare?runs=<id>,<id>,… with up to ${MAX_RUNS} run ids.`,
    );
    return;
  }

  const settled = await Promise.allSettled(ids.map((id) => getRun(id)));
  if (
    settled.every((s) => s.status === 'rejected' && s.reason instanceof HttpError && s.reason.status === 401)
  ) {
    renderNotes();
    needsSignIn();
    return;
  }
  const runs: ComparedRun[] = [];
  settled.forEach((s, i) => {
    if (s.status === 'fulfilled') runs.push(s.value);
    else {
      const note = el('span', { 'data-unreadable': ids[i] });
      note.textContent = `Run ${ids[i].slice(0, 8)} is not shown: ${reason(s.reason)}${
        s.reason instanceof HttpError && s.reason.status === 404 ? ' (or not one of yours)' : ''
      }.`;
      notes.push(note);
    }
  });
  renderNotes();
  if (runs.length === 0) {
    setState('nothing to compare', 'failed');
    fatal('None of the runs asked for can be read; see the notes above.');
    return;
  }
  document.title = `Compare ${runs.length} run${runs.length === 1 ? '' : 's'} · WANN`;
  setState(`loading ${runs.length} run${runs.length === 1 ? '' : 's'}…`);

  const labels = labelsFor(runs);
  const compared = await Promise.all(
    runs.map(async (run, i): Promise<Compared> => {
      const [own, lineage] = await Promise.all([fullHistory(run.id), inheritedHistory(run)]);
      return {
        run,
        label: labels[i],
        colour: COLOURS[i % COLOURS.length],
        own,
        inherited: lineage.points,
        lineageNote: lineage.note,
      };
    }),
  );
  renderSummary(compared);
  renderConfig(compared, await renderDatasets(compared));
  // The summary is wider than a phone (and than 1,280 px with many figures): say it scrolls.
  summaryScrollHint();
  renderCharts(compared);
  byId('crumb').textContent = `Compare ${compared.map((c) => c.label).join(' · ')}`;
  const live = compared.some((c) => c.run.status === 'queued' || c.run.status === 'running');
  setState(
    `${compared.length} run${compared.length === 1 ? '' : 's'}${live ? `, as of ${new Date().toLocaleTimeString()} (reload for newer generations)` : ''}`,
    live ? 'running' : 'completed',
  );
  document.body.dataset.ready = 'true';
}

main().catch((e) => {
  setState('error', 'failed');
  fatal(`Could not load the comparison: ${reason(e)}`);
});
