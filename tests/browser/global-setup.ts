/**
 * Browser project setup: starts the platform exactly as `npm start` does (scripts/start.ts: pages
 * build, D1 migrations, shards into R2, wrangler dev with the evaluators) on a free port of
 * 127.0.0.1, with its own throwaway state directory, and stops its whole process group afterwards.
 * It first makes sure the browser is there (browser.ts `ensureChromium`: the npm-shipped Chromium
 * unless WANN_CHROMIUM names another).
 * Tests read the URL and the API token with `inject('wannUrl')` / `inject('wannToken')`.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { type LocalPlatform, startLocalPlatform } from '../../scripts/local-platform';
import { ensureChromium, launch } from './browser';

const START_TIMEOUT_MS = 180_000;

declare module 'vitest' {
  export interface ProvidedContext {
    wannUrl: string;
    wannToken: string;
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
  // Unpacked once here, before any test file launches it (a few seconds after each `npm ci`).
  const browser = await ensureChromium();
  try {
    await (await launch()).close();
  } catch (e) {
    throw new Error(`the browser (${browser.source}) does not start: ${(e as Error).message}`);
  }
  console.log(`  browser tests use ${browser.source}`);
  const state = mkdtempSync(join(tmpdir(), 'wann-browser-state-'));
  let platform: LocalPlatform;
  try {
    platform = await startLocalPlatform({ state, timeoutMs: START_TIMEOUT_MS });
  } catch (e) {
    killLeftovers(state);
    throw e;
  }
  const { url, token } = platform;
  project.provide('wannUrl', url);
  project.provide('wannToken', token);
  project.provide('browserSkip', null);

  return async () => {
    await platform.stop();
    killLeftovers(state);
  };
}
