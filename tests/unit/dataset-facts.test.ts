/**
 * What the pages say about a run's dataset (public/src/dataset-facts.ts): the baseline line shown
 * only when it is ready, the draw panel only for single-channel images at their preprocessed size,
 * the tabular form's fields and values, and the compare page's warning for mixed datasets.
 */
import { describe, expect, it } from 'vitest';
import {
  baselineText,
  configDatasetKey,
  datasetDescription,
  datasetMixNote,
  drawGeometry,
  featureFields,
  parseFeatureValues,
  tryPanel,
} from '../../public/src/dataset-facts';
import type { DatasetBaseline, DatasetResource } from '../../src/api/types';
import { type DatasetManifest, FASHION_MNIST, MNIST } from '../../src/data/dataset';

const table: DatasetResource = {
  name: 'levels',
  kind: 'tabular',
  rawShape: [3],
  features: 3,
  classes: ['high', 'low', 'mid'],
  splits: { train: 540, test: 60 },
  shards: { train: 1, test: 1, rowsPerShard: 1000 },
  preprocessing: { kind: 'tabular', mean: [0.0123456789, 1500, -2], std: [0.01, 300, 1] },
  sourceHash: 'sha256:x',
  inputShape: [-1, 3],
  preprocessedInputShape: [-1, 3],
};

const ready: DatasetBaseline = {
  status: 'ready',
  epochs: 10,
  weights: 2570,
  validationAccuracy: 0.95,
  testAccuracy: 0.94551,
  error: null,
};

describe('the baseline line', () => {
  it('names the model, its weight count and its test accuracy when ready', () => {
    expect(baselineText(ready)).toBe('single-layer baseline (softmax regression, 2,570 weights): 94.55 %');
  });

  it.each([
    ['absent', undefined],
    ['null', null],
    ['queued', { ...ready, status: 'queued', testAccuracy: null }],
    ['running', { ...ready, status: 'running', testAccuracy: null }],
    ['failed', { ...ready, status: 'failed', testAccuracy: null, error: 'boom' }],
    ['ready without a figure', { ...ready, testAccuracy: null }],
  ] as const)('shows nothing when %s', (_, baseline) => {
    expect(baselineText(baseline as DatasetBaseline | null | undefined)).toBeNull();
  });
});

describe('the draw panel', () => {
  it('fits MNIST as before: 28×28 drawn, 16×16 deskewed, digits', () => {
    expect(drawGeometry(MNIST)).toEqual({
      rawWidth: 28,
      rawHeight: 28,
      width: 16,
      height: 16,
      deskew: true,
      mnist: true,
      classes: MNIST.classes,
    });
  });

  it('fits another single-channel image set at its own sizes, with its class names', () => {
    const wide = {
      ...FASHION_MNIST,
      name: 'wide',
      rawShape: [20, 30],
      preprocessing: { kind: 'image' as const, width: 12, height: 8, deskew: false },
    };
    expect(drawGeometry(wide)).toMatchObject({
      rawWidth: 30,
      rawHeight: 20,
      width: 12,
      height: 8,
      deskew: false,
      mnist: false,
      classes: FASHION_MNIST.classes,
    });
    expect(drawGeometry({ ...wide, rawShape: [20, 30, 1] })).not.toBeNull();
  });

  it('does not fit tables or colour images', () => {
    expect(drawGeometry(table)).toBeNull();
    expect(drawGeometry({ ...FASHION_MNIST, rawShape: [28, 28, 3] })).toBeNull();
  });
});

describe('the tabular form', () => {
  it('has one field per feature, labelled by position, prefilled with the training means', () => {
    expect(featureFields(table)).toEqual([
      { label: 'feature 1', value: 0.0123457 },
      { label: 'feature 2', value: 1500 },
      { label: 'feature 3', value: -2 },
    ]);
    expect(featureFields(MNIST)).toBeNull();
  });

  it('labels each field with its CSV column name where the manifest keeps them', () => {
    const named = { ...table, featureNames: ['tiny', 'large', 'negative'] };
    expect(featureFields(named)?.map((f) => f.label)).toEqual(['tiny', 'large', 'negative']);
    expect(parseFeatureValues(['1', 'x', '3'], ['tiny', 'large', 'negative'])).toEqual({
      error: "large: 'x' is not a number",
    });
  });

  it('takes finite numbers and names the first field that is not one', () => {
    expect(parseFeatureValues(['1', ' -2.5 ', '1e3'])).toEqual({ values: [1, -2.5, 1000] });
    expect(parseFeatureValues(['1', '', '3'])).toEqual({ error: "feature 2: '' is not a number" });
    expect(parseFeatureValues(['1', '2', 'x'])).toEqual({ error: "feature 3: 'x' is not a number" });
    expect(parseFeatureValues(['Infinity'])).toEqual({ error: "feature 1: 'Infinity' is not a number" });
  });
});

describe('a run’s dataset', () => {
  it('is mnist when the config names none (MNIST runs record no dataset)', () => {
    expect(configDatasetKey({ seed: 1 })).toBe('mnist');
    expect(configDatasetKey({ dataset: 'fashion-mnist' })).toBe('fashion-mnist');
    expect(configDatasetKey({ dataset: 'u-0123456789abcdef' })).toBe('u-0123456789abcdef');
  });

  it('is described by kind, sizes and classes', () => {
    expect(datasetDescription(MNIST)).toBe('image 28×28 → 16×16 (deskewed), 10 classes');
    expect(datasetDescription(FASHION_MNIST)).toBe('image 28×28 → 16×16, 10 classes');
    expect(datasetDescription(table)).toBe('tabular, 3 features → 3 classes');
  });

  it('is called out on the compare page only when the runs differ in it', () => {
    expect(datasetMixNote(['mnist', 'mnist'])).toBeNull();
    expect(datasetMixNote(['mnist', 'levels', 'mnist'])).toBe(
      'These runs are on different datasets (mnist, levels): their fitness and accuracies measure different tasks and are not comparable.',
    );
  });
});

/** A built-in's manifest as the API serves it (the shapes do not matter here). */
const served = (m: DatasetManifest): DatasetResource => ({
  ...m,
  inputShape: [-1],
  preprocessedInputShape: [-1],
});

describe('the panel that tries the model', () => {
  it('draws digits on MNIST exactly as before, and on a server that names no dataset', () => {
    expect(tryPanel(served(MNIST))).toEqual({
      kind: 'draw',
      geometry: drawGeometry(MNIST),
      verb: 'drawing a digit',
    });
    expect(tryPanel(null)).toEqual({ kind: 'draw', geometry: undefined, verb: 'drawing a digit' });
  });

  it('draws other single-channel images, takes a row for a table, and nothing for colour images', () => {
    expect(tryPanel(served(FASHION_MNIST))).toMatchObject({ kind: 'draw', verb: 'drawing an image' });
    expect(tryPanel(table)).toMatchObject({ kind: 'table', dataset: table });
    expect(tryPanel(served({ ...FASHION_MNIST, rawShape: [28, 28, 3] }))).toMatchObject({ kind: 'none' });
  });
});
