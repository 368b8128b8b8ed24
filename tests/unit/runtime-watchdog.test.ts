/**
 * `npm start`'s runtime watchdog (scripts/runtime-watchdog.ts) against a real server process: it
 * leaves a server that answers alone, and a server that stops answering (SIGSTOP: the process is
 * there, its port open, nothing answers, as with the wedged workerd) is reported once, after
 * `hangMs`; the replacement it starts on the same port is then watched like the first.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { afterEach, describe, expect, it } from 'vitest';
import { watchRuntime } from '../../scripts/runtime-watchdog';

/** A health server in a process of its own: prints its port once, then one line per request. */
const SERVER = `
const http = require('node:http');
const server = http.createServer((req, res) => { console.log('request ' + req.url); res.end('ok'); });
server.listen(Number(process.argv[1]), '127.0.0.1', () => console.log('port ' + server.address().port));
`;

interface Server {
  process: ChildProcess;
  port: number;
  /** Resolves once the server has answered `n` requests in all. */
  answered(n: number): Promise<void>;
}

const started: ChildProcess[] = [];

async function startServer(port = 0): Promise<Server> {
  const child = spawn(process.execPath, ['-e', SERVER, String(port)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  started.push(child);
  let count = 0;
  const waiters: { n: number; resolve: () => void }[] = [];
  let resolvePort: (p: number) => void;
  const portKnown = new Promise<number>((r) => {
    resolvePort = r;
  });
  createInterface(child.stdout!).on('line', (line) => {
    if (line.startsWith('port ')) resolvePort(Number(line.slice(5)));
    if (!line.startsWith('request ')) return;
    count++;
    for (const w of waiters.filter((w) => count >= w.n)) {
      waiters.splice(waiters.indexOf(w), 1);
      w.resolve();
    }
  });
  return {
    process: child,
    port: await portKnown,
    answered: (n) =>
      count >= n ? Promise.resolve() : new Promise((resolve) => waiters.push({ n, resolve })),
  };
}

afterEach(() => {
  for (const child of started.splice(0)) {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGCONT');
      child.kill('SIGKILL');
    }
  }
});

describe('watchRuntime', () => {
  it('reports a server that stops answering once, and watches the one that replaces it', async () => {
    const first = await startServer();
    const url = `http://127.0.0.1:${first.port}/api/health`;
    const hangMs = 800;
    const reasons: string[] = [];
    let second: Server | undefined;
    let replaced: () => void;
    const replacedOnce = new Promise<void>((r) => {
      replaced = r;
    });
    const watchdog = watchRuntime({
      url,
      intervalMs: 100,
      hangMs,
      onHang: async (reason) => {
        reasons.push(reason);
        first.process.kill('SIGKILL');
        await new Promise((r) => first.process.once('exit', r));
        second = await startServer(first.port);
        replaced();
      },
    });
    try {
      // Answering for longer than hangMs (12 requests, 100 ms apart): no hang.
      await first.answered(12);
      expect(watchdog.hangs).toBe(0);

      // Stopped: the port stays open and nothing answers.
      first.process.kill('SIGSTOP');
      await replacedOnce;
      expect(reasons).toHaveLength(1);
      expect(reasons[0]).toMatch(/^the Workers runtime has not answered \/api\/health for \d+ s$/);

      // The replacement answers, and answering it counts: again longer than hangMs, no new hang.
      await second!.answered(12);
      expect(watchdog.hangs).toBe(1);
      expect(reasons).toHaveLength(1);
    } finally {
      watchdog.stop();
    }
  });
});
