/**
 * Browser project setup: starts the platform exactly as `npm start` does (scripts/start.ts: pages
 * build, D1 migrations, shards into R2, wrangler dev with the evaluators) on a free port of
 * 127.0.0.1, with its own throwaway state directory, and stops its whole process group afterwards.
 * Tests read the URL and the API token with `inject('wannUrl')` / `inject('wannToken')`.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TestProject } from 'vitest/node';

export const CHROMIUM = '/usr/bin/chromium';
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const START_TIMEOUT_MS = 180_000;

declare module 'vitest' {
  export interface ProvidedContext {
    wannUrl: string;
    wannToken: string;
    /** Why browser tests cannot run here (null: they can). */
    browserSkip: string | null;
  }
}

function freePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const server = createServer();
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? ok(address.port) : fail(new Error('no port')),
      );
    });
  });
}

function stopGroup(child: ChildProcess): Promise<void> {
  return new Promise((done) => {
    if (child.exitCode !== null || child.signalCode !== null) return done();
    const timer = setTimeout(() => {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {}
      done();
    }, 15_000);
    child.once('exit', () => {
      clearTimeout(timer);
      done();
    });
    try {
      process.kill(-child.pid!, 'SIGTERM');
    } catch {
      clearTimeout(timer);
      done();
    }
  });
}

/**
 * start.ts runs wrangler in a process group of its own and stops it on SIGTERM; should that ever
 * fail, the groups of processes still naming this run's private state directory are ended here.
 */
function killLeftovers(state: string): void {
  const table = execFileSync('ps', ['-eo', 'pgid=,args='], { encoding: 'utf8' });
  const groups = new Set<number>();
  for (const line of table.split('\n')) {
    const match = /^\s*(\d+)\s+(.*)$/.exec(line);
    if (match?.[2].includes(state)) groups.add(Number(match[1]));
  }
  for (const pgid of groups) {
    try {
      process.kill(-pgid, 'SIGKILL');
    } catch {}
  }
}

export default async function setup(project: TestProject) {
  let browserSkip: string | null = null;
  if (!existsSync(CHROMIUM)) {
    if (process.env.CI)
      throw new Error(`${CHROMIUM} is missing: CI must install Debian's chromium (.ci/run does)`);
    browserSkip = `${CHROMIUM} is missing (apt-get install -y chromium): browser tests skipped; CLI tests still run`;
    console.warn(`\n  ⚠ ${browserSkip}\n`);
  }
  const port = await freePort();
  const state = mkdtempSync(join(tmpdir(), 'wann-browser-state-'));
  const child = spawn(
    join(ROOT, 'node_modules', '.bin', 'tsx'),
    ['scripts/start.ts', '--port', String(port), '--state', state],
    {
      cwd: ROOT,
      detached: true, // its own process group: wrangler, esbuild and workerd go down with it
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, CLOUDFLARE_CF_FETCH_ENABLED: 'false', WRANGLER_SEND_METRICS: 'false' },
    },
  );
  let output = '';
  const url = `http://127.0.0.1:${port}`;
  try {
    await new Promise<void>((ok, fail) => {
      const timer = setTimeout(
        () =>
          fail(
            new Error(
              `npm start did not come up within ${START_TIMEOUT_MS / 1000}s:\n${output.slice(-4000)}`,
            ),
          ),
        START_TIMEOUT_MS,
      );
      const onData = (chunk: Buffer) => {
        output += chunk.toString();
        if (output.includes(`WANN platform running at ${url}`)) {
          clearTimeout(timer);
          ok();
        }
      };
      child.stdout!.on('data', onData);
      child.stderr!.on('data', onData);
      child.once('exit', (code) => {
        clearTimeout(timer);
        fail(new Error(`npm start exited with ${code}:\n${output.slice(-4000)}`));
      });
    });
  } catch (e) {
    await stopGroup(child);
    killLeftovers(state);
    rmSync(state, { recursive: true, force: true });
    throw e;
  }
  // Keep draining the server's output so its pipes never fill up.
  child.stdout!.resume();
  child.stderr!.resume();
  const token = /^API_TOKEN\s*=\s*"?([^"\n]+)"?/m.exec(readFileSync(join(ROOT, '.dev.vars'), 'utf8'))?.[1];
  if (!token) throw new Error('.dev.vars has no API_TOKEN after npm start');
  project.provide('wannUrl', url);
  project.provide('wannToken', token);
  project.provide('browserSkip', browserSkip);

  return async () => {
    await stopGroup(child);
    killLeftovers(state);
    rmSync(state, { recursive: true, force: true });
  };
}
