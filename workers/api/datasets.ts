/**
 * Datasets as API resources (read-only; the built-ins of src/data/dataset.ts whose shards are in
 * R2). The owner lists them (`GET /api/datasets`) and reads a manifest (`GET /api/datasets/:name`);
 * a share link reads only its own run's (`GET /s/<token>/api/run/dataset`, or with its bearer token
 * `GET /api/runs/:id/dataset`: that route is the run's, runs.ts). Starting a run checks its dataset
 * here first.
 */
import { Hono } from 'hono';
import type { DatasetList, DatasetResource } from '../../src/api/types';
import {
  BUILTIN_DATASETS,
  buildCommand,
  builtinDataset,
  type DatasetManifest,
  DEFAULT_DATASET,
  preprocessedShape,
  rawFeatures,
} from '../../src/data/dataset';
import { testShardKey, trainShardKey } from '../contracts/blob-keys';
import { requireOwnerRead } from './auth';
import type { Env } from './env';
import { ApiError } from './errors';

export function datasetResource(manifest: DatasetManifest): DatasetResource {
  const preprocessed = preprocessedShape(manifest).reduce((a, b) => a * b, 1);
  return { ...manifest, inputShape: [-1, rawFeatures(manifest)], preprocessedInputShape: [-1, preprocessed] };
}

/**
 * Whether a built-in's shards are in R2 (its first training and test shard: `npm start` uploads a
 * dataset whole). MNIST is always taken as loaded, as it was before datasets existed.
 */
export async function isDatasetLoaded(bucket: R2Bucket, manifest: DatasetManifest): Promise<boolean> {
  if (manifest.name === DEFAULT_DATASET) return true;
  const [train, test] = await Promise.all([
    bucket.head(trainShardKey(0, manifest.name)),
    bucket.head(testShardKey(0, manifest.name)),
  ]);
  return train !== null && test !== null;
}

/**
 * The dataset a new run names, checked: unknown is a 400, a built-in whose shards are not loaded
 * a 409 naming the command that builds them.
 */
export async function requireLoadedDataset(bucket: R2Bucket, name: string): Promise<DatasetManifest> {
  const manifest = builtinDataset(name);
  if (!manifest) {
    throw new ApiError(
      400,
      'unknown_dataset',
      `dataset: no dataset named '${name}'; built-in datasets: ${BUILTIN_DATASETS.map((d) => d.name).join(', ')}`,
    );
  }
  if (!(await isDatasetLoaded(bucket, manifest))) {
    throw new ApiError(
      409,
      'dataset_not_loaded',
      `dataset: the shards of '${name}' are not loaded; build them with \`${buildCommand(name)}\`, then restart \`npm start\``,
    );
  }
  return manifest;
}

export const datasetsApp = new Hono<{ Bindings: Env }>()
  .get('/', requireOwnerRead, async (c) => {
    const loaded = await Promise.all(BUILTIN_DATASETS.map((d) => isDatasetLoaded(c.env.BLOBS, d)));
    const list: DatasetList = { datasets: BUILTIN_DATASETS.filter((_, i) => loaded[i]).map(datasetResource) };
    return c.json(list);
  })
  .get('/:name', requireOwnerRead, async (c) => {
    const name = c.req.param('name');
    const manifest = builtinDataset(name);
    if (!manifest || !(await isDatasetLoaded(c.env.BLOBS, manifest))) {
      throw new ApiError(404, 'dataset_not_found', `no loaded dataset named '${name}'`);
    }
    return c.json(datasetResource(manifest));
  });
