/** Dashboard (`/`): the API token, the list of runs, and the form that starts a search. */
import { getToken, HttpError, type Run, requestJson, setToken, TERMINAL } from './api';
import { readFields, renderFields } from './config-form';
import { byId, el, fmt, mean, pct, replace, when } from './dom';

const tokenInput = byId<HTMLInputElement>('token');
const tokenState = byId('token-state');
const runsBody = byId('runs').querySelector('tbody')!;
const moreButton = byId<HTMLButtonElement>('runs-more');
const fields = byId('start-fields');
const startError = byId('start-error');
const startSubmit = byId<HTMLButtonElement>('start-submit');

function showTokenState(): void {
  const token = getToken();
  tokenState.textContent = token ? 'Token saved in this browser.' : 'No token yet: needed to start searches.';
  tokenInput.value = '';
  tokenInput.placeholder = token ? '•••••••• (saved)' : 'API token';
}

byId('token-form').addEventListener('submit', (e) => {
  e.preventDefault();
  const value = tokenInput.value.trim();
  if (value) setToken(value);
  showTokenState();
});
byId('token-forget').addEventListener('click', () => {
  setToken(null);
  showTokenState();
});

let next: string | null = null;
let extra: Run[] = [];

function runRow(run: Run): HTMLTableRowElement {
  return el(
    'tr',
    { 'data-run': run.id },
    el('td', {}, el('a', { href: `/runs/${run.id}`, class: 'mono' }, run.id.slice(0, 8))),
    el('td', {}, el('span', { class: `status ${run.status}` }, run.status)),
    el('td', {}, `${run.generation} / ${run.generations}`),
    el('td', {}, fmt(run.bestFitness)),
    el('td', {}, pct(mean(run.champion?.accuracy))),
    el('td', { class: 'small' }, when(run.timings.startedAt ?? run.timings.createdAt)),
  );
}

let timer: ReturnType<typeof setTimeout> | undefined;

async function loadRuns(): Promise<void> {
  clearTimeout(timer);
  let active = false;
  try {
    const page = await requestJson<{ runs: Run[]; next: string | null }>('/api/runs?limit=20');
    const rows = [...page.runs, ...extra.filter((r) => !page.runs.some((p) => p.id === r.id))];
    if (extra.length === 0) next = page.next;
    moreButton.hidden = next === null;
    if (rows.length === 0) {
      replace(
        runsBody,
        el('tr', {}, el('td', { colspan: 6, class: 'muted' }, 'No runs yet: start one below.')),
      );
    } else {
      replace(runsBody, ...rows.map(runRow));
    }
    active = rows.some((r) => !TERMINAL.has(r.status));
    byId('runs-updated').textContent = `updated ${new Date().toLocaleTimeString()}`;
  } catch (e) {
    replace(
      runsBody,
      el('tr', {}, el('td', { colspan: 6, class: 'error' }, `Could not list runs: ${(e as Error).message}`)),
    );
  }
  timer = setTimeout(loadRuns, active ? 3000 : 15000);
}

moreButton.addEventListener('click', async () => {
  if (!next) return;
  const url = new URL(next);
  const page = await requestJson<{ runs: Run[]; next: string | null }>(url.pathname + url.search);
  extra = [...extra, ...page.runs];
  next = page.next;
  await loadRuns();
});

const form = byId<HTMLFormElement>('start-form');
renderFields(fields, {});
form.addEventListener('reset', (e) => {
  e.preventDefault();
  renderFields(fields, {});
});
form.addEventListener('submit', async (e) => {
  e.preventDefault();
  startError.hidden = true;
  startSubmit.disabled = true;
  try {
    const config = readFields(fields);
    const run = await requestJson<Run>('/api/runs', { method: 'POST', body: config, auth: true });
    location.assign(`/runs/${run.id}`);
  } catch (err) {
    startError.textContent =
      err instanceof HttpError ? `Not started: ${err.message}` : `Not started: ${(err as Error).message}`;
    startError.hidden = false;
    startSubmit.disabled = false;
  }
});

showTokenState();
void loadRuns();
