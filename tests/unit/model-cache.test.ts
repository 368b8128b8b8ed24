import { describe, expect, it } from 'vitest';
import { ModelCache } from '../../workers/inference/model-cache';

/** A stand-in session: counts its releases and the requests running on it. */
class FakeModel {
  releases = 0;
  running = 0;
  releasedWhileRunning = false;
  constructor(readonly key: string) {}
  async release(): Promise<void> {
    if (this.running > 0) this.releasedWhileRunning = true;
    this.releases++;
  }
}

function cacheOf(limit: number) {
  const opened: FakeModel[] = [];
  const cache = new ModelCache<FakeModel>(async (bytes) => {
    const model = new FakeModel(new TextDecoder().decode(bytes));
    opened.push(model);
    return model;
  }, limit);
  const load = (key: string) => async () => new TextEncoder().encode(key);
  /** A request on `key` that runs until `finish` is called. */
  const hold = (key: string) => {
    let finish = () => {};
    const done = new Promise<void>((resolve) => {
      finish = resolve;
    });
    let started: (model: FakeModel) => void = () => {};
    const running = new Promise<FakeModel>((resolve) => {
      started = resolve;
    });
    const request = cache.use(key, load(key), async (model) => {
      model.running++;
      started(model);
      await done;
      model.running--;
      return model.key;
    });
    return { running, finish, request };
  };
  const ask = (key: string) =>
    cache.use(key, load(key), (model) => {
      expect(model.releases).toBe(0); // never handed out once released
      return model.key;
    });
  return { cache, opened, hold, ask };
}

describe('ModelCache', () => {
  it('releases every evicted session exactly once when cycling more versions than it holds', async () => {
    const { cache, opened, ask } = cacheOf(8);
    for (let pass = 0; pass < 2; pass++) {
      for (let v = 1; v <= 50; v++) expect(await ask(`run/${v}`)).toBe(`run/${v}`);
    }
    expect(opened).toHaveLength(100); // 50 versions, 8 cached: every request of a pass is a miss
    const live = opened.filter((m) => m.releases === 0);
    expect(live.map((m) => m.key)).toEqual(Array.from({ length: 8 }, (_, i) => `run/${43 + i}`));
    for (const m of live) expect(cache.has(m.key)).toBe(true);
    for (const m of opened) expect(m.releases).toBeLessThanOrEqual(1);
  });

  it('keeps the most recently used, and releases nothing it keeps', async () => {
    const { opened, ask } = cacheOf(2);
    await ask('a');
    await ask('b');
    await ask('a'); // a is now the most recent
    await ask('c'); // evicts b
    expect(opened.map((m) => [m.key, m.releases])).toEqual([
      ['a', 0],
      ['b', 1],
      ['c', 0],
    ]);
  });

  it('never releases a session a request is using: the last request out releases it', async () => {
    const { opened, hold, ask } = cacheOf(2);
    const first = hold('a');
    const second = hold('a');
    const model = await first.running;
    await second.running;
    await ask('b');
    await ask('c'); // a is evicted while two requests still run on it
    expect(model.releases).toBe(0);
    first.finish();
    expect(await first.request).toBe('a');
    expect(model.releases).toBe(0);
    second.finish();
    expect(await second.request).toBe('a');
    expect(model.releases).toBe(1);
    expect(model.releasedWhileRunning).toBe(false);
    // Asked again: a new session, not the released one.
    expect(await ask('a')).toBe('a');
    expect(opened.filter((m) => m.key === 'a')).toHaveLength(2);
  });

  it('does not cache a failed load, and has nothing to release for it', async () => {
    const { cache } = cacheOf(1);
    let tries = 0;
    const failing = async () => {
      tries++;
      throw new Error('missing');
    };
    await expect(cache.use('x', failing, () => 'never')).rejects.toThrow('missing');
    expect(cache.has('x')).toBe(false);
    await expect(cache.use('x', failing, () => 'never')).rejects.toThrow('missing');
    expect(tries).toBe(2);
  });
});
