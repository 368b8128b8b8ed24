/** Node side of the optional WebAssembly kernel: the compiled src/wann/kernel/kernel.wasm. */
import { readFileSync } from 'node:fs';
import { compileKernel } from '../src/wann/kernel/kernel';

let cached: WebAssembly.Module | undefined;

/** The kernel module (compiled once per process). */
export function loadKernel(): WebAssembly.Module {
  if (!cached)
    cached = compileKernel(readFileSync(new URL('../src/wann/kernel/kernel.wasm', import.meta.url)));
  return cached;
}
