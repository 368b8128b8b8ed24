/**
 * What open pages hear without polling: the runs list's stream (`GET /api/runs/events`) tells a run
 * starting, moving on and completing; a finished run's stream opened with `models=1` stays open and
 * tells a training of its published model moving and ending (as the CLI's `wann train` would cause);
 * without it the stream still ends with the run. The feed is the owner's, and bounded.
 */
import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import type { ModelEvent, RunFeedEvent } from '../../src/api/stream-events';
import { MAX_RUNS_FEED_SUBSCRIBERS, RUNS_FEED_NAME } from '../../workers/runs-feed/runs-feed';
import { header, post, request, sessionCookie, startRun, waitFor } from './helpers';
import { readSse, type SseEvent, type SseReader } from './sse';

const SMALL = { population: 32, generations: 3, sliceSize: 16, seed: 41, tournamentSize: 8 };

/** Events until `done` says stop (its event included); fails after `ms`. */
async function eventsUntil(sse: SseReader, done: (e: SseEvent) => boolean, ms = 45_000): Promise<SseEvent[]> {
  const seen: SseEvent[] = [];
  const timeout = new Promise<never>((_, reject) =>
    setTimeout(() => reject(new Error(`no such event in ${ms} ms: ${JSON.stringify(seen)}`)), ms),
  );
  for (;;) {
    const e = await Promise.race([sse.next(), timeout]);
    if (!e) throw new Error(`stream closed first: ${JSON.stringify(seen)}`);
    seen.push(e);
    if (done(e)) return seen;
  }
}

describe('the runs list stream', () => {
  it('tells a run starting as running, moving on, then completed', async () => {
    const res = await request('/api/runs/events');
    expect(res.status).toBe(200);
    expect(header(res, 'Content-Type')).toMatch(/^text\/event-stream/);
    const sse = readSse(res);
    expect((await sse.next())?.event).toBe('ready');
    const run = await startRun(SMALL);
    const events = await eventsUntil(
      sse,
      (e) =>
        e.event === 'run' &&
        (JSON.parse(e.data) as RunFeedEvent).id === run.id &&
        e.data.includes('completed'),
    );
    const ofRun = events
      .filter((e) => e.event === 'run')
      .map((e) => JSON.parse(e.data) as RunFeedEvent)
      .filter((e) => e.id === run.id);
    expect(ofRun[0]).toMatchObject({ status: 'running', generations: SMALL.generations });
    expect(ofRun[ofRun.length - 1]).toMatchObject({ status: 'completed', generation: SMALL.generations });
    await sse.close();
  });

  it('is the owner’s: no credential is a 401, a share link has none', async () => {
    expect((await request('/api/runs/events', { token: null })).status).toBe(401);
    const run = await startRun({ ...SMALL, seed: 42, generations: 1 });
    const link = (await (await post(`/api/runs/${run.id}/share`, { scope: 'view' })).json()) as {
      token: string;
    };
    expect((await request(`/s/${link.token}/api/runs/events`, { token: null })).status).toBe(404);
  });

  it('opens with the owner session too, and ends with `end` when it is signed out', async () => {
    const cookie = await sessionCookie();
    const res = await request('/api/runs/events', { token: null, headers: { Cookie: cookie } });
    expect(res.status).toBe(200);
    const sse = readSse(res);
    expect((await sse.next())?.event).toBe('ready');
    const out = await request('/api/session', {
      method: 'DELETE',
      token: null,
      headers: { Cookie: cookie },
    });
    expect(out.status).toBeLessThan(300);
    // Other runs' events may come first (the previous test's run ends as this one starts): the
    // last event is the one waited for.
    const end = (await eventsUntil(sse, (e) => e.event === 'end', 5_000)).at(-1)!;
    expect(JSON.parse(end.data)).toMatchObject({ code: 'session_ended' });
  });

  it(`refuses stream ${MAX_RUNS_FEED_SUBSCRIBERS + 1} (429 in words)`, async () => {
    const feed = env.RUNS_FEED.get(env.RUNS_FEED.idFromName(RUNS_FEED_NAME));
    const open: SseReader[] = [];
    while ((await feed.subscriberCount()) < MAX_RUNS_FEED_SUBSCRIBERS) {
      const sse = readSse(await request('/api/runs/events'));
      await sse.next();
      open.push(sse);
    }
    const refused = await request('/api/runs/events');
    expect(refused.status).toBe(429);
    expect(((await refused.json()) as { error: { message: string } }).error.message).toMatch(
      /open event streams/,
    );
    for (const sse of open) await sse.close();
  });
});

describe("a finished run's stream with models=1", () => {
  it('stays open after the run ends and tells a training moving and done', async () => {
    const run = await startRun({ ...SMALL, seed: 43 });
    const done = await waitFor(run.id);
    expect(done.status).toBe('completed');
    const models = (await (await request(`/api/runs/${run.id}/models`)).json()) as {
      models: { version: number }[];
    };
    expect(models.models.length).toBeGreaterThan(0);
    const version = models.models[0].version;

    // Without models=1 the stream of a finished run ends after its status.
    const plain = readSse(await request(`/api/runs/${run.id}/events`));
    expect((await plain.rest()).map((e) => e.event)).toEqual(['status']);

    const sse = readSse(await request(`/api/runs/${run.id}/events?models=1`));
    expect((await sse.next())?.event).toBe('status');
    const started = await post(`/api/runs/${run.id}/models/${version}/train`, {
      steps: 40,
      stepsPerInvocation: 20,
    });
    expect(started.status).toBe(202);
    const events = await eventsUntil(
      sse,
      (e) => e.event === 'model' && /"status":"(done|failed)"/.test(e.data),
    );
    const training = events
      .filter((e) => e.event === 'model')
      .map((e) => JSON.parse(e.data) as ModelEvent)
      .filter((e): e is Extract<ModelEvent, { kind: 'training' }> => e.kind === 'training');
    expect(training[0]).toMatchObject({ version, status: 'queued', step: 0, steps: 40 });
    expect(training.some((e) => e.status === 'running' && e.step === 20)).toBe(true);
    const last = training[training.length - 1];
    expect(last).toMatchObject({ version, status: 'done', step: 40 });
    expect(last.trainedVersion).toBeGreaterThan(version);
    await sse.close();
  });
});
