/**
 * A worker_threads pool that evaluates a population on one batch across cores: the Node analogue
 * of the platform's evaluators. The population travels as the compact binary codec, each worker
 * evaluates a contiguous slice, and results come back in population order, so the outcome is
 * identical to a single-threaded evaluation.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { GenomeResult } from '../src/wann/types';

interface Job {
  id: number;
  population: Uint8Array;
  batchKey: string;
  sliceStart: number;
  sliceEnd: number;
}

export interface PoolBatch {
  key: string;
  count: number;
  features: number;
  inputs: Float32Array;
  labels: Uint8Array;
}

export class EvalPool {
  private readonly workers: Worker[] = [];
  private readonly sentBatches: Set<string>[] = [];
  private nextId = 1;
  private readonly pending = new Map<number, (r: GenomeResult[]) => void>();

  constructor(readonly threads = availableParallelism()) {
    for (let i = 0; i < threads; i++) {
      const w = new Worker(new URL('./eval-worker-boot.mjs', import.meta.url));
      w.on('message', (msg: { id: number; results: GenomeResult[] }) => {
        const done = this.pending.get(msg.id);
        this.pending.delete(msg.id);
        done?.(msg.results);
      });
      w.on('error', (err) => {
        throw err;
      });
      this.workers.push(w);
      this.sentBatches.push(new Set());
    }
  }

  /** Evaluate every genome of an encoded population on a batch; results in population order. */
  async evaluate(population: Uint8Array, size: number, batch: PoolBatch, weights: readonly number[]) {
    const per = Math.ceil(size / this.threads);
    const parts: Promise<GenomeResult[]>[] = [];
    for (let t = 0; t < this.threads; t++) {
      const sliceStart = t * per;
      const sliceEnd = Math.min(size, sliceStart + per);
      if (sliceStart >= sliceEnd) break;
      const w = this.workers[t];
      if (!this.sentBatches[t].has(batch.key)) {
        w.postMessage({ type: 'batch', batch, weights });
        this.sentBatches[t].add(batch.key);
      }
      const id = this.nextId++;
      parts.push(
        new Promise((resolve) => {
          this.pending.set(id, resolve);
          const job: Job = { id, population, batchKey: batch.key, sliceStart, sliceEnd };
          w.postMessage({ type: 'job', job });
        }),
      );
    }
    return (await Promise.all(parts)).flat();
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}
