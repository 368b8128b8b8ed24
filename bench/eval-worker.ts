/** worker_threads side of EvalPool: decodes its slice of the population and evaluates it. */
import { parentPort } from 'node:worker_threads';
import { decodePopulation } from '../src/wann/genome';
import { compile, Evaluator } from '../src/wann/network';
import type { Batch, GenomeResult } from '../src/wann/types';
import { loadKernel } from './kernel';

// The WebAssembly SIMD kernel, unless WANN_JS=1 (bench/core.ts --js sets it).
const evaluator = new Evaluator(process.env.WANN_JS === '1' ? {} : { kernel: loadKernel() });
const batches = new Map<string, { batch: Batch; weights: readonly number[] }>();

parentPort!.on('message', (msg) => {
  if (msg.type === 'batch') {
    batches.set(msg.batch.key, { batch: msg.batch, weights: msg.weights });
    return;
  }
  const { id, population, batchKey, sliceStart, sliceEnd } = msg.job;
  const entry = batches.get(batchKey);
  if (!entry) throw new Error(`batch ${batchKey} was never sent to this worker`);
  // Decoding the whole blob keeps the wire format identical to the platform's evaluators.
  const genomes = decodePopulation(population);
  const results: GenomeResult[] = [];
  for (let i = sliceStart; i < sliceEnd; i++) {
    results.push(evaluator.evaluate(compile(genomes[i]), entry.batch, entry.weights));
  }
  parentPort!.postMessage({ id, results });
});
