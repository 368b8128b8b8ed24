/**
 * A slice report as the ledger stores it (numbers only, NaN kept: JSON would turn it into null),
 * and a re-check task as the algorithm sees it.
 */
import type { SliceReport } from '../../src/wann/generation';

/** A slice report as stored: [fitness (n·w), accuracy (n·w), connections (n), nodes (n)]. */
export function packReport(r: SliceReport): Float64Array {
  const n = r.sliceEnd - r.sliceStart;
  const w = r.weights;
  const out = new Float64Array(2 * n * w + 2 * n);
  out.set(r.fitness, 0);
  out.set(r.accuracy, n * w);
  out.set(r.connections, 2 * n * w);
  out.set(r.nodes, 2 * n * w + n);
  return out;
}

export function unpackReport(
  gen: number,
  sliceStart: number,
  sliceEnd: number,
  w: number,
  p: Float64Array,
): SliceReport {
  const n = sliceEnd - sliceStart;
  return {
    gen,
    sliceStart,
    sliceEnd,
    weights: w,
    fitness: Array.from(p.subarray(0, n * w)),
    accuracy: Array.from(p.subarray(n * w, 2 * n * w)),
    connections: Array.from(p.subarray(2 * n * w, 2 * n * w + n)),
    nodes: Array.from(p.subarray(2 * n * w + n, 2 * n * w + 2 * n)),
    offsets: [],
  };
}
