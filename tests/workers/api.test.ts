import { describe, expect, it } from 'vitest';
import { type GenerationRecord, generationRecordSchema } from '../../src/wann/record';
import { type ErrorBody, header, post, request, startRun, waitFor } from './helpers';

const SMALL = { population: 32, generations: 2, sliceSize: 16, seed: 7, tournamentSize: 8 };

describe('authentication', () => {
  it.each([
    ['no header', null],
    ['a wrong token', 'nope'],
  ])('rejects writes with %s (401)', async (_, token) => {
    const res = await post('/api/runs', SMALL, { token });
    expect(res.status).toBe(401);
    expect(header(res, 'WWW-Authenticate')).toMatch(/^Bearer/);
    const body = (await res.json()) as ErrorBody;
    expect(body.error.code).toBe('unauthorized');
  });

  it('needs the token for cancel and fork too', async () => {
    const id = '00000000-0000-4000-8000-000000000000';
    for (const action of ['cancel', 'fork']) {
      expect((await post(`/api/runs/${id}/${action}`, {}, { token: null })).status).toBe(401);
    }
  });
});

describe('config validation (400 naming the field)', () => {
  it.each([
    [{ population: 20_000 }, 'population'],
    [{ population: 2.5 }, 'population'],
    [{ generations: 0 }, 'generations'],
    [{ generations: 100_001 }, 'generations'],
    [{ cullRatio: 2 }, 'cullRatio'],
    [{ probAddNode: -0.1 }, 'probAddNode'],
    [{ weights: [] }, 'weights'],
    [{ weights: [1, 'x'] }, 'weights.1'],
    [{ seed: -1 }, 'seed'],
    [{ population: 16, tournamentSize: 32 }, 'tournamentSize'],
    [{ populaton: 32 }, 'populaton: unknown field'],
  ])('%j → 400 naming %s', async (config, field) => {
    const res = await post('/api/runs', config);
    expect(res.status).toBe(400);
    const body = (await res.json()) as ErrorBody;
    expect(body.error.code).toBe('invalid_config');
    expect(body.error.message).toContain(field);
  });

  it('rejects a body that is not JSON or not an object', async () => {
    for (const body of ['{"population":', '[1,2]', '"x"']) {
      const res = await request('/api/runs', { method: 'POST', body });
      expect(res.status).toBe(400);
      expect(((await res.json()) as ErrorBody).error.code).toBe('invalid_json');
    }
  });

  it('rejects oversized bodies with 413', async () => {
    const res = await request('/api/runs', { method: 'POST', body: `{"x":"${'a'.repeat(70_000)}"}` });
    expect(res.status).toBe(413);
    expect(((await res.json()) as ErrorBody).error.code).toBe('payload_too_large');
  });
});

describe('unknown runs and routes (404)', () => {
  it.each([
    '/api/runs/00000000-0000-4000-8000-000000000000',
    '/api/runs/not-a-run-id',
    '/api/runs/00000000-0000-4000-8000-000000000000/generations',
    '/api/runs/00000000-0000-4000-8000-000000000000/champion',
    '/api/runs/00000000-0000-4000-8000-000000000000/events',
    '/api/nothing-here',
  ])('GET %s', async (path) => {
    const res = await request(path);
    expect(res.status).toBe(404);
    const body = (await res.json()) as ErrorBody;
    expect(body.error.message).toBeTruthy();
  });

  it('POST cancel/fork of an unknown run', async () => {
    for (const action of ['cancel', 'fork']) {
      const res = await post(`/api/runs/00000000-0000-4000-8000-000000000000/${action}`, {});
      expect(res.status).toBe(404);
      expect(((await res.json()) as ErrorBody).error.code).toBe('run_not_found');
    }
  });

  it('rejects bad query parameters with 400', async () => {
    expect((await request('/api/runs?limit=0')).status).toBe(400);
    expect((await request('/api/runs?cursor=zzz')).status).toBe(400);
  });
});

describe('a small search end to end', () => {
  it('runs through the queue to completed, with a champion and D1 rows', async () => {
    const created = await startRun(SMALL);
    expect(created.status).toBe('running');
    expect(created.config).toMatchObject({ population: 32, generations: 2, seed: 7, cullRatio: 0.2 });
    expect(created.urls.self).toBe(`http://wann.test/api/runs/${created.id}`);

    const done = await waitFor(created.id);
    expect(done.status).toBe('completed');
    expect(done.generation).toBe(2);
    expect(done.champion).not.toBeNull();

    const gens = await request(`/api/runs/${created.id}/generations`);
    const body = (await gens.json()) as { generations: GenerationRecord[]; next: string | null };
    expect(body.generations.map((g) => g.gen)).toEqual([0, 1]);
    expect(body.generations.every((g) => g.evaluations === 32)).toBe(true);
    expect(body.next).toBeNull();
    // Each item is exactly a GenerationRecord (a strict schema: no other fields).
    for (const g of body.generations) expect(generationRecordSchema.parse(g)).toEqual(g);
    // The run's champion is the last record's (the runs row and the generations row agree).
    expect(body.generations[1].champion).toEqual(done.champion);
    expect(done.champion?.index).toEqual(expect.any(Number));

    const champion = await request(`/api/runs/${created.id}/champion`);
    expect(champion.status).toBe(200);
    expect(await champion.json()).toMatchObject({ format: 'wann-genome/1', inputs: 256, outputs: 10 });
  });
});
