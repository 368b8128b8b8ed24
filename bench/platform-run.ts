/**
 * What bench:load and bench:soak share around the local platform: starting it and always stopping
 * it (also on Ctrl-C and at a hard time limit), reading its answers, and finding its processes in
 * /proc for the memory samples.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { ensureShards, readShard } from '../node/shards';
import { type LocalPlatform, startLocalPlatform } from '../scripts/local-platform';

/**
 * Starts the platform, runs `main` against it and stops the platform however `main` ends. After
 * `hardLimitMs` the platform is stopped and the process exits 2, so a stuck bench never lingers.
 */
export async function runOnLocalPlatform(
  bench: { name: string; hardLimitMs: number; hardLimitText: string },
  main: (platform: LocalPlatform) => Promise<void>,
): Promise<void> {
  const platform = await startLocalPlatform();
  let stopping: Promise<void> | null = null;
  const stop = () => {
    stopping ??= platform.stop();
    return stopping;
  };
  const hardLimit = setTimeout(() => {
    console.error(`${bench.name}: over ${bench.hardLimitText}, stopping`);
    void stop().then(() => process.exit(2));
  }, bench.hardLimitMs);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => void stop().then(() => process.exit(130)));
  }
  try {
    await main(platform);
  } finally {
    clearTimeout(hardLimit);
    await stop();
  }
}

/** The JSON body of a platform answer; anything but 2xx throws with `what` and the status. */
export async function json<T>(res: Response, what: string): Promise<T> {
  const text = await res.text();
  if (!res.ok) throw new Error(`${what} → ${res.status} ${text.slice(0, 300)}`);
  return JSON.parse(text) as T;
}

export interface ProcessInfo {
  pid: number;
  ppid: number;
  comm: string;
  /** Clock ticks after boot: tells the younger of two processes. */
  startTime: number;
  cmdline: string;
}

export function processInfo(pid: number): ProcessInfo | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const close = stat.lastIndexOf(')');
    const fields = stat.slice(close + 2).split(' '); // state ppid pgrp …
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
    return {
      pid,
      ppid: Number(fields[1]),
      comm: stat.slice(stat.indexOf('(') + 1, close),
      startTime: Number(fields[19]),
      cmdline,
    };
  } catch {
    return null; // gone
  }
}

/** Every live process, by pid, and the children of each. */
export function processTable(): { all: Map<number, ProcessInfo>; children: Map<number, ProcessInfo[]> } {
  const all = new Map<number, ProcessInfo>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const info = processInfo(Number(name));
    if (info) all.set(info.pid, info);
  }
  const children = new Map<number, ProcessInfo[]>();
  for (const info of all.values()) {
    const siblings = children.get(info.ppid) ?? [];
    siblings.push(info);
    children.set(info.ppid, siblings);
  }
  return { all, children };
}

export function rssKiB(pid: number): number {
  try {
    const match = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) : 0;
  } catch {
    return 0;
  }
}

/**
 * A small model to predict with, stream from and train: a population-64 search of 8 generations
 * (seed 1) started on the platform, returned once its champion is published (the run has
 * completed). Throws when the run fails or publishes nothing within 5 minutes.
 */
export async function publishedModelRun(platform: LocalPlatform): Promise<{ id: string }> {
  const auth = { Authorization: `Bearer ${platform.token}` };
  const runUrl = `${platform.url}/api/runs`;
  const run = await json<{ id: string }>(
    await fetch(runUrl, {
      method: 'POST',
      headers: { ...auth, 'Content-Type': 'application/json' },
      body: JSON.stringify({ population: 64, generations: 8, seed: 1, tournamentSize: 8 }),
    }),
    'start the model search',
  );
  for (let i = 0; ; i++) {
    const { models } = await json<{ models: unknown[] }>(
      await fetch(`${runUrl}/${run.id}/models`, { headers: auth }),
      'models',
    );
    if (models.length) return run;
    const { status, error } = await json<{ status: string; error: string | null }>(
      await fetch(`${runUrl}/${run.id}`, { headers: auth }),
      'model run',
    );
    if (status !== 'running' && status !== 'queued' && status !== 'completed')
      throw new Error(`the model search ${status}: ${error}`);
    if (i > 1200) throw new Error('the model search published nothing in 5 minutes');
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** The first image of test shard 0 (preprocessed 16×16, pixel / 255) as a KServe v2 JSON request. */
export async function testDigitRequest(): Promise<string> {
  const shard = readShard(await ensureShards(), 'test', 0);
  return JSON.stringify({
    inputs: [
      {
        name: 'image',
        shape: [1, 256],
        datatype: 'FP32',
        data: [Array.from(shard.pixels.subarray(0, 256), (p) => p / 255)],
      },
    ],
  });
}

// The platform's processes, from /proc: start.ts's process group leader and its descendants.

export interface PlatformProcess extends ProcessInfo {
  role: string;
}

/** What each process of the platform is: the roles the memory table and the kills use. */
export function platformProcesses(root: number): PlatformProcess[] {
  const { all, children } = processTable();
  const role = (p: ProcessInfo): string => {
    const parent = all.get(p.ppid);
    if (p.comm === 'workerd')
      return parent?.cmdline.includes('start.ts') ? 'evaluator peer (workerd)' : 'wrangler dev (workerd)';
    if (p.cmdline.includes('wrangler'))
      return p.cmdline.includes('.bin/wrangler') ? 'wrangler dev (launcher)' : 'wrangler dev (node)';
    if (p.cmdline.includes('start.ts'))
      return p.cmdline.includes('loader.mjs') ? 'npm start (node)' : 'npm start (tsx launcher)';
    return p.comm;
  };
  const found: PlatformProcess[] = [];
  const visit = (pid: number) => {
    for (const child of children.get(pid) ?? []) {
      found.push({ ...child, role: role(child) });
      visit(child.pid);
    }
  };
  const self = all.get(root);
  if (self) found.push({ ...self, role: role(self) });
  visit(root);
  return found;
}
