/**
 * Starting the local platform from another Node program (benchmarks, browser tests): runs
 * `scripts/start.ts` (exactly what `npm start` does) in a process group of its own on a free port
 * with a private state directory, waits until it serves, and stops the whole group afterwards.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { appendFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { weakApiTokenReason } from '../src/api/token-strength';

const ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)));
export const DEV_VARS = join(ROOT, '.dev.vars');
/**
 * `WANN_PLATFORM_LOG=FILE`: everything the platform prints is also appended there as it comes, each
 * line after the time it was read (wrangler's request lines carry none), for a test that wants to say
 * what the platform was doing when a page did not load (tests/browser/browser.ts).
 */
function lineStamper(): (text: string) => string {
  let lineStart = true;
  return (text) => {
    const time = new Date().toISOString().slice(11, 23);
    let out = '';
    for (const part of text.split(/(?<=\n)/)) {
      if (lineStart) out += `${time} `;
      out += part;
      lineStart = part.endsWith('\n');
    }
    return out;
  };
}

/** The API token in `.dev.vars`, if there is one. */
export function readApiToken(file = DEV_VARS): string | undefined {
  if (!existsSync(file)) return undefined;
  return /^API_TOKEN\s*=\s*"?([^"\n]+)"?/m.exec(readFileSync(file, 'utf8'))?.[1];
}

/**
 * The API token `npm start` serves with: the one in `.dev.vars`, or a new random one written there
 * (`created`). A weak token there is refused with what to do. Known before the platform is up, so
 * a caller can start it in the background and hand the token out at once.
 */
export function ensureApiToken(file = DEV_VARS): { token: string; created: boolean } {
  const existing = readApiToken(file);
  if (existing) {
    const weak = weakApiTokenReason(existing);
    if (weak) {
      throw new Error(
        `${weak}.\nReplace the API_TOKEN line in ${file} (or delete it: a strong one is then created).`,
      );
    }
    return { token: existing, created: false };
  }
  const token = randomBytes(24).toString('base64url');
  const previous = existsSync(file) ? readFileSync(file, 'utf8') : '';
  writeFileSync(
    file,
    `${previous}${previous && !previous.endsWith('\n') ? '\n' : ''}API_TOKEN="${token}"\n`,
    { mode: 0o600 },
  );
  return { token, created: true };
}

export function freePort(): Promise<number> {
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

/** SIGTERM to the child's process group (wrangler, esbuild, workerd), SIGKILL after a grace period. */
export function stopGroup(child: ChildProcess, graceMs = 15_000): Promise<void> {
  return new Promise((done) => {
    if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return done();
    const timer = setTimeout(() => {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {}
      done();
    }, graceMs);
    child.once('exit', () => {
      clearTimeout(timer);
      done();
    });
    try {
      process.kill(-child.pid, 'SIGTERM');
    } catch {
      clearTimeout(timer);
      done();
    }
  });
}

export interface LocalPlatformOptions {
  /** Default: a free port on 127.0.0.1. */
  port?: number;
  /** Evaluator processes (start.ts `--evaluators`); default: one per core. */
  evaluators?: number;
  timeoutMs?: number;
  /** State directory to use (removed by `stop`); default: a new temporary one. */
  state?: string;
}

export interface LocalPlatform {
  url: string;
  token: string;
  /** The start.ts process, leader of the group. */
  child: ChildProcess;
  /** The private state directory (D1, R2, Durable Objects). */
  state: string;
  /** Everything the platform printed so far. */
  output(): string;
  /** Stops every process it started and removes its state. */
  stop(): Promise<void>;
}

export async function startLocalPlatform(options: LocalPlatformOptions = {}): Promise<LocalPlatform> {
  const port = options.port ?? (await freePort());
  const timeoutMs = options.timeoutMs ?? 180_000;
  const url = `http://127.0.0.1:${port}`;
  const state = options.state ?? mkdtempSync(join(tmpdir(), 'wann-local-state-'));
  const args = [join(ROOT, 'scripts', 'start.ts'), '--port', String(port), '--state', state];
  if (options.evaluators !== undefined) args.push('--evaluators', String(options.evaluators));
  const child = spawn(join(ROOT, 'node_modules', '.bin', 'tsx'), args, {
    cwd: ROOT,
    detached: true, // its own process group: stopped as a whole
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, CLOUDFLARE_CF_FETCH_ENABLED: 'false', WRANGLER_SEND_METRICS: 'false' },
  });
  let output = '';
  const stop = async () => {
    await stopGroup(child);
    rmSync(state, { recursive: true, force: true });
  };
  try {
    await new Promise<void>((ok, fail) => {
      const timer = setTimeout(
        () =>
          fail(
            new Error(`the platform did not come up within ${timeoutMs / 1000}s:\n${output.slice(-4000)}`),
          ),
        timeoutMs,
      );
      // Reading keeps the pipes drained for the platform's whole life.
      const stamped = lineStamper();
      const onData = (chunk: Buffer) => {
        const text = chunk.toString();
        output += text;
        const log = process.env.WANN_PLATFORM_LOG;
        if (log) appendFileSync(log, stamped(text));
        if (output.includes(`WANN platform running at ${url}`)) {
          clearTimeout(timer);
          ok();
        }
      };
      child.stdout!.on('data', onData);
      child.stderr!.on('data', onData);
      child.once('exit', (code) => {
        clearTimeout(timer);
        fail(new Error(`the platform exited with ${code}:\n${output.slice(-4000)}`));
      });
    });
    const token = readApiToken();
    if (!token) throw new Error('.dev.vars has no API_TOKEN after start');
    return { url, token, child, state, output: () => output, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}
