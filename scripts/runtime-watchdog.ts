/**
 * `npm start`'s watchdog on the Workers runtime behind `wrangler dev`: it asks `GET /api/health`
 * every `intervalMs` and, when no answer has come for `hangMs`, calls `onHang` (start.ts restarts
 * `wrangler dev`; runs go on from their stored state, as after any killed process).
 *
 * Why: the runtime can wedge for good (workerd-v8-flags.cjs removes the cause we know). Seen once in the browser tests (workerd 1.20260426, 2 cores):
 * the API Worker's workerd process at 100 % of a core for 15 minutes, 3,190 connections waiting
 * to be accepted, every request unanswered. Its stacks showed a deadlock inside V8: the one V8
 * background thread, compiling with Maglev, waited for the main thread to collect garbage
 * (`CollectionBarrier::AwaitCollectionBackground`), while the main thread spun in
 * `PumpMessageLoop` re-running cppgc's incremental sweep task, which waits for the concurrent
 * sweep that only that background thread could run. Nothing in our code can undo it (no JavaScript
 * runs, and `wrangler dev` passes no V8 flags); a new process can.
 */

export interface WatchdogOptions {
  /** The health URL (the runtime's own port, not the front door's). */
  url: string;
  /** Time between health requests. */
  intervalMs: number;
  /** No answer for this long counts as a wedged runtime. */
  hangMs: number;
  /** Called once per hang with a sentence saying what was seen; checks pause until it settles. */
  onHang: (reason: string) => Promise<void>;
}

export interface Watchdog {
  stop(): void;
  /** Hangs seen so far. */
  readonly hangs: number;
}

export function watchRuntime(options: WatchdogOptions): Watchdog {
  const { url, intervalMs, hangMs, onHang } = options;
  let lastAnswer = Date.now();
  let hangs = 0;
  let busy = false;
  let stopped = false;
  const check = async () => {
    if (busy || stopped) return;
    busy = true;
    try {
      // Any HTTP answer counts: the runtime answered. Only silence (or a refused connection) does not.
      const res = await fetch(url, { signal: AbortSignal.timeout(hangMs) });
      await res.body?.cancel();
      lastAnswer = Date.now();
    } catch {
      const silent = Date.now() - lastAnswer;
      if (silent >= hangMs && !stopped) {
        hangs++;
        await onHang(
          `the Workers runtime has not answered ${new URL(url).pathname} for ${Math.round(silent / 1000)} s`,
        ).catch((e) => console.error(`npm start: after a hang: ${(e as Error).message}`));
        lastAnswer = Date.now();
      }
    } finally {
      busy = false;
    }
  };
  const timer = setInterval(check, intervalMs);
  timer.unref();
  return {
    stop() {
      stopped = true;
      clearInterval(timer);
    },
    get hangs() {
      return hangs;
    },
  };
}
