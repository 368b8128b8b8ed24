/**
 * The dashboard's live runs list: `GET /api/runs/events` (workers/api/runs-feed.ts) says when a run
 * starts, changes status or moves on, so the list is read again when something happened rather
 * than on a timer. EventSource reconnects by itself after a dropped connection; a refused one
 * (429, a session that ended) is tried again after `REOPEN_MS`.
 */
import type { RunFeedEvent, StreamEnd } from '../../src/api/stream-events';
import { parseStreamEnd } from './stream-end';

/** How long after a refused or closed stream it is opened again. */
const REOPEN_MS = 10_000;

export interface RunsFeedHandlers {
  /** The stream is open: read the list now (anything after this arrives as `onRun`). */
  onReady(): void;
  onRun(event: RunFeedEvent): void;
  /** The credential that opened it ended: the stream is closed and not reopened. */
  onEnd(end: StreamEnd): void;
  /** Whether the list is live (shown beside it). */
  onLive?(live: boolean): void;
}

export class RunsListFeed {
  private source: EventSource | null = null;
  private reopen: ReturnType<typeof setTimeout> | undefined;

  constructor(private readonly handlers: RunsFeedHandlers) {}

  get open(): boolean {
    return this.source !== null;
  }

  start(): void {
    if (this.source) return;
    clearTimeout(this.reopen);
    const source = new EventSource('/api/runs/events');
    this.source = source;
    source.addEventListener('ready', () => {
      this.handlers.onLive?.(true);
      this.handlers.onReady();
    });
    source.addEventListener('run', (e) => {
      this.handlers.onRun(JSON.parse((e as MessageEvent<string>).data) as RunFeedEvent);
    });
    source.addEventListener('end', (e) => {
      const end = parseStreamEnd((e as MessageEvent<unknown>).data);
      if (!end || end.code === 'reader_behind') return; // EventSource reconnects; `ready` reads the list
      this.stop();
      this.handlers.onEnd(end);
    });
    source.addEventListener('error', () => {
      this.handlers.onLive?.(false);
      if (source.readyState !== EventSource.CLOSED || this.source !== source) return;
      // Refused (429, 401): not reconnected by EventSource itself.
      this.source = null;
      this.reopen = setTimeout(() => this.start(), REOPEN_MS);
    });
  }

  stop(): void {
    clearTimeout(this.reopen);
    this.source?.close();
    this.source = null;
    this.handlers.onLive?.(false);
  }
}
