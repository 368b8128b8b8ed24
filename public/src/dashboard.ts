/**
 * Dashboard (`/`): signing in with the API token, the runs table (name, tags, status, progress,
 * config, best fitness and test accuracy; filtered by the server, sorted here, rows ticked for the
 * compare page), and the form that starts a search with its name, tags and notes. The token is
 * sent once to start a session (an HttpOnly cookie) and is never stored.
 */
import { headlineTestFigure, RUN_FIGURES } from '../../src/api/figures';
import { newRunConfig } from '../../src/api/new-run';
import type { DatasetList } from '../../src/api/types';
import {
  endAllSessions,
  forgetLegacyToken,
  HttpError,
  listRuns,
  type Run,
  type RunListEntry,
  requestJson,
  sessionExpiry,
  signIn,
  signOut,
} from './api';
import { coalescedRead } from './coalesced-read';
import {
  type ConfigValues,
  clearFieldErrors,
  describeConfigError,
  readFields,
  renderFields,
  showFieldErrors,
} from './config-form';
import { configDatasetKey, DEFAULT_DATASET } from './dataset-facts';
import { byId, el, fmt, pct, replace, showScrollHintWhileOverflowing, when } from './dom';
import { identityFields, readIdentity, showIdentityErrors } from './run-identity';
import { RunsListFeed } from './runs-feed';

const tokenInput = byId<HTMLInputElement>('token');
const tokenState = byId('token-state');
const signOutButton = byId<HTMLButtonElement>('sign-out');
const signOutEverywhere = byId<HTMLButtonElement>('sign-out-everywhere');
const runsBody = byId('runs').querySelector('tbody')!;
const moreButton = byId<HTMLButtonElement>('runs-more');
const fields = byId('start-fields');
const datasetSelect = byId<HTMLSelectElement>('start-dataset');
const startError = byId('start-error');
const startSubmit = byId<HTMLButtonElement>('start-submit');

/** Until when this browser's session lasts; null when signed out. */
let signedInUntil: Date | null = null;

function showSessionState(message?: string): void {
  tokenState.textContent =
    message ??
    (signedInUntil
      ? `Signed in until ${signedInUntil.toLocaleString()}.`
      : 'Not signed in: the API token is needed to see runs and to start searches.');
  tokenState.classList.toggle('error', message !== undefined);
  // The token field is cleared by its own submit, never here: a session check that answers while
  // the user is typing must not wipe what they typed.
  signOutButton.hidden = signedInUntil === null;
  signOutEverywhere.hidden = signedInUntil === null;
}

/** Counts session checks: only the latest one's answer is shown (an older one may arrive later). */
let sessionChecks = 0;

async function refreshSession(message?: string): Promise<void> {
  const check = ++sessionChecks;
  const until = await sessionExpiry().catch(() => null);
  if (check !== sessionChecks) return;
  signedInUntil = until;
  showSessionState(message);
  pages = 1;
  await Promise.all([loadRuns(), loadDatasets()]);
  await prefillFromRun();
}

/**
 * The dataset picker: the loaded datasets (GET /api/datasets, signed in). Signed out, or if the
 * list cannot be read, it keeps what it has (mnist at first), the default every server has.
 */
async function loadDatasets(): Promise<void> {
  if (!signedInUntil) return;
  const list = await requestJson<DatasetList>('/api/datasets').catch(() => null);
  if (!list) return;
  const chosen = datasetSelect.value;
  datasetSelect.replaceChildren(
    ...list.datasets.map((d) =>
      el('option', { value: d.name }, `${d.name} (${d.classes.length} classes, ${d.rawShape.join('×')})`),
    ),
  );
  if (list.datasets.some((d) => d.name === chosen)) datasetSelect.value = chosen;
  learnDatasets(list);
  // The runs may have been drawn first (both load at once), naming uploads by their ids.
  if (loaded.length > 0) render();
}

byId('token-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const value = tokenInput.value.trim();
  tokenInput.value = '';
  if (!value) return;
  try {
    // The server checks the token and sets the session cookie; the token goes no further.
    await signIn(value);
    await refreshSession();
  } catch (err) {
    await refreshSession(
      `Not signed in: ${err instanceof HttpError && err.status === 401 ? 'the server refused this token' : (err as Error).message}.`,
    );
  }
});
signOutButton.addEventListener('click', async () => {
  await signOut();
  await refreshSession();
});
signOutEverywhere.addEventListener('click', async () => {
  try {
    const ended = await endAllSessions();
    await refreshSession(`Ended ${ended} session${ended === 1 ? '' : 's'}: every browser is signed out.`);
  } catch (err) {
    await refreshSession(`Sessions not ended: ${(err as Error).message}.`);
  }
});

// ------------------------------------------------------------------------------------------------
// The runs table: filtered by the server (text, tag, status), sorted here (over the rows loaded),
// with row checkboxes for the compare page.

type SortKey =
  | 'name'
  | 'status'
  | 'generation'
  | 'population'
  | 'seed'
  | 'fitness'
  | 'testAccuracy'
  | 'created'
  | 'dataset';

interface Column {
  label: string;
  title?: string;
  sort?: SortKey;
  /** Hidden at phone width (the table scrolls sideways for the rest). */
  wide?: boolean;
}

const COLUMNS: readonly Column[] = [
  { label: '', title: 'Tick runs to compare' },
  { label: 'Name', sort: 'name' },
  { label: 'Dataset', sort: 'dataset', title: 'the dataset the run searched on' },
  { label: 'Tags', wide: true },
  { label: 'Status', sort: 'status' },
  { label: 'Generation', sort: 'generation', title: 'generations finished / budget' },
  {
    label: 'Best test acc.',
    sort: 'testAccuracy',
    title: `${RUN_FIGURES.ensembleTestAccuracy.short}: ${RUN_FIGURES.ensembleTestAccuracy.help} ${RUN_FIGURES.checkTestAccuracy.short} (no shared-weight version yet): ${RUN_FIGURES.checkTestAccuracy.help}`,
  },
  { label: 'Best fitness', sort: 'fitness', title: 'best mean fitness, on training batches' },
  { label: 'Pop.', sort: 'population', title: 'population', wide: true },
  { label: 'Seed', sort: 'seed', wide: true },
  { label: 'Config', title: 'shared weights, training shards, champion re-check interval', wide: true },
  { label: 'Created', sort: 'created', wide: true },
];

/** Rows loaded so far (first page, then "More"), newest first as the server sends them. */
let loaded: RunListEntry[] = [];
let next: string | null = null;
/** How many pages "More" has added (kept across refreshes). */
let pages = 1;
let sort: { key: SortKey; dir: 1 | -1 } = { key: 'created', dir: -1 };
const selected = new Set<string>();
/** Counts list requests: only the latest one's answer is shown. */
let listRequests = 0;

// The legend names the figures as src/api/figures.ts defines them.
replace(
  byId('runs-legend'),
  'Click a column heading to sort the runs shown. ',
  el('strong', {}, 'Best test acc.'),
  ` is “${RUN_FIGURES.ensembleTestAccuracy.short}”: ${RUN_FIGURES.ensembleTestAccuracy.help} Else “${RUN_FIGURES.checkTestAccuracy.short}”: ${RUN_FIGURES.checkTestAccuracy.help} `,
  el('strong', {}, 'Best fitness'),
  ' is on training batches.',
);

const filterForm = byId<HTMLFormElement>('runs-filter');
const filterText = byId<HTMLInputElement>('filter-text');
const filterTag = byId<HTMLInputElement>('filter-tag');
const filterStatus = byId<HTMLSelectElement>('filter-status');
const compareButton = byId<HTMLButtonElement>('compare');

// ------------------------------------------------------------------------------------------------
// The runs' datasets: a column and a filter. A run's config records a built-in by name (MNIST by
// nothing) and an upload by its id; the datasets list (signed in) gives the uploads' names.

/** Dataset names by what a run's config records (an upload's id, a built-in's name). */
const datasetNames = new Map<string, string>([[DEFAULT_DATASET, DEFAULT_DATASET]]);
const filterDataset = el(
  'select',
  { id: 'filter-dataset', name: 'dataset', 'aria-label': 'Only runs on this dataset' },
  el('option', { value: '' }, 'any dataset'),
  el('option', { value: DEFAULT_DATASET }, DEFAULT_DATASET),
);
filterStatus.after(filterDataset);

function runDatasetName(r: RunListEntry): string {
  const key = configDatasetKey(r.config);
  return datasetNames.get(key) ?? key;
}

/** Learns the datasets' names and offers each in the filter (kept: a deleted one may have runs). */
function learnDatasets(list: DatasetList): void {
  const names = [...list.datasets.map((d) => d.name), ...(list.uploads ?? []).map((u) => u.name)];
  for (const d of list.datasets) datasetNames.set(d.name, d.name);
  for (const u of list.uploads ?? []) datasetNames.set(u.id, u.name);
  const offered = new Set([...filterDataset.options].map((o) => o.value));
  for (const name of names) {
    if (!offered.has(name)) filterDataset.append(el('option', { value: name }, name));
    offered.add(name);
  }
  if (loaded.length) render();
}
const runsTable = byId<HTMLTableElement>('runs');
const runsScrollHint = showScrollHintWhileOverflowing(byId('runs-wrap'), byId('runs-scroll-hint'));

/** The test figure shown for a run, and which figure it is (src/api/figures.ts). */
function testAccuracy(r: RunListEntry): { value: number | null; source: string | null } {
  const shown = headlineTestFigure(r.stats);
  return shown
    ? { value: shown.value, source: RUN_FIGURES[shown.figure].short }
    : { value: null, source: null };
}

function sortValue(r: RunListEntry, key: SortKey): number | string | null {
  switch (key) {
    case 'name':
      return (r.name || r.id).toLowerCase();
    case 'status':
      return r.status;
    case 'generation':
      return r.generation;
    case 'population':
      return r.config.population;
    case 'seed':
      return r.config.seed;
    case 'fitness':
      return r.bestFitness;
    case 'testAccuracy':
      return testAccuracy(r).value;
    case 'created':
      return r.timings.createdAt;
    case 'dataset':
      return runDatasetName(r);
  }
}

/** Sorted copy; runs without a value go last whichever the direction. */
function sorted(rows: RunListEntry[]): RunListEntry[] {
  const { key, dir } = sort;
  return [...rows].sort((a, b) => {
    const x = sortValue(a, key);
    const y = sortValue(b, key);
    if (x === null || y === null) return x === y ? 0 : x === null ? 1 : -1;
    return (x < y ? -1 : x > y ? 1 : 0) * dir;
  });
}

/** "Nov 27, 20:50": the date and time a run was created, compactly. */
function shortDate(iso: string): string {
  const d = new Date(iso);
  return `${d.toLocaleDateString(undefined, { month: 'short', day: 'numeric' })}, ${d.toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' })}`;
}

function configSummary(r: RunListEntry): string {
  const c = r.config as Record<string, unknown>;
  const parts = [`${r.config.weights.length} w`, `${c.trainShards ?? '–'} shards`];
  if (typeof c.recheckEvery === 'number') parts.push(c.recheckEvery ? `check ${c.recheckEvery}` : 'no check');
  return parts.join(', ');
}

function header(): HTMLTableRowElement {
  return el(
    'tr',
    {},
    ...COLUMNS.map((col) => {
      const attrs = { title: col.title, class: col.wide ? 'wide' : undefined, scope: 'col' };
      if (!col.sort) return el('th', attrs, col.label);
      const active = sort.key === col.sort;
      const button = el(
        'button',
        { type: 'button', class: 'sort', 'data-sort': col.sort },
        col.label,
        active ? (sort.dir === 1 ? ' ▲' : ' ▼') : '',
      );
      button.addEventListener('click', () => {
        sort = { key: col.sort!, dir: active ? (sort.dir === 1 ? -1 : 1) : col.sort === 'name' ? 1 : -1 };
        render();
      });
      return el(
        'th',
        { ...attrs, 'aria-sort': active ? (sort.dir === 1 ? 'ascending' : 'descending') : 'none' },
        button,
      );
    }),
  );
}

function runRow(run: RunListEntry): HTMLTableRowElement {
  const box = el('input', {
    type: 'checkbox',
    'aria-label': `Select ${run.name || run.id.slice(0, 8)} to compare`,
    checked: selected.has(run.id),
    'data-select': run.id,
  });
  box.addEventListener('change', () => {
    if (box.checked) selected.add(run.id);
    else selected.delete(run.id);
    updateCompare();
  });
  const tagChips = () =>
    run.tags.map((t) => {
      const chip = el('button', { type: 'button', class: 'tag', title: `Only runs tagged ${t}` }, t);
      chip.addEventListener('click', () => {
        filterTag.value = t;
        refilter();
      });
      return chip;
    });
  const acc = testAccuracy(run);
  return el(
    'tr',
    { 'data-run': run.id },
    el('td', {}, box),
    el(
      'td',
      { class: 'name' },
      el('a', { href: `/runs/${run.id}` }, run.name || 'Unnamed'),
      el('span', { class: 'mono muted small id' }, ` ${run.id.slice(0, 8)}`),
      // At phone width the Seed and Tags columns are hidden: this line under the name carries
      // them, so runs that differ only by seed still look different.
      el(
        'div',
        { class: 'run-meta small', 'data-phone-meta': '' },
        el('span', { class: 'mono muted', 'data-field': 'seed' }, `seed ${run.config.seed}`),
        ...tagChips(),
      ),
    ),
    el('td', { 'data-col': 'dataset' }, runDatasetName(run)),
    el('td', { class: 'tags wide' }, ...tagChips()),
    el('td', {}, el('span', { class: `status ${run.status}` }, run.status)),
    el('td', { 'data-col': 'generation' }, `${run.generation} / ${run.generations}`),
    el(
      'td',
      { 'data-col': 'test-accuracy', 'data-source': acc.source ?? '' },
      pct(acc.value),
      acc.source ? el('small', { class: 'muted' }, ` ${acc.source}`) : '',
    ),
    el('td', {}, fmt(run.bestFitness)),
    el('td', { class: 'wide' }, run.config.population),
    el('td', { class: 'wide mono', 'data-col': 'seed' }, run.config.seed),
    el('td', { class: 'wide small', 'data-col': 'config' }, configSummary(run)),
    el(
      'td',
      { class: 'small wide', 'data-col': 'created', title: when(run.timings.createdAt) },
      shortDate(run.timings.createdAt),
    ),
  );
}

function message(text: string, className = 'muted', id?: string): HTMLTableRowElement {
  return el('tr', {}, el('td', { colspan: COLUMNS.length, class: className, id }, text));
}

function render(): void {
  replace(runsTable.tHead!, header());
  const rows = sorted(loaded);
  if (rows.length === 0) {
    const filtered =
      filterText.value.trim() || filterTag.value.trim() || filterStatus.value || filterDataset.value;
    replace(runsBody, message(filtered ? 'No run matches these filters.' : 'No runs yet: start one below.'));
  } else {
    replace(runsBody, ...rows.map(runRow));
  }
  runsScrollHint();
  updateCompare();
}

function updateCompare(): void {
  const n = selected.size;
  compareButton.disabled = n < 2;
  compareButton.textContent = n ? `Compare ${n} run${n === 1 ? '' : 's'}` : 'Compare';
}

compareButton.addEventListener('click', () => {
  if (selected.size < 2) return;
  location.assign(`/compare?runs=${[...selected].join(',')}`);
});

/** The filters as the list endpoint's query (limit: its documented maximum, 100). */
function listQuery(): URLSearchParams {
  const q = new URLSearchParams({ limit: '100' });
  const text = filterText.value.trim();
  const tag = filterTag.value.trim().toLowerCase();
  if (text) q.set('q', text);
  if (tag) q.set('tag', tag);
  if (filterStatus.value) q.set('status', filterStatus.value);
  if (filterDataset.value) q.set('dataset', filterDataset.value);
  return q;
}

/** Read the list again; events that arrive meanwhile make one more read, not one each. */
const reloadRuns = coalescedRead(() => loadRuns());

/**
 * The list follows the runs feed: read when the stream opens (and reopens), then again when a run
 * starts or changes status; a run moving on changes its row in place.
 */
const feed = new RunsListFeed({
  onReady: () => void reloadRuns(),
  onRun: (event) => {
    const row = loaded.find((r) => r.id === event.id);
    if (row && row.status === event.status) {
      row.generation = event.generation;
      render();
    } else void reloadRuns();
  },
  onEnd: () => void refreshSession(),
  onLive: (live) => {
    byId('runs-live').textContent = live ? '● live' : '';
  },
});

async function loadRuns(): Promise<void> {
  const request = ++listRequests;
  if (!signedInUntil) feed.stop();
  else if (!feed.open) {
    // Its `ready` event reads the list.
    feed.start();
    return;
  }
  if (!signedInUntil) {
    // The list is the owner's: nothing to ask the server for without a session.
    moreButton.hidden = true;
    loaded = [];
    replace(runsTable.tHead!, header());
    replace(runsBody, message('Enter the API token above to see the runs.', 'muted', 'runs-need-token'));
    byId('runs-updated').textContent = '';
    return;
  }
  try {
    // The first page, then as many more as "More" has asked for (refreshes keep them).
    let page = await listRuns(listQuery());
    const rows = [...page.runs];
    for (let i = 1; i < pages && page.next; i++) {
      const url = new URL(page.next);
      page = await listRuns(url.search.slice(1));
      rows.push(...page.runs);
    }
    if (request !== listRequests) return;
    loaded = rows;
    next = page.next;
    moreButton.hidden = next === null;
    render();
    byId('runs-updated').textContent =
      `${rows.length} run${rows.length === 1 ? '' : 's'}, updated ${new Date().toLocaleTimeString()}`;
  } catch (e) {
    if (request !== listRequests) return;
    if (e instanceof HttpError && e.status === 401) {
      // The session ended (expired, signed out or ended elsewhere).
      signedInUntil = null;
      showSessionState();
      return loadRuns();
    }
    replace(runsBody, message(`Could not list runs: ${(e as Error).message}`, 'error'));
  }
}

moreButton.addEventListener('click', () => {
  if (!next) return;
  pages++;
  void loadRuns();
});

const refilter = () => {
  pages = 1;
  void loadRuns();
};
filterText.addEventListener('input', refilter);
filterTag.addEventListener('input', refilter);
filterStatus.addEventListener('change', refilter);
filterDataset.addEventListener('change', refilter);
filterForm.addEventListener('submit', (e) => e.preventDefault());
filterForm.addEventListener('reset', (e) => {
  e.preventDefault();
  filterText.value = '';
  filterTag.value = '';
  filterStatus.value = '';
  filterDataset.value = '';
  refilter();
});

// ------------------------------------------------------------------------------------------------
// Starting a search

const identityBox = identityFields('start');
byId('start-identity').append(identityBox);
const form = byId<HTMLFormElement>('start-form');
renderFields(fields, {});
form.addEventListener('reset', (e) => {
  e.preventDefault();
  renderFields(fields, {});
  replace(identityBox, ...identityFields('start').childNodes);
});
form.addEventListener('submit', async (e) => {
  e.preventDefault();
  startError.hidden = true;
  clearFieldErrors(fields);
  showIdentityErrors(identityBox, null);
  if (!signedInUntil) {
    startError.textContent = 'Not started: sign in with the API token above first.';
    startError.hidden = false;
    return;
  }
  startSubmit.disabled = true;
  try {
    const config = readFields(fields);
    // mnist is the default: left out, the request is the one the form always sent.
    const dataset =
      datasetSelect.value && datasetSelect.value !== 'mnist' ? { dataset: datasetSelect.value } : {};
    const run = await requestJson<Run>('/api/runs', {
      method: 'POST',
      body: { ...config, ...dataset, ...readIdentity(identityBox) },
    });
    location.assign(`/runs/${run.id}`);
  } catch (err) {
    // An error naming a field is shown beside it too.
    const marked =
      err instanceof HttpError && err.code === 'invalid_identity'
        ? showIdentityErrors(identityBox, err)
        : showFieldErrors(fields, err);
    // Field names as the form labels them, not the API's keys.
    const text =
      err instanceof HttpError || err instanceof Error ? describeConfigError(err.message) : String(err);
    startError.textContent = `Not started: ${text}${marked.length ? ' (see the marked field)' : ''}`;
    startError.hidden = false;
    startSubmit.disabled = false;
  }
});

/** The run `?from=` names, once its config has filled the form (it is filled once per page). */
let prefilledFrom: string | null = null;

/**
 * `/?from=<run id>` ("New run from this config" on a run page): the start form filled with that
 * run's config, dataset, name and tags, its seed cleared (src/api/new-run.ts), and scrolled to.
 * Signed out, it waits for the sign-in.
 */
async function prefillFromRun(): Promise<void> {
  const from = new URLSearchParams(location.search).get('from');
  if (!from || !/^[0-9a-f-]{36}$/.test(from) || prefilledFrom === from) return;
  const note = document.getElementById('start-from') ?? el('p', { id: 'start-from', class: 'small' });
  if (!note.isConnected) form.prepend(note);
  if (!signedInUntil) {
    note.textContent = `Sign in above to fill this form from run ${from.slice(0, 8)}'s config.`;
    return;
  }
  let source: Run;
  try {
    source = await requestJson<Run>(`/api/runs/${from}`);
  } catch (err) {
    note.textContent = `The form could not be filled from run ${from.slice(0, 8)}: ${(err as Error).message}`;
    return;
  }
  prefilledFrom = from;
  renderFields(fields, newRunConfig(source.config) as ConfigValues);
  replace(identityBox, ...identityFields('start', { name: source.name, tags: source.tags }).childNodes);
  const dataset = (source.config as { dataset?: string }).dataset ?? 'mnist';
  if (![...datasetSelect.options].some((o) => o.value === dataset))
    datasetSelect.append(el('option', { value: dataset }, dataset));
  datasetSelect.value = dataset;
  replace(
    note,
    'Filled from the config of run ',
    el('a', { href: `/runs/${source.id}` }, source.name || source.id.slice(0, 8)),
    '. The seed is cleared: type one, or leave it empty for the server to draw one.',
  );
  byId('start-panel').scrollIntoView();
}

async function init(): Promise<void> {
  forgetLegacyToken();
  await refreshSession();
}

void init();
