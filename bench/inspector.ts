/**
 * A Chrome DevTools Protocol session with one Worker isolate through workerd's inspector
 * (`ws://<inspector address>/core:user:<worker name>`): the isolate's heap, and a full GC. Shared by
 * bench:request-memory (the inference Worker in Miniflare) and bench:memory-probe (the API Worker
 * under `npm start`).
 */
import { WebSocket } from 'undici';

/** A Chrome DevTools Protocol session with one Worker isolate of workerd's inspector. */
export class Inspector {
  private next = 0;
  private readonly pending = new Map<number, (result: Record<string, number>) => void>();
  private constructor(private readonly socket: WebSocket) {
    socket.addEventListener('message', (e) => {
      const message = JSON.parse(String(e.data)) as { id?: number; result?: Record<string, number> };
      if (message.id === undefined) return; // events (heap snapshot chunks)
      this.pending.get(message.id)?.(message.result ?? {});
      this.pending.delete(message.id);
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
