/**
 * The runs list's live events: one Durable Object per deployment (`RUNS_FEED_NAME`; the runs list
 * is its owner's, there is one owner) holds the open `GET /api/runs/events` streams and passes on
 * what each run's coordinator tells it (a run started, changed status, or moved on). No table: a
 * stream that reconnects reads the list afresh, so nothing needs replaying.
 */
import { DurableObject } from 'cloudflare:workers';
import type { RunFeedEvent } from '../../src/api/stream-events';
import type { Env } from '../api/env';

/** The one feed object's name. */
export const RUNS_FEED_NAME = 'runs';
/**
 * Open runs-list streams at once: the owner's dashboards in a few tabs and devices, and watchers;
 * the next one is refused (429), so a client reconnecting in a loop cannot grow the object's memory.
 */
export const MAX_RUNS_FEED_SUBSCRIBERS = 16;
/** A stream whose reader leaves this many events untaken is ended (it reconnects and reads the list). */
const MAX_QUEUED_EVENTS = 32;
/** A comment line now and then keeps idle proxies from closing a quiet stream. */
const HEARTBEAT_MS = 25_000;

export type RunsFeedSubscription =
  | { ok: true; stream: ReadableStream<Uint8Array>; id: number }
  | { ok: false; limit: number };

type StreamController = ReadableStreamDefaultController<Uint8Array>;

const encoder = new TextEncoder();
const HEARTBEAT = encoder.encode(': keep-alive\n\n');
const RETRY = encoder.encode('retry: 3000\n\n');
const READY = encoder.encode('event: ready\ndata: {}\n\n');

export class RunsFeed extends DurableObject<Env> {
  private readonly streams = new Map<number, StreamController>();
  private lastId = 0;
  private heartbeat: ReturnType<typeof setInterval> | null = null;

  /** A stream of `run` events from now on (first a `ready` event: the list may be read now). */
  subscribe(): RunsFeedSubscription {
    if (this.streams.size >= MAX_RUNS_FEED_SUBSCRIBERS)
      return { ok: false, limit: MAX_RUNS_FEED_SUBSCRIBERS };
    const id = ++this.lastId;
    const stream = new ReadableStream<Uint8Array>({
      start: (controller) => {
        this.streams.set(id, controller);
        controller.enqueue(RETRY);
        controller.enqueue(READY);
        this.startHeartbeat();
      },
      cancel: () => {
        this.streams.delete(id);
      },
    });
    return { ok: true, stream, id };
  }

  /** The API is done with stream `id` (its client left, or its credential ended). */
  unsubscribe(id: number): void {
    const c = this.streams.get(id);
    this.streams.delete(id);
    try {
      c?.close();
    } catch {
      // already closed
    }
  }

  /** Open streams; for tests and diagnostics. */
  subscriberCount(): number {
    return this.streams.size;
  }

  /** A run started, changed status or moved on: to every open stream. */
  runChanged(event: RunFeedEvent): void {
    this.broadcast(encoder.encode(`event: run\ndata: ${JSON.stringify(event)}\n\n`));
  }

  private startHeartbeat(): void {
    if (this.heartbeat) return;
    this.heartbeat = setInterval(() => {
      if (this.streams.size === 0 && this.heartbeat) {
        clearInterval(this.heartbeat);
        this.heartbeat = null;
      } else {
        this.broadcast(HEARTBEAT);
      }
    }, HEARTBEAT_MS);
  }

  private broadcast(bytes: Uint8Array): void {
    for (const [id, c] of this.streams) {
      try {
        // A reader that stopped taking events is ended rather than queued for without bound.
        if ((c.desiredSize ?? 0) <= -MAX_QUEUED_EVENTS) this.unsubscribe(id);
        else c.enqueue(bytes);
      } catch {
        this.streams.delete(id);
      }
    }
  }
}

/**
 * Tell the runs list's streams about a run (best effort: a list that misses one event is right
 * again at the next, and a reconnecting page reads the list afresh).
 */
export async function tellRunsFeed(env: Pick<Env, 'RUNS_FEED'>, event: RunFeedEvent): Promise<void> {
  try {
    await env.RUNS_FEED.get(env.RUNS_FEED.idFromName(RUNS_FEED_NAME)).runChanged(event);
  } catch (e) {
    console.warn(`runs feed: could not tell about run ${event.id}: ${String(e)}`);
  }
}
