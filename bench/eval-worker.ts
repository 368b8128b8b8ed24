/** worker_threads side of EvalPool: decodes its slice of the population and evaluates it. */
import { parentPort } from 'node:worker_threads';
import { decodePopulation } from '../src/wann/genome';
import { compile, Evaluator } from '../src/wann/network';
import type { Batch, GenomeResult } from '../src/wann/types';

const evaluator = new Evaluator();
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
