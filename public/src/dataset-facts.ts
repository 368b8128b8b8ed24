/**
 * What the pages say about a run's dataset, as plain strings and numbers (no DOM here, so the unit
 * tests run it in Node): its name as a run's config records it, a one-line description, the
 * baseline beside the WANN's figures, whether the draw panel fits it, and the tabular form's fields.
 */
import type { DatasetBaseline, DatasetResource } from '../../src/api/types';

/** The dataset a config without a `dataset` field searched on (MNIST runs record none). */
export const DEFAULT_DATASET = 'mnist';

/**
 * The dataset key of a run's config: a built-in's name or an upload's id as the run records it,
 * `mnist` when the config names none.
 */
export function configDatasetKey(config: Record<string, unknown>): string {
  return typeof config.dataset === 'string' && config.dataset ? config.dataset : DEFAULT_DATASET;
}

/**
 * Where the datasets page shows one dataset. One place, so the page's final address is changed
 * here only.
 */
export function datasetPageUrl(name: string): string {
  return `/datasets?dataset=${encodeURIComponent(name)}`;
}

/** "image 28×28 → 16×16, 10 classes" or "tabular, 12 features → 3 classes". */
export function datasetDescription(
  d: Pick<DatasetResource, 'kind' | 'rawShape' | 'features' | 'classes' | 'preprocessing'>,
): string {
  const classes = `${d.classes.length} class${d.classes.length === 1 ? '' : 'es'}`;
  const p = d.preprocessing;
  if (p.kind === 'image') {
    const raw = `${d.rawShape[1] ?? d.rawShape[0]}×${d.rawShape[0]}`;
    const size = `${p.width}×${p.height}`;
    return `image ${raw}${raw === size ? '' : ` → ${size}`}${p.deskew ? ' (deskewed)' : ''}, ${classes}`;
  }
  return `tabular, ${d.features} feature${d.features === 1 ? '' : 's'} → ${classes}`;
}

/**
 * The baseline line shown beside ensemble / tuned / trained, or null when there is none to show
 * (absent, not computed yet, failed, or without a test figure): the pages then show nothing.
 */
export function baselineText(baseline: DatasetBaseline | null | undefined): string | null {
  if (baseline?.status !== 'ready' || baseline.testAccuracy === null) return null;
  const weights = baseline.weights.toLocaleString('en-US');
  return `single-layer baseline (softmax regression, ${weights} weights): ${(baseline.testAccuracy * 100).toFixed(2)} %`;
}

/** The draw panel's geometry for a dataset, or null when a drawing is no input for it. */
export interface DrawGeometry {
  /** The raw image a client sends (what the canvas is reduced to). */
  rawWidth: number;
  rawHeight: number;
  /** What the network sees. */
  width: number;
  height: number;
  deskew: boolean;
  /** MNIST keeps its own fixed path (src/data/preprocess.ts), exactly as before datasets existed. */
  mnist: boolean;
  classes: readonly string[];
}

/**
 * Whether a drawing is an input for the dataset: single-channel images only ([H, W] or [H, W, 1]).
 * Tables and colour images get no draw panel.
 */
export function drawGeometry(
  d: Pick<DatasetResource, 'name' | 'kind' | 'rawShape' | 'classes' | 'preprocessing'>,
): DrawGeometry | null {
  const p = d.preprocessing;
  if (d.kind !== 'image' || p.kind !== 'image') return null;
  const [h, w, channels] = d.rawShape;
  if (w === undefined || (channels !== undefined && channels !== 1)) return null;
  return {
    rawWidth: w,
    rawHeight: h,
    width: p.width,
    height: p.height,
    deskew: p.deskew,
    mnist: d.name === DEFAULT_DATASET,
    classes: d.classes,
  };
}

/** One field of the tabular form: its label and its starting value. */
export interface FeatureField {
  label: string;
  value: number;
}

/** Feature `i`'s name (0-based): its CSV column's, or "feature i+1" where the manifest has none. */
export function featureName(d: Pick<DatasetResource, 'featureNames'>, i: number): string {
  return d.featureNames?.[i] ?? `feature ${i + 1}`;
}

/**
 * The tabular form's fields: one per feature, labelled with its column name, prefilled with the
 * training split's mean (a typical row, not one from the test split).
 */
export function featureFields(
  d: Pick<DatasetResource, 'features' | 'preprocessing' | 'featureNames'>,
): FeatureField[] | null {
  const p = d.preprocessing;
  if (p.kind !== 'tabular') return null;
  return Array.from({ length: d.features }, (_, i) => ({
    label: featureName(d, i),
    value: Number((p.mean[i] ?? 0).toPrecision(6)),
  }));
}

/**
 * Parses the form's values: every field a finite number, or the message naming the first that is
 * not (1-based, as the labels are).
 */
export function parseFeatureValues(
  texts: readonly string[],
  names: readonly string[] = [],
): { values: number[] } | { error: string } {
  const values: number[] = [];
  for (let i = 0; i < texts.length; i++) {
    const text = texts[i].trim();
    const value = text === '' ? Number.NaN : Number(text);
    if (!Number.isFinite(value))
      return { error: `${names[i] ?? `feature ${i + 1}`}: '${texts[i]}' is not a number` };
    values.push(value);
  }
  return { values };
}

/**
 * The compare page's sentence when the runs are on different datasets (null when all share one):
 * their accuracies measure different tasks.
 */
export function datasetMixNote(datasets: readonly string[]): string | null {
  const distinct = [...new Set(datasets)];
  if (distinct.length < 2) return null;
  return `These runs are on different datasets (${distinct.join(', ')}): their fitness and accuracies measure different tasks and are not comparable.`;
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
