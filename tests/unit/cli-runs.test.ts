import type { IncomingMessage, ServerResponse } from 'node:http';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { isRunIdPrefix, parseSeeds, parseSetting, resolveRunPrefix, settings } from '../../cli/run-args';
import { newRunConfig } from '../../src/api/new-run';
import { listenStubApi, runWann, type StubApi, type WannOutcome } from './wann-process';

const TOKEN = 'cli-runs-test-token-0123456789abcdef0123';
const SOURCE = '0b7e7a2e-3c1d-4f6a-9e2b-5d8c1a0f4e93';
// Two ids sharing their first 8 characters, as a prefix of 8 can.
const TWIN_A = '5d8c1a0f-1111-4f6a-9e2b-000000000001';
const TWIN_B = '5d8c1a0f-2222-4f6a-9e2b-000000000002';

const SOURCE_CONFIG = {
  population: 96,
  generations: 30,
  seed: 7,
  weights: [-1, 1],
  probAddNode: 0.25,
  forkOf: { runId: TWIN_A, generation: 10 },
};

function runResource(id: string, extra: Record<string, unknown> = {}) {
  return {
    id,
    status: 'completed',
    name: id === SOURCE ? 'baseline' : '',
    tags: id === SOURCE ? ['mnist'] : [],
    notes: '',
    config: id === SOURCE ? SOURCE_CONFIG : { population: 8, generations: 1, seed: 1, weights: [1] },
    generation: 30,
    generations: 30,
    bestFitness: -0.5,
    champion: null,
    error: null,
    forkOf: null,
    timings: {
      createdAt: '2026-01-01T00:00:00.000Z',
      startedAt: null,
      updatedAt: '',
      finishedAt: null,
      elapsedMs: null,
    },
    urls: { self: `/api/runs/${id}`, events: '', generations: '', champion: '', page: `http://x/runs/${id}` },
    stats: {
      ensembleTestAccuracy: 0.69,
      trainedTestAccuracy: 0.81,
      checkTestAccuracy: 0.665,
      bestModelTestAccuracy: 0.69,
      latestCheckTestAccuracy: 0.665,
      models: 2,
    },
    ...extra,
  };
}

const model = (version: number, variant: 'shared' | 'trained', accuracy: number) => ({
  version,
  generation: 30,
  variant,
  trainedFrom: variant === 'trained' ? 1 : null,
  testAccuracy: [accuracy],
  meanTestAccuracy: accuracy,
  // A trained version's ensemble column holds its one accuracy: the CLI must not call it ensemble.
  ensembleTestAccuracy: accuracy,
  tunedWeight: 1,
  tunedTestAccuracy: accuracy,
});

interface Seen {
  method: string;
  path: string;
  body: string;
}
const seen: Seen[] = [];
let started = 0;

function answer(req: IncomingMessage, body: string, res: ServerResponse) {
  const url = new URL(req.url ?? '/', 'http://x');
  const json = (status: number, value: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(value));
  };
  if (req.headers.authorization !== `Bearer ${TOKEN}`)
    return json(401, { error: { code: 'unauthorized', message: 'no' } });
  const ids = [SOURCE, TWIN_A, TWIN_B];
  if (req.method === 'GET' && url.pathname === '/api/runs') {
    const q = url.searchParams.get('q') ?? '';
    return json(200, { runs: ids.filter((id) => id.includes(q)).map((id) => runResource(id)), next: null });
  }
  if (req.method === 'POST' && url.pathname === '/api/runs') {
    const config = JSON.parse(body) as Record<string, unknown>;
    const id = `aaaaaaaa-0000-4000-8000-${String(++started).padStart(12, '0')}`;
    return json(
      202,
      runResource(id, { config: { ...config, seed: config.seed ?? 99 }, name: config.name ?? '' }),
    );
  }
  const one = /^\/api\/runs\/([0-9a-f-]{36})(\/models)?$/.exec(url.pathname);
  if (req.method === 'GET' && one && ids.includes(one[1])) {
    if (one[2])
      return json(200, { runId: one[1], models: [model(2, 'trained', 0.81), model(1, 'shared', 0.69)] });
    return json(200, runResource(one[1]));
  }
  return json(404, { error: { code: 'run_not_found', message: `no run at ${url.pathname}` } });
}

let server: StubApi;
let origin = '';

function wann(args: string[]): Promise<WannOutcome> {
  return runWann(args, origin, TOKEN);
}

beforeAll(async () => {
  server = await listenStubApi((req, bytes, res) => {
    const body = new TextDecoder().decode(bytes);
    seen.push({ method: req.method ?? '', path: req.url ?? '', body });
    answer(req, body, res);
  });
  origin = server.origin;
});
afterAll(() => server.close());
beforeEach(() => {
  seen.length = 0;
});

describe('run id prefixes', () => {
  it('tells a prefix from a full id, a URL or text', () => {
    expect(isRunIdPrefix('0b7e7a2e')).toBe(true);
    expect(isRunIdPrefix('0b7e')).toBe(true);
    expect(isRunIdPrefix('0b7')).toBe(false);
    expect(isRunIdPrefix(SOURCE)).toBe(false);
    expect(isRunIdPrefix(`http://x/runs/${SOURCE}`)).toBe(false);
    expect(isRunIdPrefix('baseline')).toBe(false);
  });

  it('resolves a unique prefix, and refuses an unknown or an ambiguous one saying which', () => {
    expect(resolveRunPrefix('0b7e7a2e', [SOURCE, TWIN_A, TWIN_B])).toBe(SOURCE);
    // `q` matches anywhere in an id; only a match at the start counts.
    expect(() => resolveRunPrefix('5d8c1a0f', [SOURCE, TWIN_A, TWIN_B])).toThrow(/start of 2 run ids/);
    expect(() => resolveRunPrefix('5d8c1a0f', [SOURCE])).toThrow(/no run id starts with '5d8c1a0f'/);
    expect(resolveRunPrefix('5d8c1a0f-2', [SOURCE, TWIN_A, TWIN_B])).toBe(TWIN_B);
  });

  it('wann status <8 characters> reads the run it names, with the token', async () => {
    const r = await wann(['status', SOURCE.slice(0, 8)]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(seen.map((s) => s.path)).toEqual([
      `/api/runs?limit=100&q=${SOURCE.slice(0, 8)}`,
      `/api/runs/${SOURCE}`,
      `/api/runs/${SOURCE}/models`,
      // The dataset, for its baseline line (this stub has none: nothing more is printed).
      `/api/runs/${SOURCE}/dataset`,
    ]);
    // The figures, each under its own name: the trained version is not the ensemble.
    expect(r.stdout).toContain('test: ensemble 69.0% (v1) · trained 81.0% (v2) · check 66.5%');
    expect(r.stdout).toContain('published: v1 shared, v2 trained from v1');
  });

  it('an ambiguous prefix is refused before any run is read', async () => {
    const r = await wann(['status', TWIN_A.slice(0, 8)]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("'5d8c1a0f' is the start of 2 run ids");
    expect(seen).toHaveLength(1);
  });
});

describe('--set and --seeds', () => {
  it('parses values as JSON, lists of numbers, or text', () => {
    expect(parseSetting('probAddNode=0.3')).toEqual(['probAddNode', 0.3]);
    expect(parseSetting('weights=[-1,1]')).toEqual(['weights', [-1, 1]]);
    expect(parseSetting('weights=-1, 0.5,1')).toEqual(['weights', [-1, 0.5, 1]]);
    expect(parseSetting('dataset=fashion-mnist')).toEqual(['dataset', 'fashion-mnist']);
    expect(settings(['population=64', 'population=128'])).toEqual({ population: 128 });
    for (const bad of ['population', '=3', 'pop ulation=3', '1x=2'])
      expect(() => parseSetting(bad), bad).toThrow(/key=value/);
  });

  it('takes distinct non-negative integer seeds', () => {
    expect(parseSeeds('1,2,3')).toEqual([1, 2, 3]);
    expect(parseSeeds(' 5 , 0 ')).toEqual([5, 0]);
    expect(() => parseSeeds('1,1')).toThrow(/twice/);
    for (const bad of ['1,-2', '1.5', 'x', '4294967296'])
      expect(() => parseSeeds(bad), bad).toThrow(/integers/);
    expect(() => parseSeeds(',')).toThrow(/at least one/);
  });

  it("a new run's config is the recorded one without its seed and fork, changes on top", () => {
    expect(newRunConfig(SOURCE_CONFIG, { probAddNode: 0.3 })).toEqual({
      population: 96,
      generations: 30,
      weights: [-1, 1],
      probAddNode: 0.3,
    });
  });
});

describe('wann start --from', () => {
  const posted = () => seen.filter((s) => s.method === 'POST').map((s) => JSON.parse(s.body));

  it('--seeds starts one run per seed from the config and prints a compare URL', async () => {
    const r = await wann([
      'start',
      '--from',
      SOURCE.slice(0, 8),
      '--seeds',
      '1,2,3',
      '--set',
      'probAddNode=0.3',
    ]);
    expect(r.code).toBe(0);
    const bodies = posted();
    expect(bodies).toHaveLength(3);
    bodies.forEach((body, i) => {
      expect(body).toEqual({
        population: 96,
        generations: 30,
        weights: [-1, 1],
        probAddNode: 0.3,
        seed: i + 1,
        name: `baseline seed ${i + 1}`,
        tags: ['mnist'],
      });
    });
    const lines = r.stdout.trim().split('\n');
    expect(lines).toHaveLength(4);
    const newIds = lines.slice(0, 3).map((l) => l.split('/runs/')[1]);
    expect(lines[3]).toBe(`${origin}/compare?runs=${[SOURCE, ...newIds].join(',')}`);
  });

  it('--seed N starts one run with that seed and no compare URL', async () => {
    const r = await wann(['start', '--from', SOURCE, '--seed', '5', '--name', 'again']);
    expect(r.code).toBe(0);
    expect(posted()).toEqual([
      {
        population: 96,
        generations: 30,
        weights: [-1, 1],
        probAddNode: 0.25,
        seed: 5,
        name: 'again',
        tags: ['mnist'],
      },
    ]);
    expect(r.stdout.trim().split('\n')).toHaveLength(1);
    expect(r.stdout).not.toContain('/compare');
  });

  it('refuses --seed with --seeds, and a population below the minimum, before any request', async () => {
    expect((await wann(['start', '--seed', '1', '--seeds', '2,3'])).code).toBe(2);
    const small = await wann(['start', '--population', '2']);
    expect(small.code).not.toBe(0);
    expect(small.stderr).toContain('population must be an integer ≥ 4');
    expect(seen).toEqual([]);
  });
});
