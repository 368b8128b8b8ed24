/**
 * The run page's dataset: read once from the run's own route (`…/dataset`, which a share link may
 * read too), shown under the run's summary (name linked to the datasets page for the owner, kind,
 * features → classes), its baseline beside the published models' figures, and which "try the
 * model" panel fits it (a drawing for single-channel images, a row of features for tables).
 */
import type { DatasetResource } from '../../src/api/types';
import { type Run, requestJson } from './api';
import {
  baselineText,
  configDatasetKey,
  DEFAULT_DATASET,
  type DrawGeometry,
  datasetDescription,
  datasetPageUrl,
  drawGeometry,
} from './dataset-facts';
import { byId, el, replace } from './dom';

let loading: Promise<DatasetResource | null> | null = null;

/** The run's dataset resource, read once per page (null: the server could not say). */
export function runDataset(api: string): Promise<DatasetResource | null> {
  loading ??= requestJson<DatasetResource>(`${api}/dataset`).catch(() => null);
  return loading;
}

export type TryPanel =
  | { kind: 'draw'; geometry: DrawGeometry | undefined; verb: string }
  | { kind: 'table'; dataset: DatasetResource; verb: string }
  | { kind: 'none'; reason: string; verb: string };

/**
 * The panel that lets a viewer try the model. Without the dataset resource (a server from before
 * datasets), the draw panel as it always was: every run there searched MNIST.
 */
export function tryPanel(dataset: DatasetResource | null): TryPanel {
  if (!dataset) return { kind: 'draw', geometry: undefined, verb: 'drawing a digit' };
  if (dataset.kind === 'tabular') return { kind: 'table', dataset, verb: 'trying the model' };
  const geometry = drawGeometry(dataset);
  if (!geometry) {
    return {
      kind: 'none',
      reason: `The model of ${dataset.name} takes ${dataset.rawShape.join('×')} images: no drawing panel for them.`,
      verb: 'trying the model',
    };
  }
  return {
    kind: 'draw',
    geometry,
    verb: geometry.mnist ? 'drawing a digit' : 'drawing an image',
  };
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
