/**
 * The coordinator's own storage: a run whose object was written with the tables from before the
 * task ledger (`slices`, `rechecks`, `publications`) goes on where it was after a restart, and
 * trained versions are rows of their own in the ledger, numbered from the publications' sequence.
 */
import { abortAllDurableObjects, runInDurableObject } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { resolveConfig } from '../../src/wann/config';
import type { SearchCoordinator } from '../../workers/coordinator/search-coordinator';

const CONFIG = resolveConfig(
  { population: 8, generations: 100_000, sliceSize: 4, tournamentSize: 4 },
  () => 7,
);

const CHAMPION = {
  champion: {
    generation: 0,
    index: 5,
    fitness: 0.25,
    accuracy: [0.2, 0.3],
    connections: 4,
    chosenBy: 'batch',
    recheckedFitness: null,
  },
  location: { index: 5, slice: 4, offset: 12, length: 10 },
};

function stub(runId: string) {
  return env.COORD.get(env.COORD.idFromName(runId));
}

/** Open a fresh instance of the object (the constructor runs again) and look at it. */
async function reopened<T>(runId: string, look: (c: SearchCoordinator, sql: SqlStorage) => T | Promise<T>) {
  await abortAllDurableObjects();
  return runInDurableObject(stub(runId), (object, state) =>
    look(object as unknown as SearchCoordinator, state.storage.sql),
  );
}

function tables(sql: SqlStorage): string[] {
  return sql
    .exec("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
    .toArray()
    .map((r) => String(r.name));
}

describe('a coordinator with the old tables', () => {
  it('moves their rows into the ledger and the population index, and goes on where it was', async () => {
    const runId = crypto.randomUUID();
    const now = Date.now();
    // A run in generation 1: generation 0 finished (two stored slices), generation 1 with one slice
    // reported and one sent twice, a pending publication of the champion and a trained version.
    await runInDurableObject(stub(runId), (_instance, state) => {
      const sql = state.storage.sql;
      const meta = {
        runId,
        status: 'running',
        config: CONFIG,
        error: null,
        startedAt: now,
        finishedAt: null,
        gen: 1,
        genStartedAt: now,
        champion: CHAMPION,
        candidate: null,
        syncedStatus: 'running',
        driveFailures: 0,
      };
      sql.exec("INSERT INTO meta (key, value) VALUES ('run', ?)", JSON.stringify(meta));
      sql.exec(`
        CREATE TABLE slices (gen INTEGER NOT NULL, slice_start INTEGER NOT NULL,
          slice_end INTEGER NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, sent_at INTEGER,
          done INTEGER NOT NULL DEFAULT 0, report BLOB, offsets BLOB, PRIMARY KEY (gen, slice_start));
        CREATE TABLE publications (version INTEGER PRIMARY KEY, generation INTEGER NOT NULL
          UNIQUE, champion TEXT NOT NULL, status TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
          sent_at INTEGER, error TEXT);
        CREATE TABLE rechecks (gen INTEGER PRIMARY KEY, task TEXT NOT NULL,
          attempts INTEGER NOT NULL DEFAULT 0, sent_at INTEGER, done INTEGER NOT NULL DEFAULT 0,
          champion_fitness BLOB, candidate_fitness BLOB, test_accuracy REAL);
      `);
      const offsets = Uint32Array.from([2, 12, 22, 32, 42]).buffer;
      for (const start of [0, 4]) {
        sql.exec(
          'INSERT INTO slices (gen, slice_start, slice_end, attempts, sent_at, done, offsets) VALUES (0, ?, ?, 1, ?, 1, ?)',
          start,
          start + 4,
          now,
          offsets,
        );
      }
      sql.exec(
        'INSERT INTO slices (gen, slice_start, slice_end, attempts, sent_at, done, report, offsets) VALUES (1, 0, 4, 1, ?, 1, ?, ?)',
        now,
        new Float64Array(2 * 4 * 6 + 2 * 4).fill(0.5).buffer,
        offsets,
      );
      sql.exec(
        'INSERT INTO slices (gen, slice_start, slice_end, attempts, sent_at) VALUES (1, 4, 8, 2, ?)',
        now,
      );
      sql.exec('INSERT INTO objectives (gen, packed) VALUES (0, ?)', new Float64Array([1, 2, 3]).buffer);
      sql.exec(
        "INSERT INTO publications (version, generation, champion, status, attempts, sent_at) VALUES (1, 1, ?, 'pending', 1, ?)",
        JSON.stringify(CHAMPION),
        now,
      );
      sql.exec(
        "INSERT INTO publications (version, generation, champion, status) VALUES (2, -1, 'null', 'done')",
      );
    });

    await reopened(runId, (instance, sql) => {
      const names = tables(sql);
      expect(names).toContain('tasks');
      expect(names).not.toContain('slices');
      expect(names).not.toContain('publications');
      expect(names).not.toContain('rechecks');
      const coordinator = instance as unknown as { pendingWork(gen: number): number };
      // The reported slice stays reported; the other one is still outstanding, with its attempts.
      expect(coordinator.pendingWork(1)).toBe(1);
      const attempts = sql
        .exec("SELECT slice_start, attempts, status FROM tasks WHERE kind = 'slice' ORDER BY slice_start")
        .toArray();
      expect(attempts).toEqual([
        { slice_start: 0, attempts: 1, status: 'done' },
        { slice_start: 4, attempts: 2, status: 'pending' },
      ]);
      // Generation 0's slices are where the next parents lie.
      const fork = instance.forkSource();
      expect(fork?.generation).toBe(1);
      expect(fork?.slices.map((s) => [s.start, s.end])).toEqual([
        [0, 4],
        [4, 8],
      ]);
      expect(Array.from(fork?.objectives ?? [])).toEqual([1, 2, 3]);
      // The publication keeps its version; the trained version is a row of its own, same number.
      const request = instance.requestPublication();
      expect(request).toMatchObject({ ok: true, created: false, status: 'pending', task: { version: 1 } });
      expect(instance.reserveTrainedVersion(1, 1)).toBe(2);
      expect(sql.exec("SELECT kind, version, source, gen FROM tasks WHERE kind = 'train'").toArray()).toEqual(
        [{ kind: 'train', version: 2, source: 1, gen: null }],
      );
    });
  });
});

describe('trained versions', () => {
  it('are numbered once per source, from the sequence publications use, at least as asked', async () => {
    const runId = crypto.randomUUID();
    await runInDurableObject(stub(runId), (object) => {
      const instance = object as unknown as SearchCoordinator;
      expect(instance.reserveTrainedVersion(3, 5)).toBe(5);
      expect(instance.reserveTrainedVersion(3, 9)).toBe(5);
      expect(instance.reserveTrainedVersion(4, 1)).toBe(6);
    });
    // A fresh instance reads the same rows.
    expect(await reopened(runId, (instance) => instance.reserveTrainedVersion(4, 1))).toBe(6);
  });
});
