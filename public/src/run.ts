/**
 * Run page, for the owner at `/runs/{id}` and for a link holder at `/s/{token}`. The owner's page
 * reads `/api/runs/{id}` with the session cookie (signed in on the dashboard) and adds write
 * controls (cancel, fork, publish, share links), which go with the same cookie; a link holder's
 * page reads the run's routes under the token, `/s/{token}/api/run`, and has no write controls at all.
 */
import {
  bestEnsembleFigure,
  bestTrainedFigure,
  RUN_FIGURES,
  versionEnsembleAccuracy,
  versionMeanAccuracy,
} from '../../src/api/figures';
import type { ModelEvent, StreamEnd } from '../../src/api/stream-events';
import { estimateRemaining, estimateWithEarlyEnd, formatRange, formatSeconds } from '../../src/wann/eta';
import { championSinceInRecords, describeStop, earliestEnd } from '../../src/wann/patience';
import type { GenerationRecord } from '../../src/wann/record';
import {
  type CreatedShareLink,
  download,
  forgetLegacyToken,
  type GenomeJson,
  HttpError,
  type ModelVersion,
  type Run,
  request,
  requestJson,
  type ShareLinkList,
  TERMINAL,
} from './api';
import { FITNESS_EXPLAINED, SearchCharts, signatureChart } from './charts';
import { coalescedRead } from './coalesced-read';
import {
  type ConfigValues,
  changedFields,
  clearFieldErrors,
  describeConfigError,
  readFields,
  renderFields,
  showFieldErrors,
} from './config-form';
import { tryPanel } from './dataset-facts';
import { byId, confirmAction, duration, el, fmt, info, mean, pct, replace, when } from './dom';
import { inheritedHistory, renderForkLine } from './lineage';
import { renderNetwork } from './network';
import { renderRunBaseline, renderRunDataset, runDataset } from './run-dataset';
import { identityFields, mountRunIdentity, readIdentity, showIdentityErrors } from './run-identity';
import { accessEnded, parseStreamEnd, showAccessEnded } from './stream-end';

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

/** A generation row: those stored before the champion re-check have no `testAccuracy`. */
type Row = Omit<GenerationRecord, 'testAccuracy'> & { testAccuracy?: number | null };

const mode = detectMode();
const owner = mode?.kind === 'owner';
let run: Run | null = null;
const rows: Row[] = [];
let charts: SearchCharts | null = null;
let shownChampionGen = -1;
let championTimer: ReturnType<typeof setTimeout> | undefined;
/**
 * A champion read is under way. One at a time: while the API answered slower than generations came
 * (a second apart), each new champion started another read, and they piled up by the hundred
 * (156 requests open in one browser once), holding the browser's few connections to the site.
 */
let championLoading = false;
let models: ModelVersion[] | null = null;
/** What the last "Publish" click did, shown beside the button (it survives the table's redraw). */
let publishNote: string | null = null;

/** What the page's terms mean (info popovers and titles). */
const EXPLAIN: Record<string, string> = {
  fitness: `${FITNESS_EXPLAINED} "champion" is the run's champion, at its fitness on its own generation's batch; the other lines are this generation's population.`,
  accuracy:
    "Pink line: the best genome of each generation, its accuracy on that generation's 1,000 training images (mean over the shared weights). Black points: the champion's test accuracy, by majority vote of the shared weights, on a fixed test subset (the first test shard: 1,000 images for MNIST), measured at each champion re-check (every few generations; none when re-checks are off).",
  size: 'Enabled connections and hidden nodes (the bias, 256 inputs and 10 outputs are not counted), averaged over the population of each generation.',
  speed:
    'Wall time of each generation. Evaluating a genome costs one update per connection, image and shared weight, so generations slow down as the networks grow: the ETA fits this growth.',
  models:
    'Each version is a champion evaluated on the full test set (10,000 images for MNIST): at each shared weight (their mean), as an ensemble (majority vote of the weights), and at one weight tuned on training data. "Trained weights" versions give every connection its own weight, trained by gradient descent from a shared-weight version.',
  signature:
    'A weight-agnostic network keeps its accuracy whatever single weight all its connections share. Filled markers: the weights tested (nothing is measured between them); ring: the weight tuned on training data; dashed: the ensemble of all weights; dotted: trained per-connection weights.',
  objectives:
    'Each genome has three objectives: its mean fitness over the shared weights, its best fitness at any one weight, and 1 / its connections (smaller is better). Each generation ranks the population (NSGA-II) on [mean, 1/connections], or on [mean, max] with probability 1 − probConnectionObjective.',
  eta: "This run's own pace over the later half of its generations, carried forward as networks keep growing (ever more slowly, as on this machine's recorded runs). The range narrows as the run goes. The Seconds per generation chart shows the data.",
  championFitness:
    "The champion's fitness on its own generation's 1,000 training images (mean log-likelihood of the correct digit, averaged over the shared weights; 0 is perfect, −2.30 is guessing).",
  batchAccuracy:
    "The champion's accuracy on its own generation's 1,000 training images, averaged over the shared weights: a training figure, optimistic. Test accuracy is below.",
  testAccuracy: `${RUN_FIGURES.checkTestAccuracy.help} Published versions report the full test set.`,
  ensemble: RUN_FIGURES.ensembleTestAccuracy.help,
  trained: `${RUN_FIGURES.trainedTestAccuracy.help} "Train weights" on a shared-weight version makes one.`,
  chosenBy:
    'How the current champion was picked: by its fitness on a single training batch (the best ever seen), or by winning a re-check, where the best recent genome and the champion are evaluated on several more training batches.',
};

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

/**
 * The time left as a range ("1 h 40 m – 2 h 10 m"), fitted to the generations so far. With
 * patience on, the low end is the soonest the run can stop (its champion never changing again),
 * the high end the generation budget.
 */
function eta(): { text: string; title: string } {
  if (!run) return { text: '–', title: '' };
  if (ended) return { text: 'stopped: access ended', title: ended.message };
  // A finished run says how it ended: a cancelled or failed run is not "done".
  if (TERMINAL.has(run.status)) return { text: run.status === 'completed' ? 'done' : run.status, title: '' };
  if (run.status !== 'running') return { text: '–', title: '' };
  const patience = {
    generations: run.generations,
    recheckEvery: Number(run.config.recheckEvery ?? 0),
    patience: Number(run.config.patience ?? 0),
  };
  const earliest = earliestEnd(patience, run.generation, championSinceInRecords(rows));
  const range = estimateWithEarlyEnd(rows, run.generations, earliest);
  if (!range) return { text: 'after the first generation', title: '' };
  const early = earliest !== null && earliest < run.generations;
  return {
    text: `${formatRange(range)}${early ? ' (may stop early)' : ''}`,
    title: `likely ${formatSeconds(range.midS)}${early ? `; patience ${patience.patience} may end it from generation ${earliest - 1} on` : ''}`,
  };
}

/** The latest measured test accuracy of the champion, with its generation. */
function latestTest(): { gen: number; value: number } | null {
  for (let i = rows.length - 1; i >= 0; i--) {
    const value = rows[i].testAccuracy;
    if (typeof value === 'number') return { gen: rows[i].gen, value };
  }
  return null;
}

function chosenByText(): string {
  // The latest generation's record says how its champion was chosen (older run resources may not).
  const latest = rows.length ? rows[rows.length - 1].champion : null;
  const champion = (latest ?? run?.champion) as
    | (Run['champion'] & { chosenBy?: string; recheckedFitness?: number | null })
    | null;
  if (!champion) return '–';
  const batches = Number(run?.config.recheckBatches ?? 0);
  if (champion.chosenBy === 'recheck') {
    return `re-check${batches ? ` on ${batches} batches` : ''}${champion.recheckedFitness != null ? `, fitness ${fmt(champion.recheckedFitness)}` : ''}`;
  }
  return `best single batch${champion.recheckedFitness != null ? ` (re-checked: ${fmt(champion.recheckedFitness)})` : ''}`;
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
  const left = eta();
  const test = latestTest();
  // Each figure from its one definition (src/api/figures.ts): a trained version is never "ensemble".
  const ensemble = bestEnsembleFigure(models ?? []);
  const trained = bestTrainedFigure(models ?? []);
  const last = rows.length ? rows[rows.length - 1] : null;
  // [key (data-fact), label, value, explanation key]
  const facts: [string, string, string, string?][] = [
    ['Generation', 'Generation', `${run.generation} / ${run.generations}`],
    ['ETA', 'Time left (ETA)', left.text, 'eta'],
    ['Elapsed', 'Elapsed', duration(elapsed())],
    ['Champion fitness', 'Champion fitness (training batch)', fmt(run.bestFitness), 'championFitness'],
    [
      'Champion batch accuracy',
      'Champion accuracy (training batch)',
      pct(mean(champion?.accuracy)),
      'batchAccuracy',
    ],
    [
      'Champion test accuracy',
      RUN_FIGURES.checkTestAccuracy.label,
      test ? `${pct(test.value)} at gen ${test.gen}` : '–',
      'testAccuracy',
    ],
    [
      'Best published test accuracy',
      RUN_FIGURES.ensembleTestAccuracy.label,
      ensemble ? `${pct(ensemble.value)} (v${ensemble.version})` : '–',
      'ensemble',
    ],
    ...(trained
      ? [
          [
            'Best trained test accuracy',
            RUN_FIGURES.trainedTestAccuracy.label,
            `${pct(trained.value)} (v${trained.version})`,
            'trained',
          ] as [string, string, string, string],
        ]
      : []),
    ['Champion chosen by', 'Champion chosen by', chosenByText(), 'chosenBy'],
    ['Champion connections', 'Champion connections', champion ? String(champion.connections) : '–'],
    [
      'Objectives',
      'Objectives (latest generation)',
      last ? last.objectives.replace('+', ' + ') : '–',
      'objectives',
    ],
    ['Seed', 'Seed', String(run.config.seed)],
    ['Started', 'Started', when(run.timings.startedAt ?? run.timings.createdAt)],
  ];
  const list = byId('facts');
  const shown = [...list.querySelectorAll<HTMLElement>('dd[data-fact]')];
  if (shown.length === facts.length && shown.every((dd, i) => dd.dataset.fact === facts[i][0])) {
    // Only the values change: an open explanation stays open while generations arrive.
    shown.forEach((dd, i) => {
      dd.textContent = facts[i][2];
      if (facts[i][0] === 'ETA') dd.title = left.title;
    });
  } else {
    replace(
      list,
      ...facts.flatMap(([key, label, value, explain]) => [
        el('dt', {}, label, explain ? info(EXPLAIN[explain], key) : null),
        el('dd', { 'data-fact': key, title: key === 'ETA' ? left.title : null }, value),
      ]),
    );
  }
  const error = byId('run-error');
  error.hidden = !run.error;
  error.textContent = run.error ? `Error: ${run.error}` : '';
  // One line when patience ended the run before its budget (src/wann/patience.ts).
  const stop = byId('run-stop');
  stop.hidden = !run.stop;
  stop.textContent = run.stop ? `Completed early: ${describeStop(run.stop)}.` : '';
  renderOwnerActions();
  followFork?.();
}

/** Brings the fork form in line with the run (set by renderConfig for the owner; null before). */
let followFork: (() => void) | null = null;

/** Whether the owner's actions were last drawn for a finished run (null: not drawn yet). */
let actionsFinished: boolean | null = null;

function renderOwnerActions(): void {
  if (!owner || !run) return;
  // Drawn again only when the run finishes, not on every generation (a click may be under way).
  if (actionsFinished === TERMINAL.has(run.status)) return;
  actionsFinished = TERMINAL.has(run.status);
  const box = byId('owner-actions');
  const children: HTMLElement[] = [
    el('a', { href: '/', class: 'button secondary' }, '← All runs'),
    // The dashboard's start form, filled with this run's config and its seed cleared.
    el(
      'a',
      {
        href: `/?from=${run.id}#start-panel`,
        class: 'button secondary',
        id: 'new-run-from',
        title:
          'Open the start form filled with this configuration (dataset, name and tags too), the seed cleared',
      },
      'New run from this config',
    ),
  ];
  if (!TERMINAL.has(run.status)) {
    const cancel = el('button', { type: 'button', class: 'danger', id: 'cancel' }, 'Cancel run');
    cancel.addEventListener('click', async () => {
      const sure = await confirmAction(
        `Cancel run ${run!.id.slice(0, 8)} at generation ${run!.generation} of ${run!.generations}? It stops for good; its generations, champion and models stay, and you can fork it later.`,
        'Cancel the run',
      );
      if (!sure) return;
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
    const page: { generations: Row[]; next: string | null } = await requestJson(url);
    for (const g of page.generations) if (!rows.length || g.gen > rows[rows.length - 1].gen) rows.push(g);
    url = page.next ? local(page.next) : null;
  }
  // The history may be newer than the run read before it (the run moved on meanwhile): the stream
  // then starts after it and never sends those generations, so the run follows the history here,
  // or a run that ends meanwhile shows 'completed' at the older generation.
  const last = rows[rows.length - 1];
  if (run && last) advanceRun(last);
}

/** The run as of generation row `record`, when that is newer than what the page holds. */
function advanceRun(record: Row): void {
  if (!run || record.gen + 1 <= run.generation) return;
  run.generation = record.gen + 1;
  run.bestFitness = record.bestEverFitness;
  if (record.champion) run.champion = record.champion;
}

/** Why the page's access ended (the stream's `end` event), or null while it holds. */
let ended: StreamEnd | null = null;

/**
 * The run's event stream: generations and status while it runs, and (`models=1`) `model` events
 * for as long as the page is open, so what the CLI or another page does to the run's models (a
 * publication, a training moving or done) shows here without a reload.
 *
 * Each open stream holds one HTTP/1.1 connection for as long as it lasts, and a browser keeps at
 * most 6 to a host (`npm start` serves plain HTTP/1.1): with six run pages following in one
 * browser, every further request to the site, a navigation included, waited in the browser's
 * connection queue for good. So a page follows only while it is shown: hidden (a background tab,
 * a minimised window) or left, it closes its stream, and shown again it reopens it from its last
 * generation (`since`) and reads the models again, catching up on what it missed.
 */
let source: EventSource | null = null;

function follow(): void {
  if (!run || ended || source || document.visibilityState === 'hidden') return;
  const since = rows.length ? rows[rows.length - 1].gen : -1;
  const stream = new EventSource(`${mode!.api}/events?since=${since}&models=1`);
  source = stream;
  const live = byId('live');
  const showLive = () => {
    live.textContent = run && !TERMINAL.has(run.status) ? '● live' : '';
  };
  showLive();
  stream.addEventListener('generation', (e) => {
    const record: Row = JSON.parse((e as MessageEvent<string>).data);
    if (rows.length && record.gen <= rows[rows.length - 1].gen) return;
    rows.push(record);
    charts?.update(rows);
    if (run) {
      const hadChampion = run.champion !== null;
      advanceRun(record);
      renderSummary();
      scheduleChampion();
      // The first champion: the publish button and the champion download appear now.
      if (!hadChampion && run.champion && models) {
        renderModels();
        renderDownloads();
      }
    }
  });
  stream.addEventListener('status', (e) => {
    const snap = JSON.parse((e as MessageEvent<string>).data) as {
      status: Run['status'];
      error: string | null;
    } | null;
    if (!snap || !run) return;
    const was = run.status;
    run.status = snap.status;
    run.error = snap.error;
    renderSummary();
    showLive();
    // Final numbers (elapsed time, the model published at the end, before 'completed') from the API.
    if (TERMINAL.has(snap.status) && !TERMINAL.has(was)) void refreshRun(true);
  });
  stream.addEventListener('model', (e) => {
    const event = JSON.parse((e as MessageEvent<string>).data) as ModelEvent;
    onModelEvent(event);
  });
  stream.addEventListener('end', (e) => {
    const end = parseStreamEnd((e as MessageEvent<unknown>).data);
    if (!end || !accessEnded(end)) return; // e.g. reader_behind: EventSource reconnects and resumes
    stream.close();
    if (source === stream) source = null;
    ended = end;
    live.textContent = '';
    showAccessEnded(end);
    renderSummary();
  });
  stream.addEventListener('error', () => {
    if (ended) return;
    const closed = stream.readyState === EventSource.CLOSED;
    live.textContent = closed ? '' : '○ reconnecting…';
    // Refused for good (e.g. a 429 over the stream limit): shown again later, the page tries anew.
    if (closed && source === stream) source = null;
  });
  stream.addEventListener('open', showLive);
}

/**
 * A `model` event: a training's progress is shown in place; a publication or a training's end
 * reads the models again (the new version, its accuracies and links come from the list).
 */
function onModelEvent(event: ModelEvent): void {
  if (event.kind === 'training' && event.status === 'running' && models) {
    const m = models.find((x) => x.version === event.version);
    if (m) {
      m.training = {
        status: event.status,
        step: event.step,
        steps: event.steps,
        loss: event.loss,
        version: event.trainedVersion,
        error: event.error,
      };
      renderModels();
      return;
    }
  }
  void reloadModels();
}

/** Read the models again; events that arrive meanwhile make one more read, not one each. */
const reloadModels = coalescedRead(() => loadModels());

/** A fork: its parent's name under the title, and the parent's history dashed on the charts. */
async function showLineage(fork: Run): Promise<void> {
  try {
    const { rows: inherited, parentName, note } = await inheritedHistory(fork);
    renderForkLine(byId('fork-line'), fork, owner, parentName);
    charts?.setInherited(inherited);
    charts?.update(rows);
    if (note) byId('fork-line').append(` (${note})`);
  } catch (e) {
    byId('fork-line').append(` (the parent's history could not be read: ${(e as Error).message})`);
  }
}

/** Closes the event stream (its connection goes back to the browser at once). */
function unfollow(): void {
  source?.close();
  source = null;
  byId('live').textContent = '';
}

document.addEventListener('visibilitychange', () => {
  if (document.visibilityState === 'hidden') unfollow();
  else if (!source && !ended) {
    follow();
    // Model events sent while hidden were missed: the list is read again.
    if (models) void reloadModels();
  }
});
window.addEventListener('pagehide', unfollow);
// Back to a page kept in the back/forward cache: follow again from where it stopped.
window.addEventListener('pageshow', (e) => {
  if (e.persisted) follow();
});

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
  if (!run?.champion || run.champion.generation === shownChampionGen || championTimer || championLoading) {
    return;
  }
  if (shownChampionGen < 0) {
    replace(byId('network-svg'), el('p', { class: 'muted' }, 'Loading the champion network…'));
  }
  championTimer = setTimeout(async () => {
    championTimer = undefined;
    await loadChampion();
  }, 1000);
}

async function loadChampion(): Promise<void> {
  if (!run?.champion || championLoading) return;
  const gen = run.champion.generation;
  championLoading = true;
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
  } finally {
    championLoading = false;
  }
  // A newer champion seen meanwhile: read next.
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
  renderSummary();
  await renderDigit();
}

function variantText(m: ModelVersion): string {
  if (m.variant === 'trained') return `trained${m.trainedFrom ? ` (from v${m.trainedFrom})` : ''}`;
  return 'shared';
}

function trainingCell(m: ModelVersion): HTMLElement {
  const cell = el('td', { 'data-training': m.training?.status ?? 'none' });
  const t = m.training;
  if (t) {
    const text =
      t.status === 'done'
        ? `done → v${t.version ?? '?'}`
        : t.status === 'failed'
          ? `failed${t.error ? `: ${t.error}` : ''}`
          : `${t.status} ${t.step} / ${t.steps}${t.loss != null ? `, loss ${fmt(t.loss)}` : ''}`;
    cell.append(el('span', { class: 'small' }, text));
    if (t.status === 'queued' || t.status === 'running') {
      const fill = el('span', { class: 'fill' });
      fill.style.width = `${((100 * t.step) / Math.max(1, t.steps)).toFixed(0)}%`;
      cell.append(el('span', { class: 'mini-progress' }, fill));
    }
  }
  const canTrain = owner && m.variant !== 'trained' && (!t || t.status === 'failed');
  // Only where the server has the training route (its models carry the `training` field).
  if (canTrain && 'training' in m) {
    const train = el(
      'button',
      { type: 'button', class: 'secondary small', 'data-train': m.version },
      t?.status === 'failed' ? 'Train again' : 'Train weights',
    );
    train.title =
      'Train a weight for every connection of this network (gradient descent on the training set); the result is published as a new version.';
    train.addEventListener('click', async () => {
      train.disabled = true;
      try {
        const updated = await requestJson<ModelVersion>(`${mode!.api}/models/${m.version}/train`, {
          method: 'POST',
          body: {},
        });
        models = (models ?? []).map((x) => (x.version === updated.version ? updated : x));
        renderModels(); // its progress and end come as `model` events
      } catch (e) {
        train.disabled = false;
        fatal(`Training not started: ${(e as Error).message}`);
      }
    });
    cell.append(' ', train);
  }
  return cell;
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
    const anyTraining = list.some((m) => 'training' in m || m.variant !== undefined);
    children.push(
      el(
        'p',
        { class: 'scroll-hint small muted', id: 'models-scroll-hint', hidden: true },
        'The table scrolls sideways →',
      ),
      el(
        'div',
        { class: 'table-wrap scroll-cue', id: 'models-wrap' },
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
                ['Version', ''],
                ['Weights', 'shared weight (weight-agnostic) or trained per-connection weights'],
                ['Gen.', 'generation of the champion published'],
                ['Mean test acc.', RUN_FIGURES.meanTestAccuracy.help],
                ['Ensemble', RUN_FIGURES.ensembleTestAccuracy.help],
                ['Tuned weight', 'the weight tuned on training data → its test accuracy'],
                ['Conns', 'enabled connections'],
                ['Hidden', 'hidden nodes'],
                ...(anyTraining ? [['Training', 'training per-connection weights from this version']] : []),
                ['', ''],
              ].map(([h, title]) => el('th', { title: title || null }, h)),
            ),
          ),
          el(
            'tbody',
            {},
            ...sorted.map((m) =>
              el(
                'tr',
                { 'data-version': m.version, 'data-variant': m.variant ?? 'shared' },
                el('td', {}, `v${m.version}`),
                el('td', {}, variantText(m)),
                el('td', {}, m.generation),
                // A trained version has one set of weights: no mean over weights, no ensemble.
                el('td', {}, pct(versionMeanAccuracy(m))),
                el('td', {}, pct(versionEnsembleAccuracy(m))),
                el(
                  'td',
                  {},
                  m.variant === 'trained' ? '–' : `${m.tunedWeight} → ${pct(m.tunedTestAccuracy)}`,
                ),
                el('td', {}, m.connections),
                el('td', {}, m.hiddenNodes),
                anyTraining ? trainingCell(m) : null,
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
      publish.textContent = 'Publishing… (evaluates the champion on the full test set)';
      try {
        const res = await request(`${mode!.api}/publish`, { method: 'POST' });
        const version = (await res.json()) as ModelVersion;
        // 200: this champion was published before (a finished run publishes it at the end); say so,
        // or the click would seem to do nothing.
        publishNote =
          res.status === 201
            ? `Published v${version.version} (the champion of generation ${version.generation}).`
            : `The current champion (generation ${version.generation}) is already published as v${version.version}.`;
        await loadModels();
      } catch (e) {
        publish.disabled = false;
        publish.textContent = 'Publish the champion now';
        fatal(`Publishing failed: ${(e as Error).message}`);
      }
    });
    children.push(
      el(
        'div',
        { class: 'row wrap' },
        publish,
        el('span', { id: 'publish-note', role: 'status', class: 'small muted' }, publishNote ?? ''),
      ),
    );
  }
  replace(body, ...children);
  showScrollHint();
  const figure = byId('signature-figure');
  figure.hidden = list.length === 0;
  if (list.length) signatureChart(byId('chart-signature'), list);
}

/** At phone width the table is wider than the screen: say so (the edge shadow shows it too). */
function showScrollHint(): void {
  const wrap = document.getElementById('models-wrap');
  const hint = document.getElementById('models-scroll-hint');
  if (wrap && hint) hint.hidden = wrap.scrollWidth <= wrap.clientWidth + 1;
}
window.addEventListener('resize', showScrollHint);

/** The versions the draw panel was mounted with (it is mounted again when one is added). */
let digitModel: string | null = null;

async function renderDigit(): Promise<void> {
  const root = byId('digit-body');
  // Every published version can be picked (trained ones too); the newest is shown first.
  const list = models ?? [];
  if (list.length === 0) {
    replace(
      root,
      el(
        'p',
        { class: 'muted', id: 'digit-none' },
        `No published model yet: ${tryPanel(await runDataset(mode!.api)).verb} needs one.${owner ? ' Publish the champion above.' : ''}`,
      ),
    );
    return;
  }
  const versions = list.map((m) => m.version).join(',');
  if (digitModel === versions) return;
  digitModel = versions;
  const canPredict = owner || run?.access?.scope === 'view+predict';
  // What the model takes decides the panel: a drawing (single-channel images) or a row of features.
  const panel = tryPanel(await runDataset(mode!.api));
  if (panel.kind === 'table') {
    // The form runs the newest shared-weight version (the newest version where none has shared weights).
    const latest = list.reduce<ModelVersion>((a, m) => {
      const shared = (v: ModelVersion) => v.weights.length > 0;
      if (shared(m) !== shared(a)) return shared(m) ? m : a;
      return m.version > a.version ? m : a;
    }, list[0]);
    const { mountFeatureForm } = await import('./feature-form');
    mountFeatureForm(root, {
      model: latest,
      dataset: panel.dataset,
      inferUrl: canPredict && latest.urls.infer ? local(latest.urls.infer) : null,
      // A link holder's page has no session: its link's token (in the page's address) is its credential.
      authorization: mode!.kind === 'share' ? `Bearer ${mode!.api.split('/')[2]}` : null,
    });
    return;
  }
  if (panel.kind === 'none') {
    replace(root, el('p', { class: 'muted', id: 'digit-none' }, panel.reason));
    return;
  }
  const { mountDigitPicker } = await import('./digit');
  mountDigitPicker(root, {
    models: list,
    predictUrl: canPredict ? `${mode!.api}/predict` : null,
    geometry: panel.geometry,
  });
}

// ------------------------------------------------------------------------------------------------
// Downloads, configuration, fork, share links

function downloadButton(label: string, url: string, filename: string, accept?: string): HTMLButtonElement {
  const button = el('button', { type: 'button', class: 'secondary', 'data-download': label }, label);
  button.disabled = ended !== null;
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
  renderFields(
    fields,
    { ...base, generations: Math.max(run.generations, run.generation + 10) },
    ['population'],
    { estimate: false },
  );
  // The generation it continues from is the run's latest, read when the form is shown and used.
  const continuesFrom = () => run?.generation ?? 0;
  // Name and tags of the fork (the server's defaults, shown so they can be changed).
  const identityBox = identityFields('fork', {
    name: `${run.name || run.id.slice(0, 8)} (fork)`,
    tags: run.tags,
  });
  const estimate = el('p', { class: 'estimate small', id: 'fork-estimate', 'aria-live': 'polite' });
  const lead = el('p', { class: 'small muted', id: 'fork-lead' });
  const showEstimate = () => {
    lead.textContent = `Continues from generation ${continuesFrom()} with the same population and dataset; only changed fields are sent.`;
    explainForkGenerations(fields, continuesFrom());
    estimate.textContent = forkEstimate(readFields(fields).generations, continuesFrom());
  };
  showEstimate();
  fields.addEventListener('input', showEstimate);
  const error = el('p', { class: 'error', hidden: true });
  const submit = el('button', { type: 'submit' }, 'Fork with these changes');
  const form = el(
    'form',
    { id: 'fork-form' },
    identityBox,
    fields,
    estimate,
    error,
    el('div', { class: 'row wrap' }, submit),
  );
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    error.hidden = true;
    clearFieldErrors(fields);
    showIdentityErrors(identityBox, null);
    submit.disabled = true;
    try {
      const edits = changedFields(readFields(fields), base);
      const fork = await requestJson<Run>(`${mode!.api}/fork`, {
        method: 'POST',
        body: { ...edits, ...readIdentity(identityBox) },
      });
      location.assign(`/runs/${fork.id}`);
    } catch (err) {
      // Errors that name a field are shown next to it; the line below says what happened.
      const marked =
        err instanceof HttpError && err.code === 'invalid_identity'
          ? showIdentityErrors(identityBox, err)
          : showFieldErrors(fields, err);
      error.textContent = marked.length
        ? `Not forked: see the highlighted field${marked.length > 1 ? 's' : ''}.`
        : `Not forked: ${describeConfigError((err as Error).message)}`;
      error.hidden = false;
      submit.disabled = false;
    }
  });
  const details = el('details', {}, el('summary', {}, 'Fork with changes'), lead, form);
  // The run moves on after the form is drawn: its budget (unless edited) and the texts follow it
  // as each generation or status arrives (renderSummary), so what the form says is right the moment
  // it opens, not one 'toggle' event later; the estimate, a fit over every row, only while open.
  followFork = () => {
    if (!run) return;
    const generations = fields.querySelector<HTMLInputElement>('#cfg-generations');
    if (generations && generations.value === generations.defaultValue) {
      generations.value = String(Math.max(run.generations, run.generation + 10));
      generations.defaultValue = generations.value;
    }
    if (details.open) showEstimate();
    else {
      lead.textContent = `Continues from generation ${continuesFrom()} with the same population and dataset; only changed fields are sent.`;
      explainForkGenerations(fields, continuesFrom());
    }
  };
  details.addEventListener('toggle', () => {
    if (details.open) followFork?.();
  });
  replace(byId('fork'), details);
}

/** The fork form's generations field says it is a total, counting what the fork continues from. */
function explainForkGenerations(fields: HTMLElement, from: number): void {
  const help = fields.querySelector('#cfg-generations')?.closest('.field')?.querySelector('small');
  if (help) help.textContent = `total, counting the ${from} it continues from`;
}

/** "Runs generations 120 → 200 (80 more); estimated time 3 m – 5 m, likely 4 m". */
function forkEstimate(total: unknown, from: number): string {
  const n = Number(total);
  if (!Number.isInteger(n) || n <= from)
    return `Generations must be more than ${from}, the generation it continues from.`;
  const more = `Runs generations ${from} → ${n} (${n - from} more)`;
  const range = estimateRemaining(rows, n);
  if (!range) return `${more}; the time is estimated once this run has finished a generation.`;
  return `${more}; estimated time ${formatRange(range)}, likely ${formatSeconds(range.midS)} (fitted to this run's generations).`;
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
      const { links } = await requestJson<ShareLinkList>(`${mode!.api}/share`);
      replace(
        list,
        ...links.map((l) => {
          const revoke = el(
            'button',
            { type: 'button', class: 'secondary small', 'data-revoke': l.id },
            'Revoke',
          );
          revoke.addEventListener('click', async () => {
            const sure = await confirmAction(
              `Revoke this ${l.scope} link? Anyone who has it loses access at once, open pages included. It cannot be undone (you can create a new link).`,
              'Revoke the link',
            );
            if (!sure) return;
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
      const link = await requestJson<CreatedShareLink>(`${mode!.api}/share`, {
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
  // Name, tags and notes (the owner edits them in place).
  mountRunIdentity(byId('run-identity'), {
    run,
    api: mode.api,
    owner,
    onChange: (edited) =>
      run && Object.assign(run, { name: edited.name, tags: edited.tags, notes: edited.notes }),
  });
  renderSummary();
  renderConfig();
  void runDataset(mode.api).then((dataset) => {
    renderRunDataset(dataset, run!, owner);
    renderRunBaseline(dataset);
  });
  for (const slot of document.querySelectorAll<HTMLElement>('[data-explain]')) {
    const key = slot.dataset.explain!;
    if (EXPLAIN[key]) slot.replaceWith(info(EXPLAIN[key], key));
  }
  const forked = run.forkOf !== null && run.forkOf.generation > 0;
  charts = new SearchCharts(
    {
      fitness: byId('chart-fitness'),
      accuracy: byId('chart-accuracy'),
      size: byId('chart-size'),
      speed: byId('chart-speed'),
    },
    forked,
  );
  renderForkLine(byId('fork-line'), run, owner, null);
  if (forked) void showLineage(run);
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
