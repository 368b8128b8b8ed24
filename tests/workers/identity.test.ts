/**
 * Run identity (name, tags, notes: contract (4)) and the runs list the dashboard's table reads:
 * validation on POST/PATCH/fork naming the field, owner-only edits, identity in every run resource
 * (share views too), and the list's filters, paging and test-accuracy stats. Every answer is
 * checked against the API's own schemas (src/api/types.ts).
 */
import { env } from 'cloudflare:workers';
import { drizzle } from 'drizzle-orm/d1';
import { describe, expect, it } from 'vitest';
import { generations, models, runs } from '../../schema/schema';
import { RUN_LIST_MAX_LIMIT, runListSchema, runResourceSchema } from '../../src/api/types';
import {
  type ErrorBody,
  patch,
  post,
  publishGrown,
  type RunList,
  type RunResource,
  request,
  startRun,
  waitFor,
} from './helpers';

/** The smallest search that runs to the end in a moment. */
const TINY = { population: 8, generations: 1, sliceSize: 8, tournamentSize: 4, seed: 3 };

async function ok<T>(res: Response, status = 200): Promise<T> {
  const text = await res.text();
  expect(res.status, text).toBe(status);
  return JSON.parse(text) as T;
}

async function errorOf(res: Response, status = 400): Promise<ErrorBody['error']> {
  return (await ok<ErrorBody>(res, status)).error;
}

/** A finished run's row, written directly (list tests need many runs, not searches). */
async function insertRun(values: Partial<typeof runs.$inferInsert> & { createdAt: number }): Promise<string> {
  const id = crypto.randomUUID();
  await drizzle(env.DB)
    .insert(runs)
    .values({
      id,
      status: 'completed',
      config: { population: 8, generations: 1, seed: 1, weights: [1] },
      seed: 1,
      updatedAt: values.createdAt,
      ...values,
    });
  return id;
}

async function list(query: string): Promise<RunList> {
  return runListSchema.parse(await ok(await request(`/api/runs?${query}`)));
}

describe('identity at start (POST /api/runs, top-level name, tags, notes)', () => {
  it('is stored, normalised and returned, beside the config', async () => {
    const run = await startRun({
      ...TINY,
      name: '  Baseline, seed 3  ',
      tags: ['Baseline', 'mnist', 'baseline', ' tiny '],
      notes: 'first try\nwith defaults',
    });
    expect(runResourceSchema.parse(run)).toEqual(run);
    expect(run).toMatchObject({
      name: 'Baseline, seed 3',
      tags: ['baseline', 'mnist', 'tiny'],
      notes: 'first try\nwith defaults',
    });
    expect(run.config).not.toHaveProperty('name');
    expect(run.config).not.toHaveProperty('tags');
    const done = await waitFor(run.id);
    expect(done).toMatchObject({ name: 'Baseline, seed 3', tags: ['baseline', 'mnist', 'tiny'] });
  });

  it('defaults to an empty name, no tags and no notes', async () => {
    const run = await startRun(TINY);
    expect(run).toMatchObject({ name: '', tags: [], notes: '' });
    await waitFor(run.id);
  });

  it.each([
    ['a long name', { name: 'x'.repeat(101) }, 'name: at most 100 characters'],
    ['a numeric name', { name: 7 }, 'name:'],
    ['tags as a string', { tags: 'mnist' }, 'tags:'],
    ['a tag with a space', { tags: ['ok', 'has space'] }, 'tags.1: a tag may use only'],
    ['an empty tag', { tags: [''] }, 'tags.0: a tag must not be empty'],
    ['a long tag', { tags: ['x'.repeat(33)] }, 'tags.0: a tag has at most 32 characters'],
    ['17 tags', { tags: Array.from({ length: 17 }, (_, i) => `t${i}`) }, 'tags: at most 16 tags'],
    ['long notes', { notes: 'n'.repeat(4001) }, 'notes: at most 4000 characters'],
  ])('%s → 400 invalid_identity naming the field', async (_, identity, message) => {
    const before = await list(`limit=${RUN_LIST_MAX_LIMIT}`);
    const err = await errorOf(await post('/api/runs', { ...TINY, ...identity }));
    expect(err.code).toBe('invalid_identity');
    expect(err.message).toContain(message);
    // Nothing was written.
    expect((await list(`limit=${RUN_LIST_MAX_LIMIT}`)).runs.length).toBe(before.runs.length);
  });

  it('still names config errors as before', async () => {
    const err = await errorOf(await post('/api/runs', { ...TINY, name: 'ok', populaton: 3 }));
    expect(err.code).toBe('invalid_config');
    expect(err.message).toContain('populaton: unknown field');
  });
});

describe('PATCH /api/runs/:id (owner only)', () => {
  it('edits any of the three and leaves the rest; the share view shows them', async () => {
    const id = await insertRun({ createdAt: Date.now(), name: 'old', tags: ['a'], notes: 'keep' });
    const edited = await ok<RunResource>(
      await patch(`/api/runs/${id}`, { name: 'new name', tags: ['B', 'c'] }),
    );
    expect(runResourceSchema.parse(edited)).toEqual(edited);
    expect(edited).toMatchObject({ name: 'new name', tags: ['b', 'c'], notes: 'keep' });
    const notes = await ok<RunResource>(await patch(`/api/runs/${id}`, { notes: '' }));
    expect(notes).toMatchObject({ name: 'new name', tags: ['b', 'c'], notes: '' });
    const read = await ok<RunResource>(await request(`/api/runs/${id}`));
    expect(read).toMatchObject({ name: 'new name', tags: ['b', 'c'], notes: '' });

    const link = await ok<{ url: string; token: string }>(await post(`/api/runs/${id}/share`, {}), 201);
    const path = new URL(link.url).pathname;
    const shared = await ok<RunResource>(await request(`${path}/api/run`, { token: null }));
    expect(shared).toMatchObject({ name: 'new name', tags: ['b', 'c'] });
    expect(shared.access?.kind).toBe('share');

    // A link holder cannot edit: neither under the link's path nor with the share token as Bearer.
    expect((await patch(`${path}/api/run`, { name: 'hijack' }, { token: null })).status).toBe(403);
    expect((await patch(`/api/runs/${id}`, { name: 'hijack' }, { token: link.token })).status).toBe(401);
    expect((await patch(`/api/runs/${id}`, { name: 'hijack' }, { token: null })).status).toBe(401);
    expect((await ok<RunResource>(await request(`/api/runs/${id}`))).name).toBe('new name');
  });

  it.each([
    ['nothing', {}, '(body): send at least one of name, tags, notes'],
    ['a config field', { population: 9 }, 'population: unknown field'],
    ['a long name', { name: 'x'.repeat(101) }, 'name: at most 100 characters'],
    ['a tag with a slash', { tags: ['no/slash'] }, 'tags.0: a tag may use only'],
  ])('%s → 400 naming the field', async (_, body, message) => {
    const id = await insertRun({ createdAt: Date.now() });
    const err = await errorOf(await patch(`/api/runs/${id}`, body));
    expect(err.code).toBe('invalid_identity');
    expect(err.message).toContain(message);
  });

  it('404 for an unknown run; 400 for a body that is not a JSON object', async () => {
    const err = await errorOf(
      await patch('/api/runs/00000000-0000-4000-8000-000000000000', { name: 'x' }),
      404,
    );
    expect(err.code).toBe('run_not_found');
    const id = await insertRun({ createdAt: Date.now() });
    const res = await request(`/api/runs/${id}`, { method: 'PATCH', body: '[1]' });
    expect((await errorOf(res)).code).toBe('invalid_json');
  });
});

describe('forks take the same identity keys', () => {
  it("defaults to '<parent name> (fork)' and the parent's tags; given keys win; bad ones are named", async () => {
    const parent = await startRun({ ...TINY, name: 'parent run', tags: ['base'], notes: 'parent notes' });
    await waitFor(parent.id);
    const bad = await errorOf(await post(`/api/runs/${parent.id}/fork`, { generations: 2, tags: ['a b'] }));
    expect(bad.code).toBe('invalid_identity');
    expect(bad.message).toContain('tags.0');

    const fork = await ok<RunResource>(await post(`/api/runs/${parent.id}/fork`, { generations: 2 }), 202);
    expect(fork).toMatchObject({ name: 'parent run (fork)', tags: ['base'], notes: '' });
    expect(fork.forkOf).toEqual({ runId: parent.id, generation: 1 });
    await waitFor(fork.id);

    const named = await ok<RunResource>(
      await post(`/api/runs/${parent.id}/fork`, { generations: 2, name: 'longer', tags: [], notes: 'why' }),
      202,
    );
    expect(named).toMatchObject({ name: 'longer', tags: [], notes: 'why' });
    expect(named.config).not.toHaveProperty('name');
    await waitFor(named.id);
  });
});

describe('GET /api/runs: the runs table', () => {
  it('filters by status, tag, text and ids; pages carry the filters; stats give test accuracies', async () => {
    const mark = `t${crypto.randomUUID().slice(0, 8)}`;
    const t0 = Date.now() - 60_000;
    const a = await insertRun({ createdAt: t0 + 1, name: 'Alpha wide', tags: [mark, 'wide'] });
    const b = await insertRun({ createdAt: t0 + 2, name: 'beta', tags: [mark], status: 'failed' });
    const c = await insertRun({ createdAt: t0 + 3, name: 'gamma', tags: [mark], notes: 'a WIDE note' });
    const d = await insertRun({ createdAt: t0 + 4, name: 'delta', tags: ['other'] });

    const ids = (l: RunList) => l.runs.map((r) => r.id);
    expect(ids(await list(`tag=${mark}`))).toEqual([c, b, a]);
    expect(ids(await list(`tag=${mark.toUpperCase()}`))).toEqual([c, b, a]);
    expect(ids(await list(`tag=${mark}&status=failed`))).toEqual([b]);
    expect(ids(await list(`tag=${mark}&status=failed,completed`))).toEqual([c, b, a]);
    expect(ids(await list(`tag=${mark}&q=wide`))).toEqual([c, a]);
    expect(ids(await list(`ids=${a},${d}`))).toEqual([d, a]);

    // Paging: `next` keeps the filters.
    const first = await list(`tag=${mark}&limit=2`);
    expect(ids(first)).toEqual([c, b]);
    expect(first.next).toContain(`tag=${mark}`);
    const second = runListSchema.parse(
      await ok(await request(new URL(first.next!).pathname + new URL(first.next!).search)),
    );
    expect(ids(second)).toEqual([a]);
    expect(second.next).toBeNull();

    for (const r of first.runs)
      expect(r.stats).toEqual({
        ensembleTestAccuracy: null,
        trainedTestAccuracy: null,
        checkTestAccuracy: null,
        bestModelTestAccuracy: null,
        latestCheckTestAccuracy: null,
        models: 0,
      });
  });

  it("reports the best published model's ensemble test accuracy", async () => {
    const { runId } = await publishGrown();
    const [entry] = (await list(`ids=${runId}`)).runs;
    const models = await ok<{ models: { ensembleTestAccuracy: number }[] }>(
      await request(`/api/runs/${runId}/models`),
    );
    expect(entry.stats.models).toBe(1);
    expect(entry.stats.ensembleTestAccuracy).toBe(models.models[0].ensembleTestAccuracy);
    expect(entry.stats.ensembleTestAccuracy).toBeGreaterThan(0);
    // API version 1's name stays, the same number.
    expect(entry.stats.bestModelTestAccuracy).toBe(entry.stats.ensembleTestAccuracy);
    // The one run's own answer carries the same stats.
    const one = runResourceSchema.parse(await ok(await request(`/api/runs/${runId}`)));
    expect(one.stats).toEqual(entry.stats);
  });

  it('keeps a trained version out of the ensemble figure: it has a figure of its own', async () => {
    const runId = await insertRun({ createdAt: Date.now() });
    const version = (v: number, variant: 'shared' | 'trained', accuracy: number) => ({
      runId,
      version: v,
      generation: 1,
      onnxKey: `models/${runId}/${v}/model.onnx`,
      genomeKey: `models/${runId}/${v}/genome.json`,
      weights: variant === 'shared' ? [1] : [],
      testAccuracy: [accuracy],
      meanTestAccuracy: accuracy,
      ensembleTestAccuracy: accuracy,
      tunedWeight: 1,
      tunedTestAccuracy: accuracy,
      connections: 10,
      hiddenNodes: 0,
      createdAt: Date.now(),
      variant,
      trainedFrom: variant === 'trained' ? 1 : null,
    });
    await drizzle(env.DB)
      .insert(models)
      .values([version(1, 'shared', 0.69), version(2, 'trained', 0.81), version(3, 'shared', 0.6)]);
    const [entry] = (await list(`ids=${runId}`)).runs;
    expect(entry.stats).toMatchObject({
      ensembleTestAccuracy: 0.69,
      trainedTestAccuracy: 0.81,
      bestModelTestAccuracy: 0.69,
      models: 3,
    });
    const one = runResourceSchema.parse(await ok(await request(`/api/runs/${runId}`)));
    expect(one.stats).toEqual(entry.stats);
  });

  it("reports the latest champion re-check's test accuracy (runs that re-check only)", async () => {
    const config = { population: 8, generations: 10, seed: 1, weights: [1], recheckEvery: 4 };
    const checking = await insertRun({ createdAt: Date.now(), config });
    const off = await insertRun({ createdAt: Date.now(), config: { ...config, recheckEvery: 0 } });
    const tested: Record<number, number> = { 3: 0.3, 7: 0.41 };
    for (const runId of [checking, off]) {
      await drizzle(env.DB)
        .insert(generations)
        .values(
          Array.from({ length: 10 }, (_, gen) => ({
            runId,
            gen,
            objectives: 'mean+connections' as const,
            meanConnections: 100,
            meanNodes: 270,
            evaluations: 8,
            durationMs: 10,
            testAccuracy: tested[gen] ?? null,
            createdAt: Date.now(),
          })),
        );
    }
    const { runs: entries } = await list(`ids=${checking},${off}`);
    const stats = Object.fromEntries(entries.map((r) => [r.id, r.stats]));
    expect(stats[checking]).toEqual({
      ensembleTestAccuracy: null,
      trainedTestAccuracy: null,
      checkTestAccuracy: 0.41,
      bestModelTestAccuracy: null,
      latestCheckTestAccuracy: 0.41,
      models: 0,
    });
    expect(stats[off].checkTestAccuracy).toBeNull();

    // The generations CSV (API version 2) counts hidden nodes (MNIST genomes have 1 + 256 + 10
    // fixed nodes) and names the re-check figure as src/api/figures.ts does.
    const csv = await request(`/api/runs/${checking}/generations`, { headers: { Accept: 'text/csv' } });
    const [head, ...lines] = (await csv.text()).trim().split('\n');
    const column = (name: string) => lines.map((l) => l.split(',')[head.split(',').indexOf(name)]);
    expect(column('meanHiddenNodes')).toEqual(Array(10).fill('3'));
    expect(column('checkTestAccuracy').slice(3, 8)).toEqual(['0.3', '', '', '', '0.41']);
  });

  it.each([
    [`limit=${RUN_LIST_MAX_LIMIT + 1}`, 'limit'],
    ['status=sleeping', 'status'],
    ['ids=not-an-id', 'ids'],
    ['tag=', 'tag'],
    [`q=${'x'.repeat(101)}`, 'q'],
    ['colour=blue', 'colour: unknown field'],
  ])('%s → 400 naming %s', async (query, field) => {
    const err = await errorOf(await request(`/api/runs?${query}`));
    expect(err.code).toBe('invalid_query');
    expect(err.message).toContain(field);
  });

  it('needs the owner', async () => {
    expect((await request('/api/runs', { token: null })).status).toBe(401);
  });
});
