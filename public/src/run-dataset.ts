/**
 * The run page's dataset: read once from the run's own route (`…/dataset`, which a share link may
 * read too), shown under the run's summary (name linked to the datasets page for the owner, kind,
 * features → classes), its baseline beside the published models' figures, and which "try the
 * model" panel fits it (dataset-facts.ts `tryPanel`).
 */
import type { DatasetResource } from '../../src/api/types';
import { type Run, requestJson } from './api';
import {
  baselineText,
  configDatasetKey,
  DEFAULT_DATASET,
  datasetDescription,
  datasetPageUrl,
  type TryPanel,
  tryPanel,
} from './dataset-facts';
import { byId, el, replace } from './dom';

let loading: Promise<DatasetResource | null> | null = null;

/** The run's dataset resource, read once per page (null: the server could not say). */
export function runDataset(api: string): Promise<DatasetResource | null> {
  loading ??= requestJson<DatasetResource>(`${api}/dataset`).catch(() => null);
  return loading;
}

const PANEL_TITLES: Record<TryPanel['kind'], string | null> = {
  draw: null,
  table: 'Try the model',
  none: 'Try the model',
};

/**
 * The dataset line under the summary (created once, after the facts), and the try-the-model
 * panel's heading for a dataset that is no digits.
 */
export function renderRunDataset(dataset: DatasetResource | null, run: Run, owner: boolean): void {
  let line = document.getElementById('run-dataset');
  if (!line) {
    line = el('p', { id: 'run-dataset', class: 'small' });
    byId('facts').before(line);
  }
  const key = configDatasetKey(run.config);
  const name = dataset?.name ?? key;
  // The datasets page is the owner's: a link holder sees the name only.
  const label = owner
    ? el('a', { href: datasetPageUrl(name), id: 'run-dataset-name' }, name)
    : el('strong', { id: 'run-dataset-name' }, name);
  replace(
    line,
    'Dataset: ',
    label,
    dataset
      ? ` · ${datasetDescription(dataset)}`
      : key === DEFAULT_DATASET
        ? ''
        : ' (its manifest could not be read)',
  );
  line.dataset.kind = dataset?.kind ?? '';
  nameConfigDataset(dataset);
  const panel = tryPanel(dataset);
  const title =
    PANEL_TITLES[panel.kind] ??
    (panel.kind === 'draw' && panel.geometry && !panel.geometry.mnist ? 'Draw an image' : null);
  if (title) {
    const heading = document.querySelector('#digit h2');
    if (heading) heading.textContent = title;
  }
}

/**
 * The Configuration list's `dataset` entry by name: the config records an upload by its id
 * (`u-…`, a name may be reused after a delete), which says nothing to a reader; the id stays in
 * its tooltip.
 */
function nameConfigDataset(dataset: DatasetResource | null): void {
  if (!dataset) return;
  for (const term of document.querySelectorAll('#config-facts dt')) {
    const value = term.nextElementSibling;
    if (term.textContent !== 'dataset' || !(value instanceof HTMLElement)) continue;
    if (value.textContent !== dataset.name) {
      value.title = `recorded as ${value.textContent}`;
      value.textContent = dataset.name;
    }
  }
}

/**
 * The dataset's single-layer baseline beside the published models' ensemble / tuned / trained
 * figures (nothing when the dataset has none ready).
 */
export function renderRunBaseline(dataset: DatasetResource | null): void {
  const text = baselineText(dataset?.baseline);
  let line = document.getElementById('run-baseline');
  if (!text) {
    line?.remove();
    return;
  }
  if (!line) {
    line = el('p', { id: 'run-baseline', class: 'small' });
    byId('models-body').after(line);
  }
  line.textContent = `Beside these: ${text} on the same test split.`;
}
