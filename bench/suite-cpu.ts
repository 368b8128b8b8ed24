/**
 * Where the test suite's time goes: runs `CI=true npm test` (the README's test command) and samples
 * the CPU time of every process it starts, twice a second from /proc, by kind: the Vitest process,
 * Vitest's workers (the unit and browser test code), the workerd runtimes of the Workers tests, the
 * platform `npm start` runs for the browser tests (wrangler and its workerd processes), Chromium, the
 * `wann` CLI, esbuild, and the checks before Vitest (Biome, tsc, the bundle check).
 *
 *   npm run bench:suite-cpu            (writes bench/results/suite-cpu.json and the README table)
 *
 * A process that starts and ends between two samples is not seen; the shell that runs `npm test`
 * reads its own reaped children's CPU time at the end (`cutime + cstime`), so the record also gives
 * the total that reached it and the difference. Linux only. Needs a quiet machine: the point is how
 * many core-seconds the suite needs, and how close its wall time comes to that over the cores.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stripVTControlCharacters } from 'node:util';
import { updateReadmeTable } from '../scripts/readme-table';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
/** Clock ticks per second of /proc's CPU times (USER_HZ: 100 on Linux). */
const HZ = 100;
const SAMPLE_MS = 500;

interface ProcStat {
  ppid: number;
  /** utime + stime, ticks. */
  ticks: number;
  /** cutime + cstime: reaped children's, ticks. */
  childTicks: number;
  start: number;
}

function stat(pid: number): ProcStat | null {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    return {
      ppid: Number(f[1]),
      ticks: Number(f[11]) + Number(f[12]),
      childTicks: Number(f[13]) + Number(f[14]),
      start: Number(f[19]),
    };
  } catch {
    return null; // gone meanwhile
  }
}

function cmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
  } catch {
    return '';
  }
}

const KINDS = [
  'Vitest (the main process)',
  'Vitest workers (unit and browser test code)',
  'workerd of the Workers tests (one per test file)',
  'the platform of the browser tests (wrangler dev, its workerd processes, the evaluator peers)',
  'Chromium (browser tests)',
  'the wann CLI (spawned by CLI tests)',
  'esbuild (Vite transforms, bundles)',
  'checks before Vitest (Biome, tsc, types, bundle check)',
  'other',
] as const;
type Kind = (typeof KINDS)[number];

/** The kind of process `pid` is, from its command line and its ancestors'. */
function classify(chain: string[]): Kind {
  const cmd = chain[0];
  const platform = chain.some((c) => /scripts\/start\.ts|wrangler(-dist)?\/cli\.js dev/.test(c));
  if (/chrom/i.test(cmd)) return KINDS[4];
  if (platform) return KINDS[3];
  if (cmd.includes('workerd')) return KINDS[2];
  if (cmd.includes('bin/wann.mjs')) return KINDS[5];
  if (cmd.includes('esbuild')) return KINDS[6];
  // Vitest's own process is `vitest run …` (whose arguments may name the workers project); the
  // processes it starts for test files are not.
  if (cmd.includes('vitest')) return /vitest(\.mjs)? run\b/.test(cmd) ? KINDS[0] : KINDS[1];
  if (/biome|tsc|worker-types|check-bundles|wrangler(-dist)?\/cli\.js deploy/.test(cmd)) return KINDS[7];
  return KINDS[8];
}

async function main() {
  const cores = availableParallelism();
  const dir = mkdtempSync(join(tmpdir(), 'wann-suite-cpu-'));
  const log = join(dir, 'npm-test.log');
  const selfStat = join(dir, 'shell.stat');
  // The shell reads its own /proc stat after `npm test` has ended and been reaped.
  const shell = spawn(
    'sh',
    ['-c', `CI=true npm test > '${log}' 2>&1; rc=$?; cat /proc/$$/stat > '${selfStat}'; exit $rc`],
    { cwd: ROOT, stdio: 'ignore' },
  );
  const root = shell.pid as number;
  const started = Date.now();
  const seen = new Map<string, { kind: Kind; ticks: number }>(); // `${pid}:${start}`
  const perKind = new Map<Kind, number>(KINDS.map((k) => [k, 0]));
  const timeline: { seconds: number; coreSeconds: Record<string, number> }[] = [];
  const loads: number[] = [];
  let ended = false;
  shell.on('exit', () => {
    ended = true;
  });
  let lastMark = 0;
  while (!ended) {
    // Descendants of the shell: walk each process's parents up to it.
    const stats = new Map<number, ProcStat>();
    for (const d of readdirSync('/proc')) {
      if (!/^\d+$/.test(d)) continue;
      const s = stat(Number(d));
      if (s) stats.set(Number(d), s);
    }
    for (const [pid, s] of stats) {
      const chain: number[] = [pid];
      let p = s.ppid;
      while (p > 1 && p !== root && chain.length < 40) {
        chain.push(p);
        p = stats.get(p)?.ppid ?? 0;
      }
      if (p !== root && pid !== root) continue;
      const key = `${pid}:${s.start}`;
      let entry = seen.get(key);
      if (!entry) {
        entry = { kind: classify(chain.map(cmdline)), ticks: 0 };
        seen.set(key, entry);
      }
      if (s.ticks > entry.ticks) {
        perKind.set(entry.kind, (perKind.get(entry.kind) ?? 0) + (s.ticks - entry.ticks));
        entry.ticks = s.ticks;
      }
    }
    const seconds = (Date.now() - started) / 1000;
    if (seconds - lastMark >= 10) {
      lastMark = seconds;
      loads.push(loadavg()[0]);
      timeline.push({
        seconds: Math.round(seconds),
        coreSeconds: Object.fromEntries([...perKind].map(([k, v]) => [k, v / HZ])),
      });
    }
    await new Promise((r) => setTimeout(r, SAMPLE_MS));
  }
  const wallSeconds = (Date.now() - started) / 1000;
  const rc = shell.exitCode;
  const shellStat = readFileSync(selfStat, 'utf8');
  const f = shellStat.slice(shellStat.lastIndexOf(')') + 2).split(' ');
  const reaped = (Number(f[13]) + Number(f[14])) / HZ;
  const summary = stripVTControlCharacters(readFileSync(log, 'utf8'))
    .split('\n')
    .filter((l) => /^\s+(Test Files|Tests|Duration)\s|^npm test: /.test(l))
    .map((l) => l.trim());
  rmSync(dir, { recursive: true, force: true });
  const sampled = [...perKind.values()].reduce((a, b) => a + b, 0) / HZ;
  const rows = KINDS.map((k) => ({ kind: k, coreSeconds: Math.round((perKind.get(k) ?? 0) / HZ) })).filter(
    (r) => r.coreSeconds > 0,
  );
  const result = {
    date: new Date().toISOString(),
    command: 'CI=true npm test',
    cores,
    exitCode: rc,
    vitest: summary,
    wallSeconds: Math.round(wallSeconds),
    sampledCoreSeconds: Math.round(sampled),
    reapedCoreSeconds: Math.round(reaped),
    /** The least wall time this much CPU needs on these cores, packed perfectly. */
    floorSeconds: Math.round(Math.max(sampled, reaped) / cores),
    busyShare: Math.round((Math.max(sampled, reaped) / cores / wallSeconds) * 100) / 100,
    meanLoadAverage: Math.round((loads.reduce((a, b) => a + b, 0) / Math.max(1, loads.length)) * 100) / 100,
    rows,
    timeline,
  };
  writeFileSync(join(ROOT, 'bench/results/suite-cpu.json'), `${JSON.stringify(result, null, 2)}\n`);
  const table = [
    `\`CI=true npm test\`, ${cores} cores, ${result.wallSeconds} s wall (exit code ${rc}; ${summary.join('; ')}). Load average (1 min, mean) ${result.meanLoadAverage}.`,
    '',
    '| processes | core-seconds | share |',
    '|---|---:|---:|',
    ...rows.map((r) => `| ${r.kind} | ${r.coreSeconds} | ${Math.round((r.coreSeconds / sampled) * 100)} % |`),
    `| **all sampled** | **${result.sampledCoreSeconds}** | |`,
    '',
    `Reaped by the shell that ran it (every descendant whose parent waited for it, short-lived ones included): ${result.reapedCoreSeconds} core-seconds. ` +
      `At ${Math.max(result.sampledCoreSeconds, result.reapedCoreSeconds)} core-seconds the suite cannot take less than **${result.floorSeconds} s** on ${cores} cores, however its parts are ordered; ` +
      `it took ${result.wallSeconds} s, the cores ${Math.round(result.busyShare * 100)} % busy. Source: \`bench/results/suite-cpu.json\` (\`npm run bench:suite-cpu\`).`,
  ].join('\n');
  updateReadmeTable('suite-cpu', table);
  console.log(table);
  if (rc !== 0) process.exitCode = 1;
}

await main();
