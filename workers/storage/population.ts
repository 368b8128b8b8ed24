/**
 * Reading genomes by address from the slice objects in R2 (`runs/{id}/gen/{g}/{sliceStart}`, the
 * population codec): ranged reads, merged when close, cached in the isolate. Used by breeders (the
 * parents of a slice), publishing, forks and the champion download.
 */
import { populationSliceKey } from '../contracts/blob-keys';
import type { GenomeLocation } from '../contracts/queue-tasks';
import { LruCache } from './isolate-cache';

/** The object is gone: its generation was superseded (or the run's blobs were removed). */
export class StaleTaskError extends Error {
  override name = 'StaleTaskError';
}

/** Parent genomes' bytes by `${runId}:${gen}:${index}`: consecutive slices share most parents. */
const parentBytes = new LruCache<string, Uint8Array>(24 * 1024 * 1024, (b) => b.byteLength);
/** The cache key of member `index` of generation `gen`. */
const parentKey = (runId: string, gen: number, index: number) => `${runId}:${gen}:${index}`;
/** Ranged reads of one slice object closer than this are merged into one read. */
const MERGE_GAP_BYTES = 32 * 1024;

/**
 * Keep the members of a slice object this isolate just stored (`offsets` as its report gives them:
 * member sliceStart+i is bytes [offsets[i], offsets[i+1])), so the next generation's breeders in
 * this isolate read their parents here instead of from R2, on the path between two generations.
 * The bytes are what R2 holds: a slice's object is a pure function of its task.
 */
export function rememberSlice(
  runId: string,
  gen: number,
  sliceStart: number,
  blob: Uint8Array,
  offsets: readonly number[],
): void {
  for (let i = 0; i + 1 < offsets.length; i++) {
    parentBytes.set(parentKey(runId, gen, sliceStart + i), blob.slice(offsets[i], offsets[i + 1]));
  }
}

/** A parent's encoded bytes, by its index in generation gen−1. */
export interface ParentBytes {
  index: number;
  bytes: Uint8Array;
}

/**
 * Read the bytes of genomes stored in generation `gen`'s slice objects: per object, locations
 * sorted by offset and merged into ranged reads when the gap between them is small.
 */
export async function readGenomes(
  bucket: R2Bucket,
  runId: string,
  gen: number,
  locations: readonly GenomeLocation[],
): Promise<ParentBytes[]> {
  const out: ParentBytes[] = [];
  const missing: GenomeLocation[] = [];
  for (const loc of locations) {
    const cached = parentBytes.get(parentKey(runId, gen, loc.index));
    if (cached) out.push({ index: loc.index, bytes: cached });
    else missing.push(loc);
  }
  const bySlice = new Map<number, GenomeLocation[]>();
  for (const loc of missing) {
    const list = bySlice.get(loc.slice) ?? [];
    list.push(loc);
    bySlice.set(loc.slice, list);
  }
  const reads: Promise<void>[] = [];
  for (const [slice, list] of bySlice) {
    list.sort((a, b) => a.offset - b.offset);
    let group: GenomeLocation[] = [];
    const flush = (members: GenomeLocation[]) => {
      const start = members[0].offset;
      const end = Math.max(...members.map((m) => m.offset + m.length));
      const key = populationSliceKey(runId, gen, slice);
      reads.push(
        bucket.get(key, { range: { offset: start, length: end - start } }).then(async (object) => {
          if (!object) throw new StaleTaskError(`${key} is not in R2`);
          const bytes = new Uint8Array(await object.arrayBuffer());
          if (bytes.byteLength !== end - start) {
            throw new StaleTaskError(`${key}: read ${bytes.byteLength} bytes, expected ${end - start}`);
          }
          for (const m of members) {
            const own = bytes.slice(m.offset - start, m.offset - start + m.length);
            parentBytes.set(parentKey(runId, gen, m.index), own);
            out.push({ index: m.index, bytes: own });
          }
        }),
      );
    };
    for (const loc of list) {
      const last = group[group.length - 1];
      if (last && loc.offset - (last.offset + last.length) > MERGE_GAP_BYTES) {
        flush(group);
        group = [];
      }
      group.push(loc);
    }
    if (group.length) flush(group);
  }
  await Promise.all(reads);
  return out;
}
