/**
 * Event streams: revocation, expiry and session end reach streams that are already open (each
 * ends with an `end` event saying why), the per-run subscriber cap, and the paged `since` replay.
 */
import { runInDurableObject } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import { beforeAll, describe, expect, it } from 'vitest';
import { guardEventStream, STREAM_HEARTBEAT_MS, STREAM_RECHECK_MS } from '../../workers/api/event-stream';
import { startSession } from '../../workers/api/session';
import {
  MAX_SHARE_LINK_STREAMS_PER_RUN,
  MAX_STREAMS_PER_SHARE_LINK,
  MAX_SUBSCRIBERS_PER_RUN,
  REPLAY_PAGE,
  type SearchCoordinator,
} from '../../workers/coordinator/search-coordinator';
import { type ErrorBody, header, post, request, sessionCookie } from './helpers';
import { parkedRun } from './parked-run';
import { readSse, type SseEvent, type SseReader } from './sse';

/** A run that stays `running` (and quiet) for the whole file. */
let runId: string;

function stub(id: string) {
  return env.COORD.get(env.COORD.idFromName(id));
}

async function shareLink(id: string): Promise<{ id: string; token: string; url: string }> {
  const res = await post(`/api/runs/${id}/share`, { scope: 'view' });
  if (res.status !== 201) throw new Error(`share → ${res.status} ${await res.text()}`);
  return res.json();
}

/** Opens a stream and waits for its first event (the `status` snapshot): the stream is live. */
async function open(path: string, init: Parameters<typeof request>[1] = {}): Promise<SseReader> {
  const res = await request(path, init);
  expect(res.status).toBe(200);
  expect(header(res, 'Content-Type')).toMatch(/^text\/event-stream/);
  const sse = readSse(res);
  const first = await sse.next();
  expect(first?.event).toBe('status');
  return sse;
}

/** Reads to the stream's end; its last event. */
async function lastEvent(sse: SseReader): Promise<SseEvent | undefined> {
  const events = await sse.rest();
  return events[events.length - 1];
}

/** The guarantee: a stream ends within this long after its credential does. */
const ENDS_WITHIN_MS = 1000;

/**
 * Reads to the stream's end and checks that it ended with an `end` event of `code`, at most
 * ENDS_WITHIN_MS after `endedAt` (when the credential ended, `Date.now()` time).
 */
async function endsWithin(sse: SseReader, code: string, endedAt: number): Promise<void> {
  const end = await lastEvent(sse);
  const late = Date.now() - endedAt;
  expect(end?.event).toBe('end');
  expect(JSON.parse(end!.data)).toMatchObject({ code });
  expect(late).toBeLessThanOrEqual(ENDS_WITHIN_MS);
}

/**
 * Waits until the coordinator has forgotten every closed stream (closing is asynchronous; a
 * closed stream tells it at once, so the bound is only there to report a slot that is never freed).
 */
async function subscribersSettle(id: string, expected: number): Promise<void> {
  const deadline = Date.now() + 30_000;
  while ((await stub(id).subscriberCount()) !== expected && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 25));
  }
  expect(await stub(id).subscriberCount()).toBe(expected);
}

beforeAll(async () => {
  runId = await parkedRun(5);
});

describe('credentials are re-checked while a stream is open', () => {
  it('re-checks at least twice a second', () => {
    expect(STREAM_RECHECK_MS).toBeLessThanOrEqual(500);
  });

  it('revoking a link ends its open streams, under /s/<token> and as a Bearer token', async () => {
    const link = await shareLink(runId);
    const mirrored = await open(`/s/${link.token}/api/run/events`, { token: null });
    const bearer = await open(`/api/runs/${runId}/events`, { token: link.token });
    const owner = await open(`/api/runs/${runId}/events`);

    const revoked = await request(`/api/runs/${runId}/share/${link.id}`, { method: 'DELETE' });
    expect(revoked.status).toBe(200);
    const revokedAt = Date.now();

    await Promise.all([mirrored, bearer].map((sse) => endsWithin(sse, 'share_link_revoked', revokedAt)));
    // The owner's stream is not affected; the link's new requests are refused.
    await subscribersSettle(runId, 1);
    await owner.close();
    expect((await request(`/s/${link.token}/api/run/events`, { token: null })).status).toBe(410);
    await subscribersSettle(runId, 0);
  });

  it('an expiring link ends its open streams', async () => {
    const link = await shareLink(runId);
    const mirrored = await open(`/s/${link.token}/api/run/events`, { token: null });
    const bearer = await open(`/api/runs/${runId}/events`, { token: link.token });
    // A short expiry: the link runs out 100 ms from now, while both streams are open.
    const expiresAt = Date.now() + 100;
    await env.DB.prepare('UPDATE share_links SET expires_at = ? WHERE id = ?').bind(expiresAt, link.id).run();
    await Promise.all([mirrored, bearer].map((sse) => endsWithin(sse, 'share_link_expired', expiresAt)));
    await subscribersSettle(runId, 0);
  });

  it('signing out, or ending every session, ends the streams a session opened', async () => {
    for (const end of [
      (cookie: string) =>
        request('/api/session', { method: 'DELETE', token: null, headers: { Cookie: cookie } }),
      () => request('/api/sessions', { method: 'DELETE' }),
    ]) {
      const cookie = await sessionCookie();
      const sse = await open(`/api/runs/${runId}/events`, { token: null, headers: { Cookie: cookie } });
      const owner = await open(`/api/runs/${runId}/events`);
      expect((await end(cookie)).status).toBeLessThan(300);
      await endsWithin(sse, 'session_ended', Date.now());
      // A stream opened with the API token is not a session's.
      await subscribersSettle(runId, 1);
      await owner.close();
    }
    await subscribersSettle(runId, 0);
  });

  it('an owner session that runs out ends the stream it opened', async () => {
    // A session valid for 1–2 s (expiry is in whole seconds).
    const { value, expiresAt } = await startSession(env, Date.now(), 2);
    const sse = await open(`/api/runs/${runId}/events`, {
      token: null,
      headers: { Cookie: `wann_session=${value}` },
    });
    await endsWithin(sse, 'session_ended', expiresAt);
    await subscribersSettle(runId, 0);
  });

  it('rotating the API token ends the streams the old token opened', async () => {
    // Deployed, a new secret is a new deployment and locally a new .dev.vars needs a restart: both
    // start the Workers again, which ends every stream. An isolate that sees the configured token
    // change (here: the test's env, which the Worker reads) ends them at its next check.
    const sse = await open(`/api/runs/${runId}/events`);
    const share = await open(`/api/runs/${runId}/events`, { token: (await shareLink(runId)).token });
    const configured = env.API_TOKEN;
    try {
      env.API_TOKEN = 'rotated-token-5d1e8b7c2a9f4e03';
      await endsWithin(sse, 'token_rotated', Date.now());
      expect((await request(`/api/runs/${runId}/events`)).status).toBe(401);
    } finally {
      env.API_TOKEN = configured;
    }
    // A share link's stream does not depend on the API token.
    await subscribersSettle(runId, 1);
    await share.close();
    await subscribersSettle(runId, 0);
  });

  it("a cancelled run's streams end with its final status", async () => {
    const id = await parkedRun();
    const sse = await open(`/api/runs/${id}/events`);
    expect((await post(`/api/runs/${id}/cancel`)).status).toBe(200);
    const end = await lastEvent(sse);
    expect(end?.event).toBe('status');
    expect(JSON.parse(end!.data)).toMatchObject({ status: 'cancelled' });
  });
});

describe('subscriber cap', () => {
  it(`serves ${MAX_SUBSCRIBERS_PER_RUN} streams per run, answers 429 beyond, and frees closed ones`, async () => {
    const streams: SseReader[] = [];
    try {
      for (let i = 0; i < MAX_SUBSCRIBERS_PER_RUN; i++) streams.push(await open(`/api/runs/${runId}/events`));
      const refused = await request(`/api/runs/${runId}/events`);
      expect(refused.status).toBe(429);
      expect(header(refused, 'Retry-After')).toMatch(/^\d+$/);
      const body = (await refused.json()) as ErrorBody;
      expect(body.error.code).toBe('too_many_subscribers');
      expect(body.error.message).toContain(String(MAX_SUBSCRIBERS_PER_RUN));
      // Everything else is still served.
      expect((await request(`/api/runs/${runId}`)).status).toBe(200);

      await streams.pop()!.close();
      await subscribersSettle(runId, MAX_SUBSCRIBERS_PER_RUN - 1);
      streams.push(await open(`/api/runs/${runId}/events`));
    } finally {
      await Promise.all(streams.map((s) => s.close()));
    }
    await subscribersSettle(runId, 0);
  });
});

describe('share-link stream caps', () => {
  it(`lets one link hold ${MAX_STREAMS_PER_SHARE_LINK} streams and all links ${MAX_SHARE_LINK_STREAMS_PER_RUN}, keeping the rest for the owner`, async () => {
    expect(MAX_STREAMS_PER_SHARE_LINK).toBeLessThan(MAX_SUBSCRIBERS_PER_RUN);
    expect(MAX_SHARE_LINK_STREAMS_PER_RUN).toBeLessThanOrEqual(
      MAX_SUBSCRIBERS_PER_RUN - MAX_STREAMS_PER_SHARE_LINK,
    );
    const id = await parkedRun(1);
    const streams: SseReader[] = [];
    try {
      const first = await shareLink(id);
      for (let i = 0; i < MAX_STREAMS_PER_SHARE_LINK; i++) {
        // Both ways a link opens a stream count against the same link.
        const path = i % 2 ? `/s/${first.token}/api/run/events` : `/api/runs/${id}/events`;
        streams.push(await open(path, { token: i % 2 ? null : first.token }));
      }
      for (const [path, token] of [
        [`/api/runs/${id}/events`, first.token],
        [`/s/${first.token}/api/run/events`, null],
      ] as const) {
        const refused = await request(path, { token });
        expect(refused.status).toBe(429);
        expect(header(refused, 'Retry-After')).toMatch(/^\d+$/);
        const body = (await refused.json()) as ErrorBody;
        expect(body.error.code).toBe('too_many_link_streams');
        expect(body.error.message).toContain(String(MAX_STREAMS_PER_SHARE_LINK));
      }

      // Other links fill the share links' part of the run.
      let opened = MAX_STREAMS_PER_SHARE_LINK;
      while (opened < MAX_SHARE_LINK_STREAMS_PER_RUN) {
        const link = await shareLink(id);
        for (
          let i = 0;
          i < MAX_STREAMS_PER_SHARE_LINK && opened < MAX_SHARE_LINK_STREAMS_PER_RUN;
          i++, opened++
        ) {
          streams.push(await open(`/api/runs/${id}/events`, { token: link.token }));
        }
      }
      const fresh = await shareLink(id);
      const refused = await request(`/api/runs/${id}/events`, { token: fresh.token });
      expect(refused.status).toBe(429);
      const body = (await refused.json()) as ErrorBody;
      expect(body.error.code).toBe('too_many_share_streams');
      expect(body.error.message).toContain(String(MAX_SHARE_LINK_STREAMS_PER_RUN));

      // The owner still gets the slots kept for it, up to the run's own cap.
      for (let n = MAX_SHARE_LINK_STREAMS_PER_RUN; n < MAX_SUBSCRIBERS_PER_RUN; n++) {
        streams.push(await open(`/api/runs/${id}/events`));
      }
      const full = await request(`/api/runs/${id}/events`);
      expect(full.status).toBe(429);
      expect(((await full.json()) as ErrorBody).error.code).toBe('too_many_subscribers');

      // A link's closed stream frees its slot for that link again.
      await streams[0].close();
      streams.shift();
      await subscribersSettle(id, MAX_SUBSCRIBERS_PER_RUN - 1);
      streams.push(await open(`/api/runs/${id}/events`, { token: first.token }));
    } finally {
      await Promise.all(streams.map((s) => s.close()));
    }
    await subscribersSettle(id, 0);
  });
});

describe('since replay', () => {
  it(`is read in pages of ${REPLAY_PAGE} generations, one page per read, in order`, async () => {
    const n = 2 * REPLAY_PAGE + 7;
    const id = await parkedRun(n, 'completed');
    await runInDurableObject(stub(id), async (object) => {
      const instance = object as unknown as SearchCoordinator;
      const subscription = instance.subscribe(-1);
      if (!subscription.ok) throw new Error('refused');
      const reader = subscription.stream.getReader();
      const decoder = new TextDecoder();
      const perChunk: number[] = [];
      let text = '';
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        const chunk = decoder.decode(value);
        perChunk.push((chunk.match(/^event: generation$/gm) ?? []).length);
        text += chunk;
      }
      // retry, three pages, then the status.
      expect(perChunk).toEqual([0, REPLAY_PAGE, REPLAY_PAGE, 7, 0]);
      const ids = [...text.matchAll(/^id: (\d+)$/gm)].map((m) => Number(m[1]));
      expect(ids).toEqual(Array.from({ length: n }, (_, g) => g));
      expect(text.trimEnd().split('\n\n').pop()).toMatch(/^event: status\ndata: .*"completed"/);
      expect(instance.subscriberCount()).toBe(0);
    });
  });

  it('through the API: `since` and `Last-Event-ID` resume after the given generation', async () => {
    for (const init of [{ path: '?since=1' }, { path: '', headers: { 'Last-Event-ID': '1' } }]) {
      const res = await request(`/api/runs/${runId}/events${init.path}`, { headers: init.headers });
      const sse = readSse(res);
      const events = [await sse.next(), await sse.next(), await sse.next(), await sse.next()];
      expect(events.map((e) => `${e?.event} ${e?.id ?? ''}`)).toEqual([
        'generation 2',
        'generation 3',
        'generation 4',
        'status ',
      ]);
      await sse.close();
    }
    await subscribersSettle(runId, 0);
  });
});

/**
 * How soon a left stream's slot must be free: far below the coordinator's own heartbeat (25 s, the
 * only write a quiet stream used to get), far above the guard's (two STREAM_HEARTBEAT_MS), so the
 * bound is met on a loaded machine and missed by a slot that waits for the coordinator.
 */
const RELEASED_WITHIN_MS = 10_000;

describe('a client that leaves frees its stream slot', () => {
  it('a quiet stream writes a heartbeat, so a gone client is noticed (the write fails) and the slot freed', async () => {
    let sourceCancelled = false;
    // The coordinator's stream of a quiet run: nothing to send, for as long as the test lasts.
    const quiet = new ReadableStream<Uint8Array>({
      pull: () => new Promise(() => {}),
      cancel: () => {
        sourceCancelled = true;
      },
    });
    let released!: () => void;
    const freed = new Promise<'freed'>((resolve) => {
      released = () => resolve('freed');
    });
    const guarded = guardEventStream(quiet, async () => null, { onEnd: () => released(), heartbeatMs: 20 });
    // The runtime pumps the body into the client's socket; the client has left: every write fails.
    const written: string[] = [];
    const goneClient = new WritableStream<Uint8Array>({
      write(chunk) {
        written.push(new TextDecoder().decode(chunk));
        throw new Error('the client has left');
      },
    });
    const pumped = guarded.pipeTo(goneClient).catch(() => 'ended');
    let bound: ReturnType<typeof setTimeout> | undefined;
    const held = new Promise<'held'>((resolve) => {
      bound = setTimeout(() => resolve('held'), RELEASED_WITHIN_MS);
    });
    expect(await Promise.race([freed, held])).toBe('freed');
    clearTimeout(bound);
    expect(await pumped).toBe('ended');
    // A comment (ignored by every client), and the coordinator's stream is let go too.
    expect(written).toEqual([':\n\n']);
    expect(sourceCancelled).toBe(true);
  });

  it('a heartbeat never lands inside an event split across chunks', async () => {
    let sendRest!: () => void;
    const restSent = new Promise<void>((resolve) => {
      sendRest = resolve;
    });
    const parts = ['event: generation\nid: 1\ndata: {"gen"', ':1}\n\n'];
    let n = 0;
    const split = new ReadableStream<Uint8Array>({
      async pull(controller) {
        if (n === 1) await restSent;
        if (n < parts.length) controller.enqueue(new TextEncoder().encode(parts[n++]));
        else controller.close();
      },
    });
    const reader = guardEventStream(split, async () => null, { heartbeatMs: 5 }).getReader();
    const read = async () => new TextDecoder().decode((await reader.read()).value);
    expect(await read()).toBe(parts[0]);
    // Many heartbeat intervals pass while the event is half sent: none may be written.
    await new Promise((r) => setTimeout(r, 100));
    sendRest();
    expect(await read()).toBe(parts[1]);
    // Whole again: the next quiet interval writes a comment.
    await reader.cancel();
  });

  it('a client that leaves while a read waits ends the stream at once, without spinning', async () => {
    // The coordinator's stream as the guard reads it: one event, then nothing until cancelled, after
    // which every read answers "done" at once. Reads are counted, and past 50 one throws, so a
    // guard that keeps pulling a finished source ends (with a failure below) instead of spinning
    // the isolate forever, as it once held `npm start`'s one thread.
    let reads = 0;
    let cancelled = false;
    let wake: (() => void) | undefined;
    const source = {
      getReader: () => ({
        read: async (): Promise<ReadableStreamReadResult<Uint8Array>> => {
          reads += 1;
          if (reads > 50) throw new Error('read past its end 50 times');
          if (reads === 1)
            return { done: false, value: new TextEncoder().encode('event: status\ndata: {}\n\n') };
          if (!cancelled) await new Promise<void>((resolve) => (wake = resolve));
          return { done: true, value: undefined };
        },
        cancel: async () => {
          cancelled = true;
          wake?.();
        },
      }),
    } as unknown as ReadableStream<Uint8Array>;
    const leave = new AbortController();
    let ends = 0;
    const reader = guardEventStream(source, async () => null, {
      signal: leave.signal,
      onEnd: () => (ends += 1),
    }).getReader();
    expect(new TextDecoder().decode((await reader.read()).value)).toContain('event: status');
    const waiting = reader.read(); // the runtime's next read, waiting for the quiet run's next event
    leave.abort();
    let bound: ReturnType<typeof setTimeout> | undefined;
    const stillWaiting = new Promise<'still waiting'>((resolve) => {
      bound = setTimeout(() => resolve('still waiting'), 5_000);
    });
    expect(await Promise.race([waiting, stillWaiting])).toEqual({ done: true, value: undefined });
    clearTimeout(bound);
    expect(reads).toBeLessThan(5);
    expect(cancelled).toBe(true);
    expect(ends).toBe(1);
  });

  /**
   * Opens a stream whose client then leaves the way a closed tab or a killed `curl` does: its fetch
   * is aborted, nothing cancels the body on the Worker's side, and the Worker learns it only when a
   * write to the gone client fails.
   */
  async function openThenLeave(path: string, token?: string | null): Promise<() => void> {
    const leave = new AbortController();
    const res = await request(path, { token, signal: leave.signal });
    expect(res.status).toBe(200);
    const first = await readSse(res).next();
    expect(first?.event).toBe('status');
    return () => leave.abort();
  }

  /**
   * Polls the coordinator's count until every slot is free. The bound is far below the hub's own
   * heartbeat (25 s, the only write a quiet run's stream used to get): a slot that waits for it
   * fails here, however fast or slow the machine.
   */
  async function freedWithin(id: string, ms: number): Promise<void> {
    const until = Date.now() + ms;
    while ((await stub(id).subscriberCount()) !== 0 && Date.now() < until) {
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(await stub(id).subscriberCount()).toBe(0);
  }

  it(`an owner's ${MAX_SUBSCRIBERS_PER_RUN} streams, left, are accepted again at once`, async () => {
    expect(STREAM_HEARTBEAT_MS).toBeLessThanOrEqual(500);
    const id = await parkedRun(1);
    const leaves: (() => void)[] = [];
    for (let i = 0; i < MAX_SUBSCRIBERS_PER_RUN; i++)
      leaves.push(await openThenLeave(`/api/runs/${id}/events`));
    expect((await request(`/api/runs/${id}/events`)).status).toBe(429);
    for (const leave of leaves) leave();
    await freedWithin(id, RELEASED_WITHIN_MS);
    const again: SseReader[] = [];
    try {
      for (let i = 0; i < MAX_SUBSCRIBERS_PER_RUN; i++) again.push(await open(`/api/runs/${id}/events`));
    } finally {
      await Promise.all(again.map((s) => s.close()));
    }
    await subscribersSettle(id, 0);
  });

  it(`a share link's ${MAX_STREAMS_PER_SHARE_LINK} streams, left, are accepted again at once (both forms)`, async () => {
    const id = await parkedRun(1);
    const link = await shareLink(id);
    const leaves: (() => void)[] = [];
    for (let i = 0; i < MAX_STREAMS_PER_SHARE_LINK; i++) {
      leaves.push(
        await (i % 2
          ? openThenLeave(`/s/${link.token}/api/run/events`, null)
          : openThenLeave(`/api/runs/${id}/events`, link.token)),
      );
    }
    expect((await request(`/api/runs/${id}/events`, { token: link.token })).status).toBe(429);
    for (const leave of leaves) leave();
    await freedWithin(id, RELEASED_WITHIN_MS);
    const again: SseReader[] = [];
    try {
      for (let i = 0; i < MAX_STREAMS_PER_SHARE_LINK; i++) {
        again.push(await open(`/api/runs/${id}/events`, { token: link.token }));
      }
    } finally {
      await Promise.all(again.map((s) => s.close()));
    }
    await subscribersSettle(id, 0);
  });
});
