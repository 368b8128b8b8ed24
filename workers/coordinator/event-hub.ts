/**
 * The run's Server-Sent Events: every open stream, its replay of the generation log page by page,
 * and the live fan-out of each finished generation and status change. Holds no table; it reads the
 * log through `EventSource.page` and the run's snapshot through `EventSource.snapshot`.
 */
import type { ModelEvent } from '../../src/api/stream-events';
import type { LogEntry } from './generation-log';
import { isTerminal, type RunSnapshot } from './types';

/**
 * Open event streams per run (live or still replaying); the next `subscribe` is refused (the API
 * answers 429). Each live stream costs the object a queue entry per event, nothing more.
 */
export const MAX_SUBSCRIBERS_PER_RUN = 32;
/**
 * Open event streams one share link may hold on a run: a page or two and a CLI, with room for a
 * reconnect. Without it one view link (anyone it was passed to) could take every slot of the run.
 */
export const MAX_STREAMS_PER_SHARE_LINK = 4;
/**
 * Open event streams all share links of a run may hold together: the rest of the run's slots are
 * kept for its owner, so links passed around widely never lock the owner out of the live view.
 */
export const MAX_SHARE_LINK_STREAMS_PER_RUN = MAX_SUBSCRIBERS_PER_RUN - MAX_STREAMS_PER_SHARE_LINK;
/**
 * A `since` replay reads the generation log this many generations at a time (one chunk of about
 * 1 KB per generation), and reads the next page only when the reader has taken the previous one:
 * a replay of 100,000 generations never holds more than a page or two in the object's memory.
 */
export const REPLAY_PAGE = 64;
/**
 * A live stream whose reader leaves this many events untaken is dropped (closed): a gone or stuck
 * reader (the object is not always told when a caller goes away) holds at most this many events.
 * A client that reconnects with `Last-Event-ID` resumes from the log.
 */
export const MAX_QUEUED_EVENTS = 32;

/**
 * Who opens a stream: the run's owner, or the holder of share link `linkId` (streams are counted
 * per link, and all links together, against the limits above).
 */
export type Subscriber = { kind: 'owner' } | { kind: 'share'; linkId: string };

/**
 * `models`: the stream stays open after the run ends, for its `model` events (a version published,
 * a training moving): a finished run's page still hears what the CLI does to its models.
 */
export interface SubscribeOptions {
  models?: boolean;
}

/**
 * Why a stream was refused: the run's streams are all taken (`too_many_subscribers`), this share
 * link holds its own limit (`too_many_link_streams`), or the share links together hold theirs
 * (`too_many_share_streams`); `limit` is the limit reached.
 */
export type SubscriptionRefusal = 'too_many_subscribers' | 'too_many_link_streams' | 'too_many_share_streams';

/**
 * What `subscribe` answers: the event stream and its id (for `unsubscribe`), or why there is none.
 */
export type Subscription =
  | { ok: true; stream: ReadableStream<Uint8Array>; id: number }
  | { ok: false; reason: SubscriptionRefusal; limit: number };

/** What the hub reads: the log after a generation (at most `limit` entries), and the run now. */
export interface EventSource {
  page(after: number, limit: number): LogEntry[];
  snapshot(): RunSnapshot | null;
}

type StreamController = ReadableStreamDefaultController<Uint8Array>;

const encoder = new TextEncoder();
const HEARTBEAT = encoder.encode(': keep-alive\n\n');
const RETRY = encoder.encode('retry: 3000\n\n');
const READER_BEHIND = encoder.encode(
  `event: end\ndata: ${JSON.stringify({ code: 'reader_behind', message: 'this stream fell too far behind; reconnect with Last-Event-ID to resume' })}\n\n`,
);

export class EventHub {
  /**
   * Every open event stream (→ its id and the share link that opened it, null for the owner), live
   * or replaying: what `MAX_SUBSCRIBERS_PER_RUN` and the share-link limits count.
   */
  private readonly streams = new Map<
    StreamController,
    { id: number; linkId: string | null; models: boolean }
  >();
  private lastStreamId = 0;
  /** The streams that caught up with the log: each new event is queued on them. */
  private readonly subscribers = new Set<StreamController>();
  private heartbeat: ReturnType<typeof setInterval> | null = null;

  constructor(private readonly source: EventSource) {}

  /**
   * The `generation` events after `since` (replayed from the log, page by page as the reader takes
   * them), then a `status` event, then one event per finished generation and per status change.
   * The stream ends after a terminal status, unless it follows the run's `models` (then `model`
   * events keep coming until the reader leaves).
   */
  subscribe(
    since?: number,
    subscriber: Subscriber = { kind: 'owner' },
    { models = false }: SubscribeOptions = {},
  ): Subscription {
    const refusal = this.refusal(subscriber);
    if (refusal) return refusal;
    const linkId = subscriber.kind === 'share' ? subscriber.linkId : null;
    const id = ++this.lastStreamId;
    let self: StreamController | null = null;
    /** The last generation replayed; null once the stream is live (or without `since`). */
    let replayedTo: number | null = since ?? null;
    const goLive = (controller: StreamController) => {
      replayedTo = null;
      controller.enqueue(this.statusEvent());
      const snapshot = this.source.snapshot();
      if (!snapshot || (isTerminal(snapshot.status) && !models)) {
        this.dropStream(controller);
        controller.close();
      } else {
        // Synchronously after the last page: no generation can be finished in between.
        this.subscribers.add(controller);
        this.startHeartbeat();
      }
    };
    const stream = new ReadableStream<Uint8Array>({
      start: (controller) => {
        self = controller;
        this.streams.set(controller, { id, linkId, models });
        controller.enqueue(RETRY);
        if (replayedTo === null || !this.source.snapshot()) goLive(controller);
      },
      // Called only when the reader has taken what is queued: one page of the log per call.
      pull: (controller) => {
        if (replayedTo === null || !this.streams.has(controller)) return;
        const rows = this.source.page(replayedTo, REPLAY_PAGE);
        if (rows.length > 0) {
          controller.enqueue(encoder.encode(rows.map((r) => generationEventText(r.gen, r.entry)).join('')));
          replayedTo = rows[rows.length - 1].gen;
        }
        if (rows.length < REPLAY_PAGE) goLive(controller);
      },
      cancel: () => {
        if (self) this.dropStream(self);
      },
    });
    return { ok: true, stream, id };
  }

  /** Close stream `id` (the API says its client left, or its credential ended). */
  unsubscribe(id: number): void {
    for (const [c, stream] of this.streams) {
      if (stream.id !== id) continue;
      this.dropStream(c);
      try {
        c.close();
      } catch {
        // already closed or errored
      }
    }
  }

  /** Why `subscriber` may not open another stream now, or null when it may. */
  private refusal(subscriber: Subscriber): Subscription | null {
    if (this.streams.size >= MAX_SUBSCRIBERS_PER_RUN) {
      return { ok: false, reason: 'too_many_subscribers', limit: MAX_SUBSCRIBERS_PER_RUN };
    }
    if (subscriber.kind === 'owner') return null;
    let ofLink = 0;
    let ofLinks = 0;
    for (const { linkId } of this.streams.values()) {
      if (linkId === null) continue;
      ofLinks++;
      if (linkId === subscriber.linkId) ofLink++;
    }
    if (ofLink >= MAX_STREAMS_PER_SHARE_LINK) {
      return { ok: false, reason: 'too_many_link_streams', limit: MAX_STREAMS_PER_SHARE_LINK };
    }
    if (ofLinks >= MAX_SHARE_LINK_STREAMS_PER_RUN) {
      return { ok: false, reason: 'too_many_share_streams', limit: MAX_SHARE_LINK_STREAMS_PER_RUN };
    }
    return null;
  }

  /** Open event streams (live or replaying). */
  count(): number {
    return this.streams.size;
  }

  /** A finished generation: its log entry, as written, to every live stream. */
  generation(entry: LogEntry): void {
    this.broadcast(encoder.encode(generationEventText(entry.gen, entry.entry)));
  }

  /** The run's status changed: its snapshot to every live stream. */
  status(): void {
    this.broadcast(this.statusEvent());
  }

  /** A model of the run was published, or its training moved: to every live stream. */
  model(event: ModelEvent): void {
    this.broadcast(encoder.encode(`event: model\ndata: ${JSON.stringify(event)}\n\n`));
  }

  /**
   * End every live stream (a terminal status) but those that follow the run's models. Streams still
   * replaying end when they catch up.
   */
  endLive(): void {
    for (const c of this.subscribers) {
      if (this.streams.get(c)?.models) continue;
      this.dropStream(c);
      try {
        c.close();
      } catch {
        // the reader is already gone
      }
    }
  }

  private statusEvent(): Uint8Array {
    return encoder.encode(`event: status\ndata: ${JSON.stringify(this.source.snapshot())}\n\n`);
  }

  /** A comment line now and then keeps idle proxies from closing streams between generations. */
  private startHeartbeat(): void {
    if (this.heartbeat) return;
    this.heartbeat = setInterval(() => {
      if (this.subscribers.size === 0 && this.heartbeat) {
        clearInterval(this.heartbeat);
        this.heartbeat = null;
      } else {
        this.broadcast(HEARTBEAT);
      }
    }, 25_000);
  }

  private broadcast(bytes: Uint8Array): void {
    for (const c of this.subscribers) {
      if ((c.desiredSize ?? 0) <= -MAX_QUEUED_EVENTS) {
        // Its reader has stopped taking events: end it rather than queue without bound.
        this.dropStream(c);
        try {
          c.enqueue(READER_BEHIND);
          c.close();
        } catch {
          // already closed or errored
        }
        continue;
      }
      try {
        c.enqueue(bytes);
      } catch {
        this.dropStream(c);
      }
    }
  }

  private dropStream(c: StreamController): void {
    this.streams.delete(c);
    this.subscribers.delete(c);
  }
}

function generationEventText(gen: number, record: string): string {
  return `event: generation\nid: ${gen}\ndata: ${record}\n\n`;
}
