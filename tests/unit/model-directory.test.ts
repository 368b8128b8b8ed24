/** The inference Worker's cache of D1 model rows (workers/inference/directory.ts). */
import { describe, expect, it } from 'vitest';
import type { ModelRow } from '../../schema/schema';
import { ModelDirectory, NEWEST_TTL_MS } from '../../workers/inference/directory';

const row = (version: number) => ({ runId: 'r', version }) as ModelRow;

describe('ModelDirectory', () => {
  it('answers the newest version from memory within the TTL, then asks again', async () => {
    let now = 1_000;
    const dir = new ModelDirectory(16, () => now);
    let queries = 0;
    let newest = 1;
    const lookup = async () => {
      queries++;
      return row(newest);
    };
    expect((await dir.get('r', undefined, lookup))?.version).toBe(1);
    newest = 2; // published meanwhile, without telling the directory
    now += NEWEST_TTL_MS - 1;
    expect((await dir.get('r', undefined, lookup))?.version).toBe(1);
    expect(queries).toBe(1);
    now += 1; // the bound: at TTL after the query, the new version is served
    expect((await dir.get('r', undefined, lookup))?.version).toBe(2);
    expect(queries).toBe(2);
  });

  it('invalidate() makes the next request ask D1 at once', async () => {
    const dir = new ModelDirectory(16, () => 0);
    let newest = 1;
    const lookup = async () => row(newest);
    await dir.get('r', undefined, lookup);
    newest = 2;
    dir.invalidate('r');
    expect((await dir.get('r', undefined, lookup))?.version).toBe(2);
  });

  it('never caches a miss or a failure; shares one query between concurrent requests', async () => {
    const dir = new ModelDirectory(16, () => 0);
    let queries = 0;
    const none = async () => {
      queries++;
      return undefined;
    };
    await dir.get('r', undefined, none);
    await new Promise((r) => setTimeout(r, 0));
    await dir.get('r', undefined, none);
    expect(queries).toBe(2);
    await expect(dir.get('r', 3, async () => Promise.reject(new Error('D1 down')))).rejects.toThrow();
    await new Promise((r) => setTimeout(r, 0));
    expect((await dir.get('r', 3, async () => row(3)))?.version).toBe(3);
    let slow = 0;
    const lookup = async () => {
      slow++;
      return row(5);
    };
    const [a, b] = await Promise.all([dir.get('s', 5, lookup), dir.get('s', 5, lookup)]);
    expect([a?.version, b?.version, slow]).toEqual([5, 5, 1]);
  });

  it('keeps at most `limit` entries', async () => {
    let queries = 0;
    const dir = new ModelDirectory(2, () => 0);
    const lookup = async () => {
      queries++;
      return row(1);
    };
    for (const run of ['a', 'b', 'c', 'a']) await dir.get(run, 1, lookup);
    expect(queries).toBe(4); // 'a' was dropped when 'c' came in
  });
});
