/**
 * `npm run bench:request-memory`: the peak memory one request costs the platform, for the largest
 * valid requests and for bodies built to cost far more than their size (issue 9, item 4).
 *
 * How: the local platform (`scripts/local-platform.ts`: `npm start` on a free port, own state, one
 * evaluator) publishes a small search's champion. Before each request, the inference Worker's
 * isolate (where bodies are parsed and models run; the API Worker streams bodies through) is
 * garbage-collected through workerd's inspector (a heap snapshot forces a full GC; workerd answers
 * no `collectGarbage`), its heap is read, and the workers process's peak RSS is reset
 * (`/proc/<pid>/clear_refs` ← 5, Linux). While the request runs, the isolate's heap
 * (`Runtime.getHeapUsage`: JS heap + ArrayBuffer backing stores) is sampled continuously; nothing
 * is collected in between unless V8 decides to, so the largest sample minus the base is an upper
 * bound of what the request kept alive there. That per-isolate peak is what the Workers memory
 * limit (128 MB per isolate) applies to; the target is 64 MB. The process's RSS peak is reported
 * too: it adds what the heap does not show (onnxruntime's wasm memory, which grows once and is
 * kept, and allocator retention) and includes every isolate.
 * Each case runs REPEATS times; the largest cost counts.
 *
 * Results: bench/results/request-memory.json. `--label <name>` names the measured code (e.g. a
 * checkout of an older commit run with this same file); `--out <file>` writes elsewhere.
 */
import { readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { encode as encodePng } from 'fast-png';
import { WebSocket as UndiciWebSocket } from 'undici';
import { startLocalPlatform } from '../scripts/local-platform';
import { hiddenBomb } from '../tests/unit/png-fixtures';

const ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)));
const { values: args } = parseArgs({
  options: {
    label: { type: 'string', default: 'working tree' },
    out: { type: 'string' },
  },
});
const OUT = args.out ?? join(ROOT, 'bench', 'results', 'request-memory.json');
const REPEATS = 3;
const MiB = 1024 * 1024;
const TARGET_MB = 64;
/** The isolate whose memory a prediction costs: the API Worker only streams bodies through. */
const INFERENCE_ISOLATE = 'core:user:wann-inference';

interface Process {
  pid: number;
  role: string;
}

/** TCP ports `pid` listens on (its socket inodes matched against /proc/net/tcp{,6}). */
function listeningPorts(pid: number): number[] {
  const inodes = new Set<string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m) inodes.add(m[1]);
    } catch {}
  }
  const ports: number[] = [];
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    for (const line of readFileSync(table, 'utf8').split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f[3] === '0A' && inodes.has(f[9])) ports.push(Number.parseInt(f[1].split(':')[1], 16));
    }
  }
  return ports;
}

/** The address of workerd's inspector among the ports `pid` listens on (it lists the isolates). */
async function inspectorAddress(pid: number): Promise<string | undefined> {
  for (const port of listeningPorts(pid)) {
    try {
      const res = await fetch(`http://127.0.0.1:${port}/json/list`, { signal: AbortSignal.timeout(2000) });
      const targets = (await res.json()) as { id: string }[];
      if (targets.some((t) => t.id === INFERENCE_ISOLATE)) return `127.0.0.1:${port}`;
    } catch {}
  }
  return undefined;
}

/** Every workerd process under `root` (by parent pid), named by what it serves. */
function workerdProcesses(root: number, port: number): Process[] {
  const parent = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      parent.set(Number(entry), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {}
  }
  const under = (pid: number): boolean => {
    for (let p = pid; p > 1; p = parent.get(p) ?? 0) if (p === root) return true;
    return false;
  };
  const found: Process[] = [];
  for (const pid of parent.keys()) {
    if (!under(pid)) continue;
    let cmd: string;
    try {
      cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
    } catch {
      continue;
    }
    if (!cmd.includes('workerd serve')) continue;
    const role = cmd.includes(`127.0.0.1:${port} `) ? 'wrangler proxy' : 'workers';
    found.push({ pid, role });
  }
  return found;
}

/** A Chrome DevTools Protocol session with one Worker isolate of workerd's inspector. */
class Inspector {
  private next = 0;
  private readonly pending = new Map<number, (result: Record<string, number>) => void>();
  private constructor(private readonly socket: UndiciWebSocket) {
    socket.addEventListener('message', (e) => {
      const message = JSON.parse(String(e.data)) as { id?: number; result?: Record<string, number> };
      if (message.id !== undefined) {
        this.pending.get(message.id)?.(message.result ?? {});
        this.pending.delete(message.id);
      }
    });
  }

  static async open(address: string, target: string): Promise<Inspector> {
    const socket = new UndiciWebSocket(`ws://${address}/${target}`);
    await new Promise((ok, fail) => {
      socket.addEventListener('open', ok);
      socket.addEventListener('error', () =>
        fail(new Error(`cannot open the inspector at ws://${address}/${target}`)),
      );
    });
    return new Inspector(socket);
  }

  call(method: string, params: Record<string, unknown> = {}): Promise<Record<string, number>> {
    const id = ++this.next;
    return new Promise((ok) => {
      this.pending.set(id, ok);
      this.socket.send(JSON.stringify({ id, method, params }));
    });
  }

  /** JS heap plus ArrayBuffer backing stores, in bytes. */
  async heap(): Promise<number> {
    const usage = await this.call('Runtime.getHeapUsage');
    return (usage.usedSize ?? 0) + (usage.backingStorageSize ?? 0);
  }

  /** A full GC (a heap snapshot starts with one); the snapshot itself is discarded. */
  async collect(): Promise<void> {
    await this.call('HeapProfiler.takeHeapSnapshot', { reportProgress: false });
  }

  close(): void {
    this.socket.close();
  }
}

function statusKb(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : 0;
}

interface Case {
  name: string;
  method?: 'GET';
  path: string;
  contentType: string;
  body: () => Uint8Array | Promise<Uint8Array>;
  /** Send without a Content-Length (a chunked upload). */
  chunked?: boolean;
  expect: number;
}

const utf8 = (s: string) => new TextEncoder().encode(s);
const pixel = (i: number) => ((i * 7919) % 256) / 255;
const rows = (count: number, features: number) =>
  Array.from({ length: count }, (_, r) =>
    Array.from({ length: features }, (_, i) => pixel(r * features + i)),
  );

function cases(runId: string): Case[] {
  const infer = `/v2/models/${runId}/infer`;
  const predict = `/api/runs/${runId}/predict`;
  const inferBody = (count: number, features: number) =>
    utf8(
      JSON.stringify({
        inputs: [{ name: 'image', shape: [count, features], datatype: 'FP32', data: rows(count, features) }],
      }),
    );
  const oversized = () => utf8(`{"pixels": [[${'0.123456789,'.repeat((30 * MiB) / 12)}0]]}`);
  const bigPng = () => {
    // 1024×1024 RGBA noise: the largest image accepted, barely compressible.
    const data = new Uint8Array(1024 * 1024 * 4);
    let x = 1;
    for (let i = 0; i < data.length; i++) {
      x = (x * 1103515245 + 12345) >>> 0;
      data[i] = x >>> 24;
    }
    return encodePng({ width: 1024, height: 1024, data, channels: 4, depth: 8 });
  };
  return [
    {
      name: 'model readiness, cold (loads the ORT session once per isolate)',
      method: 'GET',
      path: `/v2/models/${runId}/ready`,
      contentType: 'application/json',
      body: () => new Uint8Array(0),
      expect: 200,
    },
    {
      name: 'infer, 1 image (ensemble)',
      path: infer,
      contentType: 'application/json',
      body: () => inferBody(1, 256),
      expect: 200,
    },
    {
      name: 'predict, 1 PNG 28×28',
      path: predict,
      contentType: 'image/png',
      body: () =>
        encodePng({ width: 28, height: 28, data: new Uint8Array(784).fill(128), channels: 1, depth: 8 }),
      expect: 200,
    },
    {
      name: 'infer, 1,000 × 784 (largest valid)',
      path: infer,
      contentType: 'application/json',
      body: () => inferBody(1000, 784),
      expect: 200,
    },
    {
      name: 'predict JSON, 1,000 × 784 (largest valid)',
      path: predict,
      contentType: 'application/json',
      body: () => utf8(JSON.stringify({ pixels: rows(1000, 784) })),
      expect: 200,
    },
    {
      name: 'predict PNG, 1024×1024 RGBA noise (largest valid)',
      path: predict,
      contentType: 'image/png',
      body: bigPng,
      expect: 200,
    },
    {
      name: 'predict PNG, hidden bomb (28×28 declared, 256 MB inside)',
      path: predict,
      contentType: 'image/png',
      body: () => hiddenBomb(256 * MiB),
      expect: 400,
    },
    {
      name: 'infer, 19 MiB of zeros for shape [1, 256]',
      path: infer,
      contentType: 'application/json',
      body: () =>
        utf8(
          `{"inputs":[{"name":"image","shape":[1,256],"datatype":"FP32","data":[${'0,'.repeat((19 * MiB) / 2)}0]}]}`,
        ),
      expect: 400,
    },
    {
      name: 'predict JSON, 19 MiB of one-value images',
      path: predict,
      contentType: 'application/json',
      body: () => utf8(`{"pixels": [${'[0],'.repeat((19 * MiB) / 4)}[0]]}`),
      expect: 400,
    },
    {
      name: 'predict JSON, 30 MiB, length declared',
      path: predict,
      contentType: 'application/json',
      body: oversized,
      expect: 413,
    },
    {
      name: 'predict JSON, 30 MiB, chunked',
      path: predict,
      contentType: 'application/json',
      body: oversized,
      chunked: true,
      expect: 413,
    },
  ];
}

const platform = await startLocalPlatform({ evaluators: 1 });
process.on('SIGINT', () => {
  void platform.stop().then(() => process.exit(130));
});
try {
  const { url, token } = platform;
  const port = Number(new URL(url).port);
  const auth = { Authorization: `Bearer ${token}` };
  console.log(`› platform on ${url}; a small search to publish a model`);
  const created = (await (
    await fetch(`${url}/api/runs`, {
      method: 'POST',
      headers: { ...auth, 'Content-Type': 'application/json' },
      body: JSON.stringify({ population: 32, generations: 2, seed: 1, tournamentSize: 8 }),
    })
  ).json()) as { id: string };
  for (;;) {
    const run = (await (await fetch(`${url}/api/runs/${created.id}`, { headers: auth })).json()) as {
      status: string;
      error: string;
    };
    if (run.status === 'completed') break;
    if (run.status === 'failed') throw new Error(`search failed: ${run.error}`);
    await new Promise((r) => setTimeout(r, 250));
  }
  const processes = workerdProcesses(platform.child.pid!, port);
  const workers = processes.find((p) => p.role === 'workers');
  const inspector = workers && (await inspectorAddress(workers.pid));
  if (!workers || !inspector)
    throw new Error('no workerd process with an inspector found under the platform');
  await fetch(`${url}/v2/health/live`); // the inference isolate exists before its inspector is opened
  // One inspector session: workerd's inspector stalled when a second isolate's session was used.
  const isolate = await Inspector.open(inspector, INFERENCE_ISOLATE);

  const results = [];
  for (const c of cases(created.id)) {
    const body = await c.body();
    let worst = { heap: 0, rss: 0 };
    let status = 0;
    let ms = 0;
    for (let r = 0; r < REPEATS; r++) {
      await isolate.collect();
      const base = await isolate.heap();
      const rssBefore = statusKb(workers.pid, 'VmRSS');
      writeFileSync(`/proc/${workers.pid}/clear_refs`, '5');
      let peak = base;
      let running = true;
      const sampling = (async () => {
        while (running) peak = Math.max(peak, await isolate.heap());
      })();
      const t = performance.now();
      const res = await fetch(`${url}${c.path}`, {
        method: c.method ?? 'POST',
        headers: { ...auth, 'Content-Type': c.contentType },
        body: c.method === 'GET' ? undefined : c.chunked ? new Blob([body]).stream() : body,
        duplex: 'half',
      } as RequestInit);
      await res.arrayBuffer();
      ms = performance.now() - t;
      running = false;
      await sampling;
      peak = Math.max(peak, await isolate.heap());
      status = res.status;
      worst = {
        heap: Math.max(worst.heap, (peak - base) / MiB),
        rss: Math.max(worst.rss, (statusKb(workers.pid, 'VmHWM') - rssBefore) / 1024),
      };
    }
    const round = (x: number) => Math.round(x * 10) / 10;
    results.push({
      request: c.name,
      bodyBytes: body.length,
      chunked: c.chunked ?? false,
      status,
      expectedStatus: c.expect,
      lastMs: Math.round(ms),
      inferenceIsolatePeakMB: round(worst.heap),
      workersProcessRssPeakMB: round(worst.rss),
      withinTarget: worst.heap < TARGET_MB,
    });
    console.log(
      `${c.name.padEnd(62)} ${String(status).padEnd(4)} inference isolate +${worst.heap.toFixed(1)} MB, workers process RSS +${worst.rss.toFixed(1)} MB (${Math.round(ms)} ms)`,
    );
  }
  isolate.close();
  const output = {
    label: args.label,
    targetMB: TARGET_MB,
    method:
      'inference isolate: largest Runtime.getHeapUsage (usedSize + backingStorageSize) sampled through the inspector during the request, minus the value after a forced GC (heap snapshot) before it; workers process: VmHWM after clear_refs=5 minus VmRSS before (all isolates, onnxruntime wasm memory, allocator retention); `npm start` (wrangler dev --local, one evaluator); largest of 3 repeats',
    results,
    allWithinTarget: results.every((r) => r.withinTarget),
    allExpectedStatus: results.every((r) => r.status === r.expectedStatus),
    date: new Date().toISOString(),
  };
  writeFileSync(OUT, `${JSON.stringify(output, null, 2)}\n`);
  console.log(`→ ${OUT}`);
  if (!output.allWithinTarget || !output.allExpectedStatus) process.exitCode = 1;
} finally {
  await platform.stop();
}
