/**
 * Generated tables for the Workers tests of tabular datasets: a CSV whose columns lie on very
 * different scales (so a model fed unstandardised values answers otherwise), its upload through the
 * API until built, and rows turned into the Batch src/wann evaluates.
 */
import { expect } from 'vitest';
import type { UploadedDataset } from '../../src/api/types';
import type { DatasetManifest } from '../../src/data/dataset';
import { standardization, standardize } from '../../src/data/standardize';
import type { Batch } from '../../src/wann/types';
import { request } from './helpers';

/** Sorted, as the build orders string labels. */
export const TABLE_CLASSES = ['high', 'low', 'mid'];

/**
 * `rows` rows × `features` columns on scales from 0.01 to 1,000 (column f × 10^(f mod 6 − 2)); the
 * class (row mod 3) shifts a band of columns by `shift`, with deterministic noise.
 */
export function scaledTable(rows: number, features: number, shift = 2): { text: string; raw: number[][] } {
  const header = [...Array.from({ length: features }, (_, f) => `x${f}`), 'level'].join(',');
  const raw: number[][] = [];
  const lines = [header];
  for (let r = 0; r < rows; r++) {
    const c = r % 3;
    const row = Array.from({ length: features }, (_, f) => {
      const noise = ((r * 37 + f * 11 + 5) % 29) / 29;
      const value = (Math.floor(f / 4) % 3 === c ? shift + noise : noise) * 10 ** ((f % 6) - 2);
      return Number(value.toPrecision(6));
    });
    raw.push(row);
    lines.push([...row.map(String), TABLE_CLASSES[c]].join(','));
  }
  return { text: `${lines.join('\n')}\n`, raw };
}

/** Uploads `text` as dataset `name` and waits until it is built (ready or failed). */
export async function uploadTable(name: string, text: string): Promise<UploadedDataset> {
  const bytes = new TextEncoder().encode(text);
  const res = await request(`/api/datasets?name=${name}`, {
    method: 'POST',
    headers: { 'Content-Type': 'text/csv', 'Content-Length': String(bytes.byteLength) },
    body: bytes,
  });
  expect(res.status).toBe(202);
  return waitBuilt(name);
}

/** Polls dataset `name` until its build ends (ready or failed); throws after `timeoutMs`. */
export async function waitBuilt(name: string, timeoutMs = 30_000): Promise<UploadedDataset> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const d = (await (await request(`/api/datasets/${name}`)).json()) as UploadedDataset;
    if (d.status === 'ready' || d.status === 'failed') return d;
    if (Date.now() > deadline) throw new Error(`dataset ${name} not built: ${JSON.stringify(d)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Row-major raw rows → the input-major Batch src/wann evaluates, standardised as the shards were. */
export function standardisedRows(rows: number[][], manifest: DatasetManifest): Batch {
  if (manifest.preprocessing.kind !== 'tabular') throw new Error('not tabular');
  const features = manifest.features;
  const values = standardize(rows.flat(), standardization(manifest.preprocessing));
  const count = rows.length;
  const inputs = new Float32Array(features * count);
  for (let i = 0; i < count; i++)
    for (let f = 0; f < features; f++) inputs[f * count + i] = values[i * features + f];
  return { count, features, inputs, labels: new Uint8Array(count) };
}

/** The same rows as they are, unstandardised. */
export function rawRows(rows: number[][]): Batch {
  const count = rows.length;
  const features = rows[0].length;
  const inputs = new Float32Array(features * count);
  for (let i = 0; i < count; i++) for (let f = 0; f < features; f++) inputs[f * count + i] = rows[i][f];
  return { count, features, inputs, labels: new Uint8Array(count) };
}
