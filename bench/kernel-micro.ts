/**
 * Per-activation ns/element of the JS row kernels and the WebAssembly kernel's float64 and float32
 * rows (rows of 256, CPU time would be steadier but these are relative figures within one run).
 *   npx tsx bench/kernel-micro.ts
 */

import { loadKernel } from '../node/kernel';
import { applyActivation } from '../src/wann/activations';
import { Kernel } from '../src/wann/kernel/kernel';

const k = new Kernel(loadKernel());
const n = 256;
const buf = k.view(4 * n + 64);
for (let i = 0; i < n; i++) buf[i] = (Math.random() - 0.5) * 6;
const iters = 20000;
const names = [
  '',
  'linear',
  'step',
  'sin',
  'gauss',
  'tanh',
  'sigmoid',
  'inverse',
  'abs',
  'relu',
  'cos',
  'squared',
];
for (let rep = 0; rep < 4; rep++) {
  const out: string[] = [];
  for (let id = 1; id <= 11; id++) {
    let s = performance.now();
    for (let it = 0; it < iters; it++) applyActivation(id, 1.3, buf, 0, buf, n, n);
    const js = ((performance.now() - s) * 1e6) / (iters * n);
    s = performance.now();
    for (let it = 0; it < iters; it++) k.act[id](1.3, 0, n, n);
    const wa = ((performance.now() - s) * 1e6) / (iters * n);
    s = performance.now();
    for (let it = 0; it < iters; it++) k.act32[id](1.3, 0, n, n);
    const w32 = ((performance.now() - s) * 1e6) / (iters * n);
    out.push(`${names[id]} js ${js.toFixed(2)} wasm f64 ${wa.toFixed(2)} f32 ${w32.toFixed(2)}`);
  }
  for (let i = 0; i < 6; i++) buf[2 * n + 2 * i] = (i * n) % (2 * n);
  for (let i = 0; i < 6; i++) buf[2 * n + 2 * i + 1] = 1;
  const s = performance.now();
  for (let it = 0; it < iters; it++) k.sum(3 * n, 2 * n, 4, 0, n);
  out.push(`sum4 wasm f64 ${(((performance.now() - s) * 1e6) / (iters * n * 4)).toFixed(3)} ns/elem-term`);
  const s32 = performance.now();
  for (let it = 0; it < iters; it++) k.sum32(3 * n, 2 * n, 4, 0, n);
  out.push(`sum4 wasm f32 ${(((performance.now() - s32) * 1e6) / (iters * n * 4)).toFixed(3)} ns/elem-term`);
  if (rep >= 2) console.log(out.join('\n'));
}
