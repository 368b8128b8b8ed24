/**
 * `GET /api/runs/events`: the runs list's Server-Sent Events, for the owner (token or signed-in
 * pages). A `ready` event, then a `run` event whenever a run starts, changes status or moves on
 * (src/api/stream-events.ts); the stream ends with an `end` event when the credential that opened it
 * ends (event-stream.ts). The streams live in the one `RunsFeed` object (workers/runs-feed).
 */
import { Hono } from 'hono';
import { RUNS_FEED_NAME } from '../runs-feed/runs-feed';
import { requireOwnerRead } from './auth';
import type { Env } from './env';
import { ApiError } from './errors';
import { credentialCheck, guardEventStream } from './event-stream';

export const runsFeedApp = new Hono<{ Bindings: Env }>().get('/', requireOwnerRead, async (c) => {
  const feed = c.env.RUNS_FEED.get(c.env.RUNS_FEED.idFromName(RUNS_FEED_NAME));
  const subscription = await feed.subscribe();
  if (!subscription.ok) {
    throw new ApiError(
      429,
      'too_many_subscribers',
      `the runs list already has ${subscription.limit} open event streams, the most it serves; close one (another tab or watcher) and try again`,
      { 'Retry-After': '10' },
    );
  }
  const stream = guardEventStream(subscription.stream, credentialCheck(c), {
    onEnd: () => {
      const left = feed.unsubscribe(subscription.id).catch(() => {});
      try {
        c.executionCtx.waitUntil(left);
      } catch {
        // no execution context (app.request in tests): the promise runs on its own
      }
    },
    signal: c.req.raw.signal,
  });
  return c.body(stream, 200, {
    'Content-Type': 'text/event-stream; charset=utf-8',
    'Cache-Control': 'no-cache, no-transform',
    'X-Accel-Buffering': 'no',
  });
});
