/**
 * Bundles the page scripts (public/src/*.ts → public/build/*.js, ES modules with code splitting so
 * onnxruntime-web loads only with the draw-a-digit panel) and copies what they load at run time:
 * uPlot's stylesheet and onnxruntime-web's wasm. esbuild comes with wrangler/tsx.
 * Run by `npm start`, `npm run dev` (predev) and the browser tests; `npm run build:pages` alone.
 */
import { copyFileSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { searchConfigSchema } from '../src/wann/config';

const ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)));
const OUT = join(ROOT, 'public', 'build');
/** Files onnxruntime-web's wasm backend fetches (from `ort.env.wasm.wasmPaths`). */
const ORT_FILES = ['ort-wasm-simd-threaded.wasm', 'ort-wasm-simd-threaded.mjs'];

export async function buildPages(options: { log?: (line: string) => void } = {}): Promise<void> {
  const log = options.log ?? (() => {});
  const started = Date.now();
  mkdirSync(join(OUT, 'ort'), { recursive: true });
  const result = await build({
    metafile: true,
    absWorkingDir: ROOT,
    entryPoints: {
      dashboard: 'public/src/dashboard.ts',
      run: 'public/src/run.ts',
      compare: 'public/src/compare.ts',
      datasets: 'public/src/datasets.ts',
    },
    outdir: OUT,
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    minify: true,
    sourcemap: true,
    chunkNames: 'chunks/[name]-[hash]',
    logLevel: 'warning',
    legalComments: 'linked',
    // The form's defaults, from the schema the API validates with (keeps zod out of the page).
    define: { WANN_CONFIG_DEFAULTS: JSON.stringify(searchConfigSchema.parse({})) },
  });
  copyFileSync(join(ROOT, 'node_modules', 'uplot', 'dist', 'uPlot.min.css'), join(OUT, 'uPlot.min.css'));
  for (const file of ORT_FILES) {
    copyFileSync(join(ROOT, 'node_modules', 'onnxruntime-web', 'dist', file), join(OUT, 'ort', file));
  }
  // Remove what earlier builds left (hashed chunk names change), but only after the new files are
  // in place, so a running `wrangler dev` never serves a page whose scripts are missing.
  const keep = new Set([
    ...Object.keys(result.metafile.outputs).map((f) => resolve(ROOT, f)),
    join(OUT, 'uPlot.min.css'),
    ...ORT_FILES.map((f) => join(OUT, 'ort', f)),
  ]);
  const sweep = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) sweep(path);
      else if (!keep.has(path) && !path.endsWith('.LEGAL.txt')) rmSync(path);
    }
  };
  sweep(OUT);
  log(`pages built into public/build in ${Date.now() - started} ms`);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  await buildPages({ log: console.log });
}
