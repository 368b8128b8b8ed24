/**
 * Browser project setup: starts the platform exactly as `npm start` does (scripts/start.ts: pages
 * build, D1 migrations, shards into R2, wrangler dev with the evaluators) on a free port of
 * 127.0.0.1, with its own throwaway state directory, and stops its whole process group afterwards.
 * Tests read the URL and the API token with `inject('wannUrl')` / `inject('wannToken')`.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { type LocalPlatform, startLocalPlatform } from '../../scripts/local-platform';

export const CHROMIUM = '/usr/bin/chromium';
const START_TIMEOUT_MS = 180_000;

declare module 'vitest' {
  export interface ProvidedContext {
    wannUrl: string;
    wannToken: string;
    /** Why browser tests cannot run here (null: they can). */
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
  let browserSkip: string | null = null;
  if (!existsSync(CHROMIUM)) {
    if (process.env.CI)
      throw new Error(`${CHROMIUM} is missing: CI must install Debian's chromium (.ci/run does)`);
    browserSkip = `${CHROMIUM} is missing (apt-get install -y chromium): browser tests skipped; CLI tests still run`;
    console.warn(`\n  ⚠ ${browserSkip}\n`);
  }
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
  project.provide('browserSkip', browserSkip);

  return async () => {
    await platform.stop();
    killLeftovers(state);
  };
}
