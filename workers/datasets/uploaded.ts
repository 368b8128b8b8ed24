/**
 * Uploaded datasets as D1 rows (`datasets`, schema.ts): finding one by name or id, and its API
 * resource. The API (upload, list, delete) and the queued build (build.ts) share these.
 */
import { eq, or } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/d1';
import { z } from 'zod';
import { type DatasetRow, datasets } from '../../schema/schema';
import type { DatasetResource, UploadedDataset } from '../../src/api/types';
import {
  builtinDataset,
  type DatasetManifest,
  DatasetUnavailableError,
  DEFAULT_DATASET,
  datasetManifestSchema,
  preprocessedShape,
  rawFeatures,
} from '../../src/data/dataset';

/** How an upload is to be built, as its row stores it. */
export const uploadOptionsSchema = z.strictObject({
  label: z.string().min(1).max(200).optional(),
  testFraction: z.number().gt(0).lt(1),
  seed: z.number().int().min(0).max(0xffffffff),
});
export type UploadOptions = z.infer<typeof uploadOptionsSchema>;

/** A manifest with the input shapes a model of it takes (the API's dataset resource). */
export function datasetResource(manifest: DatasetManifest): DatasetResource {
  const preprocessed = preprocessedShape(manifest).reduce((a, b) => a * b, 1);
  return { ...manifest, inputShape: [-1, rawFeatures(manifest)], preprocessedInputShape: [-1, preprocessed] };
}

/** The uploaded dataset named or numbered `nameOrId`, or undefined. */
export async function findUploadedDataset(db: D1Database, nameOrId: string): Promise<DatasetRow | undefined> {
  return drizzle(db)
    .select()
    .from(datasets)
    .where(or(eq(datasets.id, nameOrId), eq(datasets.name, nameOrId)))
    .get();
}

/** A ready row's manifest (checked: D1 holds JSON this code wrote, but a schema drift should fail loudly). */
export function uploadedManifest(row: DatasetRow): DatasetManifest | null {
  return row.status === 'ready' && row.manifest !== null ? datasetManifestSchema.parse(row.manifest) : null;
}

/**
 * The manifest of the dataset a run's config names (`dataset`: absent = MNIST, a built-in's name,
 * or an upload's id as the run records it): a built-in's from code, an upload's from its ready D1
 * row. A dataset that is unknown or not ready is a DatasetUnavailableError saying which.
 */
export async function runDatasetManifest(
  db: D1Database,
  dataset: string | undefined,
): Promise<DatasetManifest> {
  const name = dataset ?? DEFAULT_DATASET;
  const builtin = builtinDataset(name);
  if (builtin) return builtin;
  const row = await findUploadedDataset(db, name);
  const manifest = row ? uploadedManifest(row) : null;
  if (!manifest) {
    throw new DatasetUnavailableError(
      row ? `dataset '${row.name}' (${row.id}) is ${row.status}, not ready` : `no dataset '${name}'`,
    );
  }
  return manifest;
}

export function uploadedDatasetResource(row: DatasetRow): UploadedDataset {
  const manifest = uploadedManifest(row);
  return {
    id: row.id,
    name: row.name,
    status: row.status,
    progress: row.progress,
    error: row.error,
    bytes: row.bytes,
    sourceHash: row.sourceHash,
    createdAt: new Date(row.createdAt).toISOString(),
    updatedAt: new Date(row.updatedAt).toISOString(),
    dataset: manifest ? datasetResource(manifest) : null,
  };
}
