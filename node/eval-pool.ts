/**
 * A worker_threads pool that breeds and evaluates generations across cores: the Node analogue of the
 * platform's evaluators (DESIGN.md "One generation"). The main thread only hands out slices; each
 * worker builds its slice of generation g with `breedMember` from parents it reads out of generation
 * g−1's slice buffers, encodes the slice into a SharedArrayBuffer (readable by every thread with no
 * copy), evaluates it with `evaluateMembers` and posts back the `SliceReport` with that buffer.
 *
 * Slices are handed to whichever worker is free, so load balances; a member depends only on
 * (config, generation, index, parent), so results never depend on slice size or thread count.
 * Training batches are copied once into shared memory and announced once per worker.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { BreedingParams, RecheckReport, RecheckSpec, SliceReport } from '../src/wann/generation';
import { populationOffsets } from '../src/wann/genome';
import type { Batch, GenomeResult } from '../src/wann/types';

/** Members [sliceStart, sliceEnd) of one generation, encoded (population codec) in shared memory. */
export interface StoredSlice {
  sliceStart: number;
  sliceEnd: number;
  buffer: SharedArrayBuffer;
  /** Member sliceStart+i is bytes [offsets[i], offsets[i+1]) of `buffer` (the report's offsets). */
  offsets: readonly number[];
}

/** Messages to a worker. */
export type ToWorker =
  | { type: 'batch'; batch: number; data: Batch }
  | {
      /** The context of the slices that follow: generation, parameters, batch, gen−1's slices. */
      type: 'generation';
      gen: number;
      /** Null when the slices only evaluate (type 'evaluate'). */
      breeding: BreedingParams | null;
      weights: readonly number[];
      batch: number;
      sources: readonly StoredSlice[];
    }
  | { type: 'slice'; id: number; sliceStart: number; sliceEnd: number; elites: number; parents: Int32Array }
  /** Evaluate members of `sources` as they are (benchmarks of fixed populations). */
  | { type: 'evaluate'; id: number; sliceStart: number; sliceEnd: number }
  /**
   * A champion re-check (src/wann/generation.ts): the genomes' bytes in shared memory, the batch
   * id of each shard of the spec and of the test subset (all sent before, as 'batch').
   */
  | {
      type: 'recheck';
      id: number;
      spec: RecheckSpec;
      weights: readonly number[];
      champion: GenomeBytes;
      candidate: GenomeBytes | null;
      /** [shard, batch id] for every shard of the spec. */
      shardBatches: [number, number][];
      testBatch: number;
    };

/** One genome's bytes (population codec member) inside a shared buffer. */
export interface GenomeBytes {
  buffer: SharedArrayBuffer;
  offset: number;
  length: number;
}

/** Member `index` of a stored slice, as bytes. */
export function memberBytes(s: StoredSlice, index: number): GenomeBytes {
  const i = index - s.sliceStart;
  if (i < 0 || index >= s.sliceEnd) throw new RangeError(`member ${index} is not in slice ${s.sliceStart}`);
  return { buffer: s.buffer, offset: s.offsets[i], length: s.offsets[i + 1] - s.offsets[i] };
}

/** A re-check to run as one more unit of a generation's work. */
export interface PoolRecheck {
  spec: RecheckSpec;
  champion: GenomeBytes;
  candidate: GenomeBytes | null;
  batchForShard: (shard: number) => Batch;
  testBatch: Batch;
}

/** A worker's answer to a task. */
export type TaskAnswer =
  | { type: 'slice'; id: number; report: SliceReport; buffer: SharedArrayBuffer }
  | { type: 'evaluated'; id: number; results: GenomeResult[] }
  | { type: 'rechecked'; id: number; report: RecheckReport }
  | { type: 'error'; id: number; message: string };

/** Messages from a worker: 'ready' once loaded, then answers. */
export type FromWorker = { type: 'ready' } | TaskAnswer;

export interface WorkerOptions {
  /** Evaluate with the WebAssembly kernel (default: yes unless WANN_JS=1). */
  kernel: boolean;
}

/** What one generation needs: everything but genomes. */
export interface GenerationTask {
  gen: number;
  population: number;
  breeding: BreedingParams;
  weights: readonly number[];
  batch: Batch;
  /** Members below this index are copies of their parents. */
  elites: number;
  /** parents[j] = index in generation gen−1 of member j's parent (empty for generation 0). */
  parents: Int32Array;
  /** Generation gen−1's slices, in member order (empty for generation 0). */
  previous: readonly StoredSlice[];
  sliceSize: number;
  /** The generation's champion re-check, if it has one: sent first, on a thread of its own. */
  recheck?: PoolRecheck | null;
}

export interface GenerationSlices {
  /** In member order. */
  reports: SliceReport[];
  slices: StoredSlice[];
  /** The re-check's report (null when the generation had none). */
  recheck: RecheckReport | null;
  /** Wall time from dispatching the first slice to receiving the last. */
  evalMs: number;
  /** Main-thread time spent dispatching and receiving (the rest of evalMs it was idle). */
  busyMs: number;
}

/**
 * Slice bounds over [0, population): `sliceSize` members each, except the last `threads × sliceSize`
 * members, cut in quarters so the threads finish together (a slice is the unit of imbalance).
 */
export function sliceBounds(population: number, sliceSize: number, threads: number): [number, number][] {
  const out: [number, number][] = [];
  const tail = Math.min(population, threads > 1 ? threads * sliceSize : 0);
  const small = Math.max(1, Math.ceil(sliceSize / 4));
  for (let s = 0; s < population - tail; s += sliceSize)
    out.push([s, Math.min(population - tail, s + sliceSize)]);
  for (let s = population - tail; s < population; s += small) out.push([s, Math.min(population, s + small)]);
  return out;
}

interface Shared {
  id: number;
  data: Batch;
}

export class EvalPool {
  private readonly workers: Worker[] = [];
  /** Batch ids each worker holds. */
  private readonly sentBatches: Set<number>[] = [];
  /** The shared-memory copy of each batch, by identity of the caller's batch. */
  private readonly shared = new WeakMap<Batch, Shared>();
  private nextBatch = 1;
  private onMessage: ((worker: number, msg: TaskAnswer) => void) | null = null;
  private onFailure: ((error: Error) => void) | null = null;
  private broken: Error | null = null;
  private readonly started: Promise<void>;

  constructor(
    readonly threads = availableParallelism(),
    options: Partial<WorkerOptions> = {},
  ) {
    if (!(Number.isInteger(threads) && threads >= 1))
      throw new RangeError(`threads must be ≥ 1, got ${threads}`);
    const workerData: WorkerOptions = { kernel: options.kernel ?? process.env.WANN_JS !== '1' };
    const booted: Promise<void>[] = [];
    for (let t = 0; t < threads; t++) {
      const w = new Worker(new URL('./eval-worker-boot.mjs', import.meta.url), { workerData });
      booted.push(
        new Promise((resolve, reject) => {
          w.once('message', () => resolve());
          w.once('error', reject);
        }),
      );
      w.on('message', (msg: FromWorker) => {
        if (msg.type !== 'ready') this.onMessage?.(t, msg);
      });
      const fail = (error: Error) => {
        this.broken ??= error;
        this.onFailure?.(error);
      };
      w.on('error', fail);
      w.on('exit', (code) => fail(new Error(`evaluation worker ${t} exited (code ${code})`)));
      this.workers.push(w);
      this.sentBatches.push(new Set());
    }
    this.started = Promise.all(booted).then(() => {});
    this.started.catch(() => {}); // reported by ready() and by the next generation
  }

  /** Resolves once every worker has loaded (so timings can leave start-up out). */
  ready(): Promise<void> {
    return this.broken ? Promise.reject(this.broken) : this.started;
  }

  /** Breed, store and evaluate every member of a generation. */
  async breedAndEvaluate(task: GenerationTask): Promise<GenerationSlices> {
    const start = performance.now();
    const batch = this.share(task.batch);
    const bounds = sliceBounds(task.population, task.sliceSize, this.threads);
    const messages: ToWorker[] = bounds.map(([sliceStart, sliceEnd], id) => ({
      type: 'slice',
      id,
      sliceStart,
      sliceEnd,
      elites: task.elites,
      // A copy: posting a view would clone the whole underlying buffer.
      parents: task.gen === 0 ? new Int32Array(0) : task.parents.slice(sliceStart, sliceEnd),
    }));
    const context: ToWorker = {
      type: 'generation',
      gen: task.gen,
      breeding: task.breeding,
      weights: task.weights,
      batch: batch.id,
      sources: task.previous,
    };
    // The re-check goes first: it is one unit as long as a few slices, so the slices fill around it.
    const recheck = task.recheck ?? null;
    const recheckBatches: Shared[] = [];
    if (recheck) {
      const shardBatches: [number, number][] = recheck.spec.shards.map((shard) => {
        const shared = this.share(recheck.batchForShard(shard));
        recheckBatches.push(shared);
        return [shard, shared.id];
      });
      const test = this.share(recheck.testBatch);
      recheckBatches.push(test);
      messages.unshift({
        type: 'recheck',
        id: bounds.length,
        spec: recheck.spec,
        weights: task.weights,
        champion: recheck.champion,
        candidate: recheck.candidate,
        shardBatches,
        testBatch: test.id,
      });
    }
    const prepMs = performance.now() - start;
    const run = await this.schedule(messages, (t) => {
      this.sendBatch(t, batch);
      for (const b of recheckBatches) this.sendBatch(t, b);
      this.workers[t].postMessage(context);
    });
    const received = performance.now();
    const reports: SliceReport[] = [];
    const slices: StoredSlice[] = [];
    for (let i = 0; i < bounds.length; i++) {
      const done = run.done[i];
      if (done.type !== 'slice') throw new Error(`slice ${i}: unexpected answer ${done.type}`);
      reports.push(done.report);
      slices.push({
        sliceStart: bounds[i][0],
        sliceEnd: bounds[i][1],
        buffer: done.buffer,
        offsets: done.report.offsets,
      });
    }
    let rechecked: RecheckReport | null = null;
    if (recheck) {
      const done = run.done[bounds.length];
      if (done.type !== 'rechecked') throw new Error(`re-check: unexpected answer ${done.type}`);
      rechecked = done.report;
    }
    return {
      reports,
      slices,
      recheck: rechecked,
      evalMs: received - start,
      busyMs: prepMs + run.busyMs + (performance.now() - received),
    };
  }

  /**
   * Evaluate every genome of an encoded population on a batch, as it is (no breeding): results in
   * population order, identical to a single-threaded evaluation.
   */
  async evaluate(
    population: Uint8Array,
    size: number,
    batch: Batch,
    weights: readonly number[],
    sliceSize = 64,
  ): Promise<GenomeResult[]> {
    const buffer = new SharedArrayBuffer(population.length);
    new Uint8Array(buffer).set(population);
    const offsets = Array.from(populationOffsets(population));
    if (offsets.length !== size + 1)
      throw new RangeError(`the population holds ${offsets.length - 1} genomes`);
    const shared = this.share(batch);
    const context: ToWorker = {
      type: 'generation',
      gen: 0,
      breeding: null,
      weights,
      batch: shared.id,
      sources: [{ sliceStart: 0, sliceEnd: size, buffer, offsets }],
    };
    const bounds = sliceBounds(size, sliceSize, this.threads);
    const run = await this.schedule(
      bounds.map(([sliceStart, sliceEnd], id) => ({ type: 'evaluate', id, sliceStart, sliceEnd })),
      (t) => {
        this.sendBatch(t, shared);
        this.workers[t].postMessage(context);
      },
    );
    return run.done.flatMap((d) => {
      if (d.type !== 'evaluated') throw new Error(`unexpected answer ${d.type}`);
      return d.results;
    });
  }

  async close(): Promise<void> {
    this.onFailure = null;
    this.broken ??= new Error('the pool is closed');
    await Promise.all(this.workers.map((w) => w.terminate()));
  }

  /** Shared-memory copy of a batch (made once per batch object). */
  private share(batch: Batch): Shared {
    let s = this.shared.get(batch);
    if (!s) {
      const inputs = new Float32Array(new SharedArrayBuffer(batch.inputs.byteLength));
      inputs.set(batch.inputs);
      const labels = new Uint8Array(new SharedArrayBuffer(batch.labels.byteLength));
      labels.set(batch.labels);
      s = { id: this.nextBatch++, data: { count: batch.count, features: batch.features, inputs, labels } };
      this.shared.set(batch, s);
    }
    return s;
  }

  private sendBatch(t: number, batch: Shared): void {
    if (this.sentBatches[t].has(batch.id)) return;
    this.workers[t].postMessage({ type: 'batch', batch: batch.id, data: batch.data } satisfies ToWorker);
    this.sentBatches[t].add(batch.id);
  }

  /**
   * Hand `tasks` (message ids = their index) to whichever worker is free, one at a time per worker,
   * after each worker's `preamble`. Answers come back in task order.
   */
  private schedule(
    tasks: ToWorker[],
    preamble: (worker: number) => void,
  ): Promise<{ done: TaskAnswer[]; busyMs: number }> {
    if (this.onMessage) return Promise.reject(new Error('the pool runs one generation at a time'));
    if (this.broken) return Promise.reject(this.broken);
    return new Promise((resolve, reject) => {
      const begin = performance.now();
      const done: TaskAnswer[] = new Array(tasks.length);
      let next = 0;
      let finished = 0;
      let busyMs = 0;
      const give = (t: number) => {
        if (next < tasks.length) this.workers[t].postMessage(tasks[next++]);
      };
      const settle = () => {
        this.onMessage = null;
        this.onFailure = null;
      };
      this.onFailure = (error) => {
        settle();
        reject(error);
      };
      this.onMessage = (t, msg) => {
        const s = performance.now();
        if (msg.type === 'error') {
          settle();
          reject(new Error(`evaluation worker ${t}, task ${msg.id}: ${msg.message}`));
          return;
        }
        done[msg.id] = msg;
        if (++finished === tasks.length) {
          settle();
          resolve({ done, busyMs: busyMs + (performance.now() - s) });
          return;
        }
        give(t);
        busyMs += performance.now() - s;
      };
      for (let t = 0; t < this.threads; t++) preamble(t);
      for (let t = 0; t < this.threads; t++) give(t);
      busyMs += performance.now() - begin;
      if (tasks.length === 0) {
        settle();
        resolve({ done, busyMs });
      }
    });
  }
}
