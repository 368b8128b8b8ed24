/**
 * The coordinator's contract, through the real queue: at-least-once delivery, lost messages,
 * restarts and slicing never change a run's statistics or champion.
 */
import { abortAllDurableObjects, runInDurableObject } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import { beforeAll, describe, expect, it } from 'vitest';
import { populationSliceKey } from '../../workers/shared/contracts';
import { deliveries, faults, peerRuns } from './entry';
import {
  championOf,
  comparable,
  type ErrorBody,
  generationRows,
  header,
  post,
  type RunResource,
  request,
  startRun,
  waitFor,
} from './helpers';

const BASE = { population: 32, generations: 3, seed: 20_240_611, tournamentSize: 8 };

function deliveriesOf(runId: string, gen?: number): number[] {
  const counts: number[] = [];
  for (const [key, n] of deliveries) {
    const [id, g] = key.split(':');
    if (id === runId && (gen === undefined || Number(g) === gen)) counts.push(n);
  }
  return counts;
}

function stub(runId: string) {
  return env.COORD.get(env.COORD.idFromName(runId));
}

let baseline: { run: RunResource; rows: unknown[]; champion: unknown };

beforeAll(async () => {
  const run = await waitFor((await startRun({ ...BASE, sliceSize: 32 })).id);
  expect(run.status).toBe('completed');
  baseline = { run, rows: comparable(await generationRows(run.id)), champion: await championOf(run.id) };
});

async function expectSameAsBaseline(run: RunResource) {
  expect(run.status).toBe('completed');
  expect(run.generation).toBe(3);
  expect(run.bestFitness).toBe(baseline.run.bestFitness);
  expect(comparable(await generationRows(run.id))).toEqual(baseline.rows);
  expect(await championOf(run.id)).toEqual(baseline.champion);
}

describe('determinism', () => {
  it('baseline: 3 generations of 32 with D1 rows and a champion', () => {
    expect(baseline.rows).toHaveLength(3);
    expect(baseline.run.champion?.connections).toBeGreaterThan(0);
    expect(baseline.rows.every((r) => (r as { evaluations: number }).evaluations === 32)).toBe(true);
  });

  it('slice size 4 gives identical generation stats and champion to slice size 32', async () => {
    const created = await startRun({ ...BASE, sliceSize: 4 });
    const run = await waitFor(created.id);
    await expectSameAsBaseline(run);
    // 8 slices per generation, each evaluated once.
    expect(deliveriesOf(run.id, 0)).toHaveLength(8);
  });

  it('a different seed gives a different search', async () => {
    const run = await waitFor((await startRun({ ...BASE, seed: 1, sliceSize: 32 })).id);
    expect(comparable(await generationRows(run.id))).not.toEqual(baseline.rows);
  });
});

describe('at-least-once delivery', () => {
  it('every message delivered twice: duplicates are ignored', async () => {
    const created = await startRun({ ...BASE, sliceSize: 8 });
    const copied = new Set<string>();
    faults.set(created.id, (t) => {
      const key = `${t.gen}:${t.sliceStart}`;
      if (t.gen === 0 || copied.has(key)) return 'deliver';
      copied.add(key);
      return 'duplicate';
    });
    const run = await waitFor(created.id);
    await expectSameAsBaseline(run);
    // The copies of the last generation's messages may arrive after the run completed.
    for (let i = 0; i < 100 && deliveriesOf(run.id, 2).join() !== '2,2,2,2'; i++) {
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(deliveriesOf(run.id, 1)).toEqual([2, 2, 2, 2]);
    expect(deliveriesOf(run.id, 2)).toEqual([2, 2, 2, 2]);
  });

  it('a dropped message is re-sent by the alarm after the timeout', async () => {
    const created = await startRun({ ...BASE, sliceSize: 8 });
    let dropped = false;
    faults.set(created.id, (t) => {
      if (t.gen !== 1 || t.sliceStart !== 16 || dropped) return 'deliver';
      dropped = true;
      return 'drop';
    });
    const run = await waitFor(created.id);
    expect(dropped).toBe(true);
    await expectSameAsBaseline(run);
    expect(deliveries.get(`${run.id}:1:16`)).toBe(2);
    expect(deliveries.get(`${run.id}:1:0`)).toBe(1);
  });

  it('gives up after the bounded number of attempts and records the error', async () => {
    const created = await startRun({ ...BASE, sliceSize: 16 });
    faults.set(created.id, (t) => (t.gen === 1 && t.sliceStart === 0 ? 'drop' : 'deliver'));
    const run = await waitFor(created.id);
    expect(run.status).toBe('failed');
    expect(run.error).toMatch(/generation 1: slice \[0, 16\) got no result after 4 attempts/);
    expect(run.generation).toBe(1);
    expect(deliveries.get(`${run.id}:1:0`)).toBe(4);
    // The failed run's D1 row and its finished generation stay queryable.
    expect(await generationRows(run.id)).toHaveLength(1);
  });
});

describe('peer evaluators', () => {
  it('slices handed to peer processes (one failing) give identical results', async () => {
    const created = await startRun({ ...BASE, sliceSize: 4 });
    const counts = { peer1: 0, peer2: 0 };
    peerRuns.set(created.id, counts);
    const run = await waitFor(created.id);
    await expectSameAsBaseline(run);
    // Generations 1 and 2 (16 slices) went through the peers: peer 2 failed on its second slice
    // and was dropped; its slice and the rest were evaluated by peer 1 or the consumer itself.
    expect(counts.peer1).toBeGreaterThan(0);
    expect(counts.peer2).toBeGreaterThan(0);
    expect(deliveriesOf(run.id, 1)).toHaveLength(8);
  });
});

describe('restart', () => {
  it('an object restarted mid-generation resumes from storage with identical results', async () => {
    const created = await startRun({ ...BASE, sliceSize: 8 });
    // Hold back one slice of generation 1 so the restart lands mid-generation: the other three
    // slices' results are in storage, this one is outstanding.
    let hold = true;
    faults.set(created.id, (t) => (hold && t.gen === 1 && t.sliceStart === 8 ? 'drop' : 'deliver'));
    await waitFor(created.id, () => deliveriesOf(created.id, 1).length === 4);
    await new Promise((r) => setTimeout(r, 100)); // let the three reports land
    await runInDurableObject(stub(created.id), (instance) => {
      (instance as unknown as { marker: number }).marker = 1;
    });
    await abortAllDurableObjects();
    hold = false;
    const run = await waitFor(created.id);
    await expectSameAsBaseline(run);
    // A fresh instance finished the run (the marker lived only in the aborted one)…
    const marker = await runInDurableObject(
      stub(created.id),
      (instance) => (instance as unknown as { marker?: number }).marker,
    );
    expect(marker).toBeUndefined();
    // …and only the missing slice was sent again: the others' results survived in storage.
    expect(deliveries.get(`${run.id}:1:8`)).toBe(2);
    expect(deliveries.get(`${run.id}:1:0`)).toBe(1);
    expect(deliveries.get(`${run.id}:1:24`)).toBe(1);
  });
});

/** A report as an evaluator sends it, for members [start, end) all with the same fitness. */
function reportOf(gen: number, start: number, end: number, fitness: number) {
  const n = end - start;
  return {
    gen,
    sliceStart: start,
    sliceEnd: end,
    weights: 6,
    fitness: new Array(n * 6).fill(fitness),
    accuracy: new Array(n * 6).fill(0.1),
    connections: new Array(n).fill(3),
    nodes: new Array(n).fill(267),
    offsets: Array.from({ length: n + 1 }, (_, i) => 2 + 10 * i),
  };
}

describe('coordinator RPC contract', () => {
  it('ignores duplicates, other generations and reports after the end; refuses malformed ones', async () => {
    const run = baseline.run;
    const coordinator = stub(run.id);
    expect(await coordinator.report(run.id, reportOf(1, 0, 32, -1))).toBe('stale'); // completed run
    const created = await startRun({ ...BASE, generations: 50, sliceSize: 16 });
    faults.set(created.id, () => 'drop'); // the test plays the evaluator
    const live = stub(created.id);
    await waitFor(created.id, (r) => r.status === 'running');
    const snap = await live.snapshot();
    const gen = snap!.generation;
    expect(await live.report(created.id, reportOf(gen + 1, 0, 16, -1))).toBe('stale');
    expect(await live.report(created.id, reportOf(gen, 5, 21, -1))).toEqual({
      rejected: expect.stringContaining('no slice starting at 5'),
    });
    expect(await live.report(created.id, reportOf(gen, 0, 8, -1))).toEqual({
      rejected: expect.stringContaining('ends at 16'),
    });
    const short = { ...reportOf(gen, 0, 16, -1), fitness: [1, 2] };
    expect(await live.report(created.id, short)).toEqual({
      rejected: expect.stringMatching(/^fitness: expected 96 values, got 2/),
    });
    expect(await live.report(created.id, { gen })).toEqual({
      rejected: expect.stringContaining('sliceStart'),
    });
    expect(await live.report('another-run', reportOf(gen, 0, 16, -1))).toEqual({
      rejected: expect.stringContaining('does not hold run another-run'),
    });
    const res = await post(`/api/runs/${created.id}/cancel`);
    expect(res.status).toBe(200);
    expect(((await res.json()) as RunResource).status).toBe('cancelled');
    expect(await live.report(created.id, reportOf(gen, 0, 16, -1))).toBe('stale');
  });

  it('stores each slice of the population in R2 under the documented key, and drops superseded ones', async () => {
    const run = baseline.run;
    // The last finished generation (a fork continues from it) and the champion's slice remain.
    expect(await env.BLOBS.head(populationSliceKey(run.id, 2, 0))).not.toBeNull();
    const champion = run.champion!;
    expect(await env.BLOBS.head(populationSliceKey(run.id, champion.generation, 0))).not.toBeNull();
    const listed = await env.BLOBS.list({ prefix: `runs/${run.id}/` });
    const gens = new Set(listed.objects.map((o) => Number(o.key.split('/')[3])));
    expect([...gens].sort()).toEqual([...new Set([2, champion.generation])].sort());
  });

  it('keeps a failed evaluation (NaN fitness) through storage: ranked last, never champion', async () => {
    const created = await startRun({ ...BASE, generations: 1, sliceSize: 16 });
    faults.set(created.id, () => 'drop'); // the test plays the evaluator
    const live = stub(created.id);
    const fine = reportOf(0, 16, 32, -2);
    fine.fitness = fine.fitness.map((_, i) => -2 - Math.floor(i / 6) / 100);
    expect(await live.report(created.id, reportOf(0, 0, 16, Number.NaN))).toBe('accepted');
    expect(await live.report(created.id, reportOf(0, 0, 16, Number.NaN))).toBe('duplicate');
    expect(await live.report(created.id, fine)).toBe('accepted');
    const run = await waitFor(created.id);
    expect(run.status).toBe('completed');
    expect(run.champion?.fitness).toBe(-2);
    expect(run.champion?.index).toBe(16);
    const [row] = await generationRows(run.id);
    expect(row).toMatchObject({ fitnessMax: -2, evaluations: 32 });
  });
});

describe('cancel and fork', () => {
  it('cancels a running run, then answers 409 to a second cancel', async () => {
    const created = await startRun({ ...BASE, generations: 10_000, sliceSize: 16 });
    await waitFor(created.id, (r) => r.generation >= 1);
    const res = await post(`/api/runs/${created.id}/cancel`);
    expect(res.status).toBe(200);
    const again = await post(`/api/runs/${created.id}/cancel`);
    expect(again.status).toBe(409);
    expect(((await again.json()) as ErrorBody).error.code).toBe('run_finished');
    const run = await waitFor(created.id);
    expect(run.status).toBe('cancelled');
    // Nothing runs after a cancel.
    const generation = run.generation;
    await new Promise((r) => setTimeout(r, 300));
    expect((await waitFor(created.id)).generation).toBe(generation);
  });

  it('409 when cancelling a completed run', async () => {
    const res = await post(`/api/runs/${baseline.run.id}/cancel`);
    expect(res.status).toBe(409);
  });

  it('forks a completed run for more generations, continuing exactly where it stopped', async () => {
    const res = await post(`/api/runs/${baseline.run.id}/fork`, { generations: 5 });
    expect(res.status).toBe(202);
    const fork = (await res.json()) as RunResource;
    expect(fork.id).not.toBe(baseline.run.id);
    expect(fork.config.forkOf).toEqual({ runId: baseline.run.id, generation: 3 });
    expect(fork.config.seed).toBe(BASE.seed);
    const done = await waitFor(fork.id);
    expect(done.status).toBe('completed');
    expect(done.generation).toBe(5);
    const forkRows = comparable(await generationRows(fork.id));
    expect(forkRows.map((r) => r.gen)).toEqual([3, 4]);
    // The same as a fresh 5-generation run with the same seed: the state carries everything.
    const fresh = await waitFor((await startRun({ ...BASE, generations: 5, sliceSize: 16 })).id);
    expect(comparable(await generationRows(fresh.id)).slice(3)).toEqual(forkRows);
    expect(await championOf(fresh.id)).toEqual(await championOf(fork.id));
  });

  it.each([
    [{ generations: 3 }, 'generations: must be more than 3'],
    [{ population: 64 }, 'population'],
    [{ generations: 'many' }, 'generations'],
    [{ speed: 11 }, 'speed: unknown field'],
  ])('rejects fork edits %j with 400', async (edits, message) => {
    const res = await post(`/api/runs/${baseline.run.id}/fork`, edits);
    expect(res.status).toBe(400);
    expect(((await res.json()) as ErrorBody).error.message).toContain(message);
  });
});

describe('reads', () => {
  it('lists runs newest first, page by page', async () => {
    const first = await request('/api/runs?limit=2');
    const page1 = (await first.json()) as { runs: RunResource[]; next: string | null };
    expect(page1.runs).toHaveLength(2);
    expect(page1.next).toMatch(/cursor=/);
    const second = await request(new URL(page1.next!).pathname + new URL(page1.next!).search);
    const page2 = (await second.json()) as { runs: RunResource[] };
    expect(page2.runs.length).toBeGreaterThan(0);
    const ids = new Set(page1.runs.map((r) => r.id));
    expect(page2.runs.some((r) => ids.has(r.id))).toBe(false);
  });

  it('serves generations as CSV with Accept: text/csv', async () => {
    const res = await request(`/api/runs/${baseline.run.id}/generations`, {
      headers: { Accept: 'text/csv' },
    });
    expect(res.status).toBe(200);
    expect(header(res, 'Content-Type')).toMatch(/^text\/csv/);
    const lines = (await res.text()).trim().split('\n');
    expect(lines[0]).toBe(
      'gen,objectives,shard,fitnessMean,fitnessMedian,fitnessMax,bestEverFitness,championAccuracy,championConnections,meanConnections,meanNodes,evaluations,durationMs,championGeneration,championIndex',
    );
    expect(lines.slice(1).map((l) => l.split(',')[0])).toEqual(['0', '1', '2']);
  });
});

describe('server-sent events', () => {
  async function readEvents(res: Response): Promise<{ event: string; id?: string; data: unknown }[]> {
    const text = await res.text(); // ends when the server closes the stream
    return text
      .split('\n\n')
      .filter((block) => block.includes('data:'))
      .map((block) => {
        const fields = Object.fromEntries(
          block
            .split('\n')
            .map((line) => [line.slice(0, line.indexOf(':')), line.slice(line.indexOf(':') + 2)]),
        );
        return { event: fields.event, id: fields.id, data: JSON.parse(fields.data) };
      });
  }

  it('streams one event per generation, then the final status, then ends', async () => {
    const created = await startRun({ ...BASE, sliceSize: 16 });
    const res = await request(`/api/runs/${created.id}/events?since=-1`);
    expect(res.status).toBe(200);
    expect(header(res, 'Content-Type')).toMatch(/^text\/event-stream/);
    const events = await readEvents(res);
    const gens = events.filter((e) => e.event === 'generation');
    expect(gens.map((e) => e.id)).toEqual(['0', '1', '2']);
    expect(gens.map((e) => (e.data as { gen: number }).gen)).toEqual([0, 1, 2]);
    const last = events[events.length - 1];
    expect(last.event).toBe('status');
    expect(last.data).toMatchObject({ status: 'completed', generation: 3 });
    // The events carry the same records D1 stored.
    const rows = await generationRows(created.id);
    expect(gens.map((e) => e.data)).toEqual(rows);
  });

  it('a finished run: the status, the replay after Last-Event-ID, and the end', async () => {
    const res = await request(`/api/runs/${baseline.run.id}/events`, { headers: { 'Last-Event-ID': '1' } });
    const events = await readEvents(res);
    expect(events.map((e) => e.event)).toEqual(['generation', 'status']);
    expect(events[0].id).toBe('2');
    expect(events[1].data).toMatchObject({ status: 'completed' });
  });
});
