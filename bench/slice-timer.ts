/**
 * Time per slice inside workerd: bundles bench/slice-timer-worker.ts (esbuild, as wrangler does),
 * runs it in Miniflare (one workerd process) and times each request from Node. Inside a Worker the
 * clocks stand still while JavaScript computes, so the wall time of the round trip (≈ 1 ms of
 * overhead) is the measurement.
 */

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { Miniflare } from 'miniflare';

const ENTRY = fileURLToPath(new URL('./slice-timer-worker.ts', import.meta.url));

/** Mean milliseconds per slice (each slice run twice after a warm-up pass). */
export async function measureSlicesInWorkerd(
  slices: Uint8Array[],
  shard: Uint8Array,
  weights: readonly number[],
): Promise<number> {
  const bundle = await build({
    entryPoints: [ENTRY],
    bundle: true,
    format: 'esm',
    platform: 'neutral',
    target: 'es2022',
    write: false,
    conditions: ['workerd', 'worker', 'browser'],
    mainFields: ['module', 'main'],
    // The wasm kernel stays a module of its own, as wrangler bundles it (CompiledWasm).
    plugins: [
      {
        name: 'wasm-module',
        setup(b) {
          b.onResolve({ filter: /\.wasm$/ }, () => ({ path: './kernel.wasm', external: true }));
        },
      },
    ],
  });
  const root = fileURLToPath(new URL('.', import.meta.url));
  const mf = new Miniflare({
    modulesRoot: root,
    modules: [
      { type: 'ESModule', path: join(root, 'slice-timer.mjs'), contents: bundle.outputFiles[0].text },
      {
        type: 'CompiledWasm',
        path: join(root, 'kernel.wasm'),
        contents: new Uint8Array(readFileSync(new URL('../src/wann/kernel/kernel.wasm', import.meta.url))),
      },
    ],
    compatibilityDate: '2026-04-20',
  });
  try {
    await mf.ready;
    const send = async (path: string, body: Uint8Array) => {
      const res = await mf.dispatchFetch(`http://timer${path}`, { method: 'POST', body });
      const text = await res.text();
      if (!res.ok) throw new Error(`${path} → ${res.status} ${text}`);
      return text;
    };
    await send(`/shard?weights=${encodeURIComponent(JSON.stringify(weights))}`, shard);
    for (const slice of slices) await send('/slice', slice); // warm-up: JIT
    const times: number[] = [];
    for (let rep = 0; rep < 2; rep++) {
      for (const slice of slices) {
        const t = performance.now();
        await send('/slice', slice);
        times.push(performance.now() - t);
      }
    }
    return times.reduce((a, b) => a + b, 0) / times.length;
  } finally {
    await mf.dispose();
  }
}
