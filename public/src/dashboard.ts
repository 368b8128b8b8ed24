/** Dashboard (`/`): the API token, the list of runs, and the form that starts a search. */
import { getToken, HttpError, type Run, renewSession, requestJson, saveToken, TERMINAL } from './api';
import { readFields, renderFields } from './config-form';
import { byId, el, fmt, mean, pct, replace, when } from './dom';

const tokenInput = byId<HTMLInputElement>('token');
const tokenState = byId('token-state');
const runsBody = byId('runs').querySelector('tbody')!;
const moreButton = byId<HTMLButtonElement>('runs-more');
const fields = byId('start-fields');
const startError = byId('start-error');
const startSubmit = byId<HTMLButtonElement>('start-submit');

function showTokenState(message?: string): void {
  const token = getToken();
  tokenState.textContent =
    message ??
    (token ? 'Token saved in this browser.' : 'No token yet: needed to see runs and to start searches.');
  tokenState.classList.toggle('error', message !== undefined);
  tokenInput.value = '';
  tokenInput.placeholder = token ? '•••••••• (saved)' : 'API token';
}

byId('token-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const value = tokenInput.value.trim();
  if (!value) return;
  try {
    // The server checks the token and sets the session cookie the pages read with.
    await saveToken(value);
    showTokenState();
  } catch (err) {
    showTokenState(
      `Not saved: ${err instanceof HttpError && err.status === 401 ? 'the server refused this token' : (err as Error).message}.`,
    );
  }
  extra = [];
  await loadRuns();
});
byId('token-forget').addEventListener('click', async () => {
  await saveToken(null);
  showTokenState();
  extra = [];
  await loadRuns();
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
  if (!getToken()) {
    // The list is the owner's: nothing to ask the server for without the token.
    moreButton.hidden = true;
    replace(
      runsBody,
      el(
        'tr',
        {},
        el(
          'td',
          { colspan: 6, class: 'muted', id: 'runs-need-token' },
          'Enter the API token above to see the runs.',
        ),
      ),
    );
    byId('runs-updated').textContent = '';
    return;
  }
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

async function init(): Promise<void> {
  showTokenState();
  // A saved token: renew the session (the cookie may have expired); a refused one is forgotten.
  if (getToken() && !(await renewSession())) {
    await saveToken(null);
    showTokenState('The saved token was refused by the server (was it changed?): enter the current one.');
  }
  await loadRuns();
}

void init();
