/**
 * A Chrome DevTools Protocol session with one Worker isolate through workerd's inspector
 * (`ws://<inspector address>/core:user:<worker name>`): the isolate's heap, and a full GC. Shared by
 * bench:request-memory (the inference Worker in Miniflare), bench:memory-probe (the API Worker
 * under `npm start`) and bench:soak (every Worker of `npm start`, evaluator peers included).
 */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { WebSocket } from 'undici';

/** A Chrome DevTools Protocol session with one Worker isolate of workerd's inspector. */
export class Inspector {
  private next = 0;
  private readonly pending = new Map<
    number,
    { ok: (result: Record<string, number>) => void; fail: (e: Error) => void }
  >();
  private closed = false;
  private constructor(private readonly socket: WebSocket) {
    socket.addEventListener('message', (e) => {
      const message = JSON.parse(String(e.data)) as { id?: number; result?: Record<string, number> };
      if (message.id === undefined) return; // events (heap snapshot chunks)
      this.pending.get(message.id)?.ok(message.result ?? {});
      this.pending.delete(message.id);
    });
    // The isolate's process ended (a killed evaluator peer): every call waiting fails.
    socket.addEventListener('close', () => {
      this.closed = true;
      for (const { fail } of this.pending.values()) fail(new Error('the inspector closed'));
      this.pending.clear();
    });
  }

  static async open(url: string): Promise<Inspector> {
    const socket = new WebSocket(url);
    await new Promise((ok, fail) => {
      socket.addEventListener('open', ok);
      socket.addEventListener('error', () => fail(new Error(`cannot open the inspector at ${url}`)));
    });
    return new Inspector(socket);
  }

  call(method: string, params: Record<string, unknown> = {}): Promise<Record<string, number>> {
    const id = ++this.next;
    if (this.closed) return Promise.reject(new Error('the inspector closed'));
    return new Promise((ok, fail) => {
      this.pending.set(id, { ok, fail });
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

/** The TCP ports process `pid` listens on, IPv4 and IPv6 (its sockets in /proc/<pid>/fd, matched in /proc/net/tcp*). */
export function listeningPorts(pid: number): { host: string; port: number }[] {
  const inodes = new Set<string>();
  try {
    for (const fd of readdirSync(`/proc/${pid}/fd`)) {
      try {
        const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
        if (m) inodes.add(m[1]!);
      } catch {
        // closed meanwhile
      }
    }
  } catch {
    return [];
  }
  const ports: { host: string; port: number }[] = [];
  for (const [file, host] of [
    ['/proc/net/tcp', '127.0.0.1'],
    ['/proc/net/tcp6', '[::1]'],
  ] as const) {
    let text = '';
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue; // no IPv6
    }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      // local address (hex ip:port), state 0A = LISTEN, inode
      if (f[3] === '0A' && inodes.has(f[9]!))
        ports.push({ host, port: Number.parseInt(f[1]!.split(':')[1]!, 16) });
    }
  }
  return ports;
}

/**
 * Worker `name`'s isolate through the inspector of one of the workerd processes `pids` (wrangler
 * and Miniflare start it on a port of their choosing: every port those processes listen on is
 * tried), or null when none answers for it.
 */
export async function isolateIn(pids: readonly number[], name: string): Promise<Inspector | null> {
  for (const pid of pids) {
    for (const { host, port } of listeningPorts(pid)) {
      // Opening is quick or fails; the first answer may wait while the isolate computes (a
      // coordinator with a population-960 generation to complete), so it gets longer.
      const isolate = await within(Inspector.open(`ws://${host}:${port}/core:user:${name}`), 3_000).catch(
        () => null, // not an inspector, or not this isolate's
      );
      if (!isolate) continue;
      // An inspector answers getHeapUsage; anything else that took the upgrade does not.
      if (((await within(isolate.heap(), 30_000).catch(() => 0)) ?? 0) > 0) return isolate;
      isolate.close();
    }
  }
  return null;
}

/** `p`, or a rejection after `ms` (the timer cleared either way). */
export function within<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([
    p,
    new Promise<never>((_, fail) => {
      timer = setTimeout(() => fail(new Error(`no answer in ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/** The isolate's heap after a full GC, MiB (one decimal). */
export async function heapAfterGc(isolate: Inspector): Promise<number> {
  await isolate.collect();
  return Math.round(((await isolate.heap()) / 2 ** 20) * 10) / 10;
}
