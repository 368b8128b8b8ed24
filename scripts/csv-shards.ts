/**
 * A CSV file → a tabular dataset on disk, with the build code the platform runs on an upload
 * (src/data/csv-dataset.ts: the same split, standardisation, shard order and WSH2 shards; the same
 * defaults, so a file built here and uploaded with the same options gives the same shards):
 *
 *   npm run data -- --csv iris.csv --name iris [--label species] [--test-fraction 0.2] [--out DIR]
 *
 * Writes train-00.bin …, test-0.bin … and `dataset.json` (the dataset's manifest, written last: its
 * presence means the folder is complete) into DIR, by default `<datasets root>/NAME`, the root being
 * $WANN_DATASETS_DIR or data/datasets. `npm run search -- --dataset NAME` then searches it in Node.
 */
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, readFileSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildCsvDataset } from '../src/data/csv-dataset';
import { type DatasetManifest, datasetManifestSchema, datasetNameSchema } from '../src/data/dataset';
import { shardFileName } from '../src/data/shard';
import { DEFAULT_TEST_FRACTION } from '../src/data/split';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** The manifest file of a dataset built from a CSV file. */
export const CSV_DATASET_MANIFEST = 'dataset.json';

/** Where datasets built from CSV files live: $WANN_DATASETS_DIR, else data/datasets. */
export function datasetsRoot(): string {
  return resolve(process.env.WANN_DATASETS_DIR ?? join(ROOT, 'data', 'datasets'));
}

export interface CsvShardsOptions {
  name: string;
  label?: string;
  testFraction?: number;
  /** Seeds the split and the shard order; default 0, as an upload's. */
  seed?: number;
  /** Default `<datasetsRoot()>/<name>`. */
  outDir?: string;
}

/** Builds `file` into shards and a manifest; a file that cannot be built leaves nothing behind. */
export async function buildCsvShards(file: string, options: CsvShardsOptions): Promise<DatasetManifest> {
  const name = datasetNameSchema.parse(options.name);
  const outDir = options.outDir ?? join(datasetsRoot(), name);
  // Streamed, as the upload hashes its body: the file is never held whole.
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Uint8Array);
  const sourceHash = `sha256:${hash.digest('hex')}`;
  // A fresh pass over the file each time the build asks (it reads the table several times).
  const open = () => createReadStream(file, { encoding: 'utf8' }) as AsyncIterable<string>;
  await rm(outDir, { recursive: true, force: true });
  await mkdir(outDir, { recursive: true });
  try {
    const manifest = await buildCsvDataset(
      open,
      {
        name,
        label: options.label,
        testFraction: options.testFraction ?? DEFAULT_TEST_FRACTION,
        seed: options.seed ?? 0,
        sourceHash,
      },
      (split, index, bytes) => writeFile(join(outDir, shardFileName(split, index)), bytes),
    );
    await writeFile(join(outDir, CSV_DATASET_MANIFEST), `${JSON.stringify(manifest, null, 2)}\n`);
    return manifest;
  } catch (e) {
    await rm(outDir, { recursive: true, force: true });
    throw e;
  }
}

/** The manifest of the CSV-built dataset in `dir`, or null where there is none. */
export function readCsvDatasetManifest(dir: string): DatasetManifest | null {
  const file = join(dir, CSV_DATASET_MANIFEST);
  return existsSync(file) ? datasetManifestSchema.parse(JSON.parse(readFileSync(file, 'utf8'))) : null;
}
