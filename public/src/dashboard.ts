/**
 * Dashboard (`/`): signing in with the API token, the list of runs, and the form that starts a
 * search. The token is sent once to start a session (an HttpOnly cookie) and is never stored.
 */
import {
  endAllSessions,
  forgetLegacyToken,
  HttpError,
  type Run,
  requestJson,
  sessionExpiry,
  signIn,
  signOut,
  TERMINAL,
} from './api';
import { readFields, renderFields } from './config-form';
import { byId, el, fmt, mean, pct, replace, when } from './dom';

const tokenInput = byId<HTMLInputElement>('token');
const tokenState = byId('token-state');
const signOutButton = byId<HTMLButtonElement>('sign-out');
const signOutEverywhere = byId<HTMLButtonElement>('sign-out-everywhere');
const runsBody = byId('runs').querySelector('tbody')!;
const moreButton = byId<HTMLButtonElement>('runs-more');
const fields = byId('start-fields');
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
  tokenInput.value = '';
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
  extra = [];
  await loadRuns();
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
  if (!signedInUntil) {
    // The list is the owner's: nothing to ask the server for without a session.
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
    if (e instanceof HttpError && e.status === 401) {
      // The session ended (expired, signed out or ended elsewhere).
      signedInUntil = null;
      showSessionState();
      return loadRuns();
    }
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
  if (!signedInUntil) {
    startError.textContent = 'Not started: sign in with the API token above first.';
    startError.hidden = false;
    return;
  }
  startSubmit.disabled = true;
  try {
    const config = readFields(fields);
    const run = await requestJson<Run>('/api/runs', { method: 'POST', body: config });
    location.assign(`/runs/${run.id}`);
  } catch (err) {
    startError.textContent =
      err instanceof HttpError ? `Not started: ${err.message}` : `Not started: ${(err as Error).message}`;
    startError.hidden = false;
    startSubmit.disabled = false;
  }
});

async function init(): Promise<void> {
  forgetLegacyToken();
  await refreshSession();
}

void init();
