/**
 * A minimal Worker for bench/slice-timer.ts: the evaluator's compute path (decode the slice,
 * compile + evaluate each genome at every weight) behind fetch, so Node can time it inside workerd
 * (where clocks do not advance during pure compute).
 */
import { decodeShard, shardToBatch } from '../src/data/shard';
import { decodePopulation } from '../src/wann/genome';
import kernelModule from '../src/wann/kernel/kernel.wasm';
import { compile, Evaluator } from '../src/wann/network';
import type { Batch } from '../src/wann/types';

// The same wasm kernel the evaluator Worker uses.
const evaluator = new Evaluator({ kernel: kernelModule });
let batch: Batch | null = null;
let weights: number[] = [];

export default {
  async fetch(request: Request): Promise<Response> {
    const url = new URL(request.url);
    const bytes = new Uint8Array(await request.arrayBuffer());
    if (url.pathname === '/shard') {
      batch = shardToBatch(decodeShard(bytes));
      weights = JSON.parse(url.searchParams.get('weights') ?? '[]') as number[];
      return new Response('ok');
    }
    if (!batch) return new Response('no shard', { status: 409 });
    let sum = 0;
    for (const genome of decodePopulation(bytes))
      sum += evaluator.evaluate(compile(genome), batch, weights).fitness[0];
    return new Response(String(sum));
  },
};
