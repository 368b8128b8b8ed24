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
  MAX_CLASSES,
  preprocessedShape,
  rawFeatures,
} from '../../src/data/dataset';
import { IDX_ROLES } from '../../src/data/idx-dataset';

/** The roles of an upload's files: a CSV table (and its test table), or an idx pair (and its test pair). */
export const CSV_ROLES = ['table', 'test-table'] as const;
export const UPLOAD_ROLES = [...CSV_ROLES, ...IDX_ROLES] as const;
export type UploadRole = (typeof UPLOAD_ROLES)[number];

/** The preprocessed side of an idx upload's images when `imageSize` is not given (MNIST's 16). */
export const DEFAULT_IMAGE_SIDE = 16;

/** One stored file of a multi-file upload: its hash and size, and what its reader found. */
export const uploadedFileSchema = z.strictObject({
  sourceHash: z.string(),
  bytes: z.number().int().min(0),
  /** idx: the header (rows/cols 0 for labels) and, for labels, rows per label value. */
  idx: z
    .strictObject({
      kind: z.enum(['images', 'labels']),
      count: z.number().int().min(0),
      rows: z.number().int().min(0),
      cols: z.number().int().min(0),
      labelCounts: z.array(z.number().int().min(0)).length(256).optional(),
    })
    .optional(),
  /** CSV: the table's shape. */
  csv: z
    .strictObject({
      rows: z.number().int().min(0),
      features: z.number().int().min(0),
      classes: z.array(z.string()),
    })
    .optional(),
});
export type UploadedFile = z.infer<typeof uploadedFileSchema>;

/**
 * How an upload is to be built, as its row stores it. Rows from before idx uploads hold only
 * `{label?, testFraction, seed}`: a one-request CSV table (`format` absent = 'csv').
 */
export const uploadOptionsSchema = z.strictObject({
  format: z.enum(['csv', 'idx']).optional(),
  label: z.string().min(1).max(200).optional(),
  testFraction: z.number().gt(0).lt(1),
  seed: z.number().int().min(0).max(0xffffffff),
  /** idx: the preprocessed size and deskew (defaults 16×16, no deskew). */
  imageSize: z.strictObject({ width: z.number().int().min(1), height: z.number().int().min(1) }).optional(),
  deskew: z.boolean().optional(),
  /** idx: class names by label value. */
  classes: z.array(z.string().min(1).max(64)).min(2).max(MAX_CLASSES).optional(),
  /** A multi-file upload: every role it expects, and each file once stored (null before). */
  files: z.partialRecord(z.enum(UPLOAD_ROLES), uploadedFileSchema.nullable()).optional(),
});
export type UploadOptions = z.infer<typeof uploadOptionsSchema>;

/** The options that decide what a build makes (a repeated upload is the same set with these). */
export function buildOptionsKey(options: UploadOptions): string {
  const { files: _files, ...rest } = options;
  const canonical = {
    format: rest.format ?? 'csv',
    label: rest.label ?? null,
    testFraction: rest.testFraction,
    seed: rest.seed,
    imageSize: rest.imageSize ?? null,
    deskew: rest.deskew ?? null,
    classes: rest.classes ?? null,
  };
  return JSON.stringify(canonical);
}

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
  // Only to list a multi-file upload's files: a row this code did not write lists none.
  const options: Partial<UploadOptions> = uploadOptionsSchema.safeParse(row.options).data ?? {};
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
    ...(options.files
      ? {
          format: options.format ?? 'csv',
          files: Object.entries(options.files).map(([role, file]) => ({ role, uploaded: file != null })),
        }
      : {}),
  };
}
