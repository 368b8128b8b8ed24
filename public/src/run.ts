/**
 * Run page, for the owner at `/runs/{id}` and for a link holder at `/s/{token}`. The owner's page
 * reads `/api/runs/{id}` with the session cookie (signed in on the dashboard) and adds write
 * controls (cancel, fork, publish, share links), which go with the same cookie; a link holder's
 * page reads the run's routes under the token, `/s/{token}/api/run`, and has no write controls at all.
 */
import type { GenerationRecord } from '../../src/wann/record';
import {
  download,
  forgetLegacyToken,
  type GenomeJson,
  HttpError,
  type ModelVersion,
  type Run,
  request,
  requestJson,
  TERMINAL,
} from './api';
import { SearchCharts, signatureChart } from './charts';
import { type ConfigValues, changedFields, readFields, renderFields } from './config-form';
import { byId, duration, el, fmt, mean, pct, replace, when } from './dom';
import { renderNetwork } from './network';

interface Mode {
  kind: 'owner' | 'share';
  /** Base of this run's JSON API. */
  api: string;
  runId: string | null;
}

function detectMode(): Mode | null {
  const share = /^\/s\/([A-Za-z0-9_-]+)\/?$/.exec(location.pathname);
  if (share) return { kind: 'share', api: `/s/${share[1]}/api/run`, runId: null };
  const owner = /^\/runs\/([0-9a-f-]{36})\/?$/.exec(location.pathname);
  if (owner) return { kind: 'owner', api: `/api/runs/${owner[1]}`, runId: owner[1] };
  return null;
}

const mode = detectMode();
const owner = mode?.kind === 'owner';
let run: Run | null = null;
const rows: GenerationRecord[] = [];
let charts: SearchCharts | null = null;
let shownChampionGen = -1;
let championTimer: ReturnType<typeof setTimeout> | undefined;
let models: ModelVersion[] | null = null;

function fatal(message: string): void {
  const p = byId('fatal');
  p.textContent = message;
  p.hidden = false;
}

/** The owner's page without a session: say what is needed, show nothing of the run. */
function needsToken(): void {
  const p = byId('fatal');
  replace(
    p,
    'This run needs the API token: only its owner (or someone with a share link) can see it. ',
    el('a', { href: '/', id: 'enter-token' }, 'Sign in with the API token on the dashboard'),
    ', then come back to this page.',
  );
  p.dataset.reason = 'needs-token';
  p.hidden = false;
  // Empty panels would read as "no data yet": show only the summary with the reason.
  for (const id of ['curves', 'network', 'models', 'digit', 'downloads', 'config', 'share'])
    byId(id).hidden = true;
  byId('status').textContent = 'needs the API token';
  byId('mode').textContent = 'no access';
}

/** Local path of an absolute API URL from the server (same origin). */
function local(url: string): string {
  const u = new URL(url, location.href);
  return u.pathname + u.search;
}

// ------------------------------------------------------------------------------------------------
// Summary

function eta(): number | null {
  if (run?.status !== 'running' || rows.length === 0) return null;
  const recent = rows.slice(-10);
  const perGen = recent.reduce((s, r) => s + r.durationMs, 0) / recent.length;
  return perGen * Math.max(0, run.generations - run.generation);
}

/** While running, elapsed time counts from the start to now (the API's figure is from its last update). */
function elapsed(): number | null {
  if (run?.status === 'running' && run.timings.startedAt)
    return Date.now() - Date.parse(run.timings.startedAt);
  return run?.timings.elapsedMs ?? null;
}

function renderSummary(): void {
  if (!run) return;
  byId('title').textContent = `Run ${run.id.slice(0, 8)}`;
  document.title = `Run ${run.id.slice(0, 8)} · ${run.status} · WANN`;
  const status = byId('status');
  status.textContent = run.status;
  status.className = `status ${run.status}`;
  const done = Math.min(1, run.generation / Math.max(1, run.generations));
  byId('progress-bar').style.width = `${(done * 100).toFixed(1)}%`;
  const champion = run.champion;
  const facts: [string, string][] = [
    ['Generation', `${run.generation} / ${run.generations}`],
    ['ETA', run.status === 'running' ? duration(eta()) : TERMINAL.has(run.status) ? 'done' : '–'],
    ['Elapsed', duration(elapsed())],
    ['Best fitness', fmt(run.bestFitness)],
    ['Champion accuracy', pct(mean(champion?.accuracy))],
    ['Champion connections', champion ? String(champion.connections) : '–'],
    ['Seed', String(run.config.seed)],
    ['Started', when(run.timings.startedAt ?? run.timings.createdAt)],
  ];
  replace(byId('facts'), ...facts.flatMap(([k, v]) => [el('dt', {}, k), el('dd', { 'data-fact': k }, v)]));
  const error = byId('run-error');
  error.hidden = !run.error;
  error.textContent = run.error ? `Error: ${run.error}` : '';
  renderOwnerActions();
}

function renderOwnerActions(): void {
  if (!owner || !run) return;
  const box = byId('owner-actions');
  const children: HTMLElement[] = [el('a', { href: '/', class: 'button secondary' }, '← All runs')];
  if (!TERMINAL.has(run.status)) {
    const cancel = el('button', { type: 'button', class: 'danger', id: 'cancel' }, 'Cancel run');
    cancel.addEventListener('click', async () => {
      cancel.disabled = true;
      try {
        run = await requestJson<Run>(`${mode!.api}/cancel`, { method: 'POST' });
        renderSummary();
      } catch (e) {
        fatal(`Cancel failed: ${(e as Error).message}`);
        cancel.disabled = false;
      }
    });
    children.push(cancel);
  }
  replace(box, ...children);
}

// ------------------------------------------------------------------------------------------------
// Curves and the live stream

async function loadGenerations(): Promise<void> {
  let url: string | null = `${mode!.api}/generations?limit=5000`;
  while (url) {
    const page: { generations: GenerationRecord[]; next: string | null } = await requestJson(url);
    for (const g of page.generations) if (!rows.length || g.gen > rows[rows.length - 1].gen) rows.push(g);
    url = page.next ? local(page.next) : null;
  }
}

function follow(): void {
  if (!run || TERMINAL.has(run.status)) return;
  const since = rows.length ? rows[rows.length - 1].gen : -1;
  const source = new EventSource(`${mode!.api}/events?since=${since}`);
  const live = byId('live');
  live.textContent = '● live';
  source.addEventListener('generation', (e) => {
    const record: GenerationRecord = JSON.parse((e as MessageEvent<string>).data);
    if (rows.length && record.gen <= rows[rows.length - 1].gen) return;
    rows.push(record);
    charts?.update(rows);
    if (run) {
      run.generation = record.gen + 1;
      run.bestFitness = record.bestEverFitness;
      if (record.champion) run.champion = record.champion;
      renderSummary();
      scheduleChampion();
    }
  });
  source.addEventListener('status', (e) => {
    const snap = JSON.parse((e as MessageEvent<string>).data) as {
      status: Run['status'];
      error: string | null;
    } | null;
    if (!snap || !run) return;
    run.status = snap.status;
    run.error = snap.error;
    renderSummary();
    if (TERMINAL.has(snap.status)) {
      source.close();
      live.textContent = '';
      // Final numbers (elapsed time, models published at the end) from the API.
      setTimeout(() => void refreshRun(true), 800);
    }
  });
  source.addEventListener('error', () => {
    live.textContent = source.readyState === EventSource.CLOSED ? '' : '○ reconnecting…';
  });
  source.addEventListener('open', () => {
    live.textContent = '● live';
  });
}

async function refreshRun(withModels: boolean): Promise<void> {
  try {
    run = await requestJson<Run>(mode!.api);
    renderSummary();
    scheduleChampion();
    if (withModels) await loadModels();
  } catch (e) {
    fatal(`Could not refresh the run: ${(e as Error).message}`);
  }
}

// ------------------------------------------------------------------------------------------------
// Champion network

function scheduleChampion(): void {
  if (!run?.champion || run.champion.generation === shownChampionGen || championTimer) return;
  if (shownChampionGen < 0) {
    replace(byId('network-svg'), el('p', { class: 'muted' }, 'Loading the champion network…'));
  }
  championTimer = setTimeout(async () => {
    championTimer = undefined;
    await loadChampion();
  }, 1000);
}

async function loadChampion(): Promise<void> {
  if (!run?.champion) return;
  const gen = run.champion.generation;
  try {
    const genome = await requestJson<GenomeJson>(`${mode!.api}/champion`);
    const { svg, legend, stats } = renderNetwork(genome);
    replace(byId('network-svg'), svg);
    replace(byId('network-legend'), legend);
    byId('network-caption').textContent =
      `from generation ${gen}: ${stats.enabled} connections, ${stats.hidden} hidden nodes, ${stats.usedInputs} of ${genome.inputs} inputs`;
    shownChampionGen = gen;
  } catch (e) {
    byId('network-caption').textContent = `(could not load: ${(e as Error).message})`;
    return;
  }
  scheduleChampion();
}

// ------------------------------------------------------------------------------------------------
// Published models, signature plot, draw-a-digit

async function loadModels(): Promise<void> {
  const body = byId('models-body');
  try {
    models = (await requestJson<{ models: ModelVersion[] }>(`${mode!.api}/models`)).models;
  } catch (e) {
    models = null;
    replace(body, el('p', { class: 'muted' }, `Published models are not available: ${(e as Error).message}`));
    replace(byId('digit-body'), el('p', { class: 'muted' }, 'Drawing a digit needs a published model.'));
    return;
  }
  renderModels();
  renderDownloads();
  await renderDigit();
}

function renderModels(): void {
  const body = byId('models-body');
  const list = models ?? [];
  const children: (HTMLElement | null)[] = [];
  if (list.length === 0) {
    children.push(
      el('p', { class: 'muted', id: 'no-models' }, 'No model has been published for this run yet.'),
    );
  } else {
    const sorted = [...list].sort((a, b) => b.version - a.version);
    children.push(
      el(
        'div',
        { class: 'table-wrap' },
        el(
          'table',
          { id: 'model-table' },
          el(
            'thead',
            {},
            el(
              'tr',
              {},
              ...[
                'Version',
                'Generation',
                'Mean test acc.',
                'Ensemble',
                'Best weight',
                'Connections',
                'Hidden',
                '',
              ].map((h) => el('th', {}, h)),
            ),
          ),
          el(
            'tbody',
            {},
            ...sorted.map((m) =>
              el(
                'tr',
                {},
                el('td', {}, `v${m.version}`),
                el('td', {}, m.generation),
                el('td', {}, pct(m.meanTestAccuracy)),
                el('td', {}, pct(m.ensembleTestAccuracy)),
                el('td', {}, `${m.tunedWeight} → ${pct(m.tunedTestAccuracy)}`),
                el('td', {}, m.connections),
                el('td', {}, m.hiddenNodes),
                el(
                  'td',
                  {},
                  downloadButton('ONNX', m.urls.onnx, `run-${run!.id.slice(0, 8)}-v${m.version}.onnx`),
                ),
              ),
            ),
          ),
        ),
      ),
    );
  }
  if (owner && run?.champion) {
    const publish = el(
      'button',
      { type: 'button', id: 'publish' },
      list.length ? 'Publish the current champion' : 'Publish the champion now',
    );
    publish.addEventListener('click', async () => {
      publish.disabled = true;
      publish.textContent = 'Publishing… (evaluates the champion on the 10,000 test images)';
      try {
        await request(`${mode!.api}/publish`, { method: 'POST' });
        await loadModels();
      } catch (e) {
        publish.disabled = false;
        publish.textContent = 'Publish the champion now';
        fatal(`Publishing failed: ${(e as Error).message}`);
      }
    });
    children.push(el('div', { class: 'row wrap' }, publish));
  }
  replace(body, ...children);
  const figure = byId('signature-figure');
  figure.hidden = list.length === 0;
  if (list.length) signatureChart(byId('chart-signature'), list);
}

let digitModel: number | null = null;

async function renderDigit(): Promise<void> {
  const root = byId('digit-body');
  const latest = (models ?? []).reduce<ModelVersion | null>(
    (a, m) => (!a || m.version > a.version ? m : a),
    null,
  );
  if (!latest) {
    replace(
      root,
      el(
        'p',
        { class: 'muted', id: 'digit-none' },
        `No published model yet: drawing a digit needs one.${owner ? ' Publish the champion above.' : ''}`,
      ),
    );
    return;
  }
  if (digitModel === latest.version) return;
  digitModel = latest.version;
  const canPredict = owner || run?.access?.scope === 'view+predict';
  const { mountDigitPanel } = await import('./digit');
  mountDigitPanel(root, { model: latest, predictUrl: canPredict ? `${mode!.api}/predict` : null });
}

// ------------------------------------------------------------------------------------------------
// Downloads, configuration, fork, share links

function downloadButton(label: string, url: string, filename: string, accept?: string): HTMLButtonElement {
  const button = el('button', { type: 'button', class: 'secondary', 'data-download': label }, label);
  button.addEventListener('click', async () => {
    try {
      await download(local(url), filename, { accept });
    } catch (e) {
      fatal(`Download failed: ${(e as Error).message}`);
    }
  });
  return button;
}

function renderDownloads(): void {
  if (!run) return;
  const short = run.id.slice(0, 8);
  const latest = (models ?? []).reduce<ModelVersion | null>(
    (a, m) => (!a || m.version > a.version ? m : a),
    null,
  );
  replace(
    byId('download-buttons'),
    latest
      ? downloadButton('Latest model (ONNX)', latest.urls.onnx, `run-${short}-v${latest.version}.onnx`)
      : null,
    latest
      ? downloadButton(
          'Published genome (JSON)',
          latest.urls.genome,
          `run-${short}-v${latest.version}-genome.json`,
        )
      : null,
    run.champion
      ? downloadButton('Current champion (JSON)', `${mode!.api}/champion`, `run-${short}-champion.json`)
      : null,
    downloadButton(
      'Generations (CSV)',
      `${mode!.api}/generations`,
      `run-${short}-generations.csv`,
      'text/csv',
    ),
  );
}

function renderConfig(): void {
  if (!run) return;
  const { forkOf, ...config } = run.config as Record<string, unknown> & { forkOf?: unknown };
  replace(
    byId('config-facts'),
    ...Object.entries(config).flatMap(([k, v]) => [
      el('dt', {}, k),
      el('dd', { class: 'mono' }, Array.isArray(v) ? v.join(', ') : String(v)),
    ]),
    ...(run.forkOf
      ? [
          el('dt', {}, 'forked from'),
          el(
            'dd',
            {},
            owner
              ? el(
                  'a',
                  { href: `/runs/${run.forkOf.runId}` },
                  `${run.forkOf.runId.slice(0, 8)} at generation ${run.forkOf.generation}`,
                )
              : `generation ${run.forkOf.generation} of another run`,
          ),
        ]
      : []),
  );
  void forkOf;
  if (!owner) return;
  const fields = el('div', { class: 'fields' });
  const base = config as ConfigValues;
  renderFields(fields, { ...base, generations: Math.max(run.generations, run.generation + 10) }, [
    'population',
  ]);
  const error = el('p', { class: 'error', hidden: true });
  const submit = el('button', { type: 'submit' }, 'Fork with these changes');
  const form = el('form', { id: 'fork-form' }, fields, error, el('div', { class: 'row wrap' }, submit));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    error.hidden = true;
    submit.disabled = true;
    try {
      const edits = changedFields(readFields(fields), base);
      const fork = await requestJson<Run>(`${mode!.api}/fork`, { method: 'POST', body: edits });
      location.assign(`/runs/${fork.id}`);
    } catch (err) {
      error.textContent = `Not forked: ${(err as Error).message}`;
      error.hidden = false;
      submit.disabled = false;
    }
  });
  replace(
    byId('fork'),
    el(
      'details',
      {},
      el('summary', {}, 'Fork with changes'),
      el(
        'p',
        { class: 'small muted' },
        'Continues from the latest generation with the same population; only changed fields are sent.',
      ),
      form,
    ),
  );
}

interface ShareLink {
  id: string;
  scope: string;
  status: string;
  createdAt: string;
  expiresAt: string;
  revokedAt: string | null;
  url?: string;
}

async function renderSharePanel(): Promise<void> {
  if (!owner || !run) return;
  const panel = byId('share');
  panel.hidden = false;
  const scope = el(
    'select',
    { name: 'scope', id: 'share-scope' },
    el('option', { value: 'view' }, 'view'),
    el('option', { value: 'view+predict' }, 'view + predict'),
  );
  const expires = el(
    'select',
    { name: 'expiresIn', id: 'share-expires' },
    ...['1d', '7d', '30d', '90d'].map((v) => el('option', { value: v, selected: v === '30d' }, v)),
  );
  const created = el('div', { id: 'share-created' });
  const list = el('ul', { class: 'links', id: 'share-links' });
  const form = el(
    'form',
    { id: 'share-form', class: 'row wrap' },
    el('label', {}, 'Scope ', scope),
    el('label', {}, 'Expires in ', expires),
    el('button', { type: 'submit' }, 'Create share link'),
  );
  const refresh = async () => {
    try {
      const { links } = await requestJson<{ links: ShareLink[] }>(`${mode!.api}/share`);
      replace(
        list,
        ...links.map((l) => {
          const revoke = el(
            'button',
            { type: 'button', class: 'secondary small', 'data-revoke': l.id },
            'Revoke',
          );
          revoke.addEventListener('click', async () => {
            revoke.disabled = true;
            try {
              await request(`${mode!.api}/share/${l.id}`, { method: 'DELETE' });
            } finally {
              await refresh();
            }
          });
          return el(
            'li',
            { 'data-link': l.id, 'data-status': l.status },
            el('span', { class: `status ${l.status === 'active' ? 'running' : 'cancelled'}` }, l.status),
            ` ${l.scope}, created ${when(l.createdAt)}, ${l.status === 'revoked' ? `revoked ${when(l.revokedAt)}` : `expires ${when(l.expiresAt)}`} `,
            l.status === 'active' ? revoke : null,
          );
        }),
      );
      if (links.length === 0) list.append(el('li', { class: 'muted' }, 'No links yet.'));
    } catch (e) {
      replace(list, el('li', { class: 'error' }, `Could not list links: ${(e as Error).message}`));
    }
  };
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    try {
      const link = await requestJson<ShareLink>(`${mode!.api}/share`, {
        method: 'POST',
        body: { scope: scope.value, expiresIn: expires.value },
      });
      const input = el('input', {
        type: 'text',
        readonly: true,
        value: link.url ?? '',
        id: 'share-url',
        class: 'mono',
      });
      const copy = el('button', { type: 'button', class: 'secondary' }, 'Copy');
      copy.addEventListener('click', async () => {
        input.select();
        try {
          await navigator.clipboard.writeText(input.value);
          copy.textContent = 'Copied';
        } catch {
          copy.textContent = 'Select and copy';
        }
      });
      replace(
        created,
        el('p', { class: 'small' }, 'Send this link; it is shown only now (the server keeps only a hash):'),
        el('div', { class: 'row' }, input, copy),
      );
      await refresh();
    } catch (err) {
      replace(created, el('p', { class: 'error' }, `No link: ${(err as Error).message}`));
    }
  });
  replace(
    panel,
    el('h2', {}, 'Share links'),
    el(
      'p',
      { class: 'small muted' },
      'A link opens this run read-only for anyone who has it, without the API token, until it expires or you revoke it.',
    ),
    form,
    created,
    list,
  );
  await refresh();
}

// ------------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  if (!mode) {
    fatal('This page address is not a run.');
    return;
  }
  const modeBadge = byId('mode');
  if (owner) {
    forgetLegacyToken();
    byId('brand').replaceWith(el('a', { class: 'brand', href: '/', id: 'brand' }, 'WANN'));
  }
  try {
    // The owner's page reads with the session cookie: it loads only for the signed-in owner.
    run = await requestJson<Run>(mode.api);
  } catch (e) {
    if (owner && e instanceof HttpError && e.status === 401) {
      needsToken();
      return;
    }
    fatal(
      e instanceof HttpError && e.status === 404
        ? 'This run does not exist.'
        : `Could not load the run: ${(e as Error).message}`,
    );
    return;
  }
  if (owner) modeBadge.textContent = 'owner';
  else {
    modeBadge.textContent = `shared view${run.access ? `, until ${new Date(run.access.expiresAt).toLocaleDateString()}` : ''}`;
  }
  byId('crumb').textContent = run.id;
  renderSummary();
  renderConfig();
  charts = new SearchCharts(byId('chart-fitness'), byId('chart-accuracy'), byId('chart-size'));
  await loadGenerations();
  charts.update(rows);
  renderSummary();
  follow();
  renderDownloads();
  if (run.champion) void loadChampion();
  void loadModels();
  void renderSharePanel();
}

main().catch((e) => fatal(`Unexpected error: ${(e as Error).message}`));
