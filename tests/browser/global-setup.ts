/**
 * Browser project setup: starts the platform exactly as `npm start` does (scripts/start.ts: pages
 * build, D1 migrations, shards into R2, wrangler dev with the evaluators) on a free port of
 * 127.0.0.1, with its own throwaway state directory, and stops its whole process group afterwards.
 * It first makes sure the browser is there (browser.ts `ensureChromium`: the npm-shipped Chromium
 * unless WANN_CHROMIUM names another).
 * Tests read the URL and the API token with `inject('wannUrl')` / `inject('wannToken')`.
 *
 * The platform starts in the background: Vitest runs every project's global setup before any test
 * file, so waiting here held the whole suite (unit and Workers tests too) for the platform's start,
 * 30 s to 100 s on two cores. Each browser test file waits for it instead (platform-ready.ts, its
 * setup file); a start that fails is written to `wannStartFailure` for them to report.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { ensureApiToken, freePort, startLocalPlatform } from '../../scripts/local-platform';
import { ensureChromium, launch } from './browser';

const START_TIMEOUT_MS = 180_000;

declare module 'vitest' {
  export interface ProvidedContext {
    wannUrl: string;
    wannToken: string;
    /** A file that holds why the platform did not start, once it did not (platform-ready.ts). */
    wannStartFailure: string;
    /** Everything the platform printed so far, each line after its time (local-platform.ts). */
    wannPlatformLog: string;
    /**
     * Always null: the browser ships with the devDependencies (see browser.ts), so browser tests
     * run on every machine; a missing or broken browser fails the setup instead.
     */
    browserSkip: string | null;
  }
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
  const state = mkdtempSync(join(tmpdir(), 'wann-browser-state-'));
  const failure = `${state}.failed`;
  // What the platform prints, timed (local-platform.ts): a navigation that does not load quotes it.
  const log = `${state}.log`;
  process.env.WANN_PLATFORM_LOG = log;
  const port = await freePort();
  const { token } = ensureApiToken();
  const starting = startLocalPlatform({ port, state, timeoutMs: START_TIMEOUT_MS }).catch((e: Error) => {
    writeFileSync(failure, e.message);
    killLeftovers(state);
    return null;
  });
  const removeFiles = () => {
    rmSync(failure, { force: true });
    rmSync(log, { force: true });
  };
  // Vitest ends at once on SIGINT or SIGTERM, without the teardown below (`npm test` stops this
  // project that way when a check fails): the platform's processes are ended then, synchronously.
  const onExit = () => {
    killLeftovers(state);
    removeFiles();
    rmSync(state, { recursive: true, force: true });
  };
  process.once('exit', onExit);
  const stop = async () => {
    process.off('exit', onExit);
    await (await starting)?.stop();
    killLeftovers(state);
    removeFiles();
  };
  // Unpacked once here, before any test file launches it (a few seconds after each `npm ci`),
  // while the platform starts.
  const browser = await ensureChromium();
  try {
    await (await launch()).close();
  } catch (e) {
    await stop();
    throw new Error(`the browser (${browser.source}) does not start: ${(e as Error).message}`);
  }
  console.log(`  browser tests use ${browser.source}`);
  project.provide('wannUrl', `http://127.0.0.1:${port}`);
  project.provide('wannToken', token);
  project.provide('wannStartFailure', failure);
  project.provide('wannPlatformLog', log);
  project.provide('browserSkip', null);
  return stop;
}
