/**
 * A "parked" run: a D1 row and a coordinator that say `running`, with `generations` finished
 * generations in its log, and nothing that advances it (no slices, no alarm). Streams on it stay
 * open and quiet, so stream tests need no search burning the test isolate's only thread.
 * `POST …/cancel` ends it like any running run.
 */
import { runInDurableObject } from 'cloudflare:test';
import { env } from 'cloudflare:workers';

const CONFIG = {
  population: 8,
  generations: 100_000,
  sliceSize: 8,
  seed: 1,
  tournamentSize: 4,
  trainShards: 2,
};

export async function parkedRun(
  generations = 0,
  status: 'running' | 'completed' = 'running',
): Promise<string> {
  const id = crypto.randomUUID();
  const now = Date.now();
  await env.DB.prepare(
    'INSERT INTO runs (id, status, config, seed, generation, created_at, updated_at, started_at) VALUES (?, ?, ?, 1, ?, ?, ?, ?)',
  )
    .bind(id, status, JSON.stringify(CONFIG), generations, now, now, now)
    .run();
  await runInDurableObject(env.COORD.get(env.COORD.idFromName(id)), (_object, state) => {
    const sql = state.storage.sql;
    const meta = {
      runId: id,
      status,
      config: CONFIG,
      error: null,
      startedAt: now,
      finishedAt: status === 'running' ? null : now,
      gen: generations,
      genStartedAt: now,
      champion: null,
      syncedStatus: status,
      driveFailures: 0,
    };
    sql.exec("INSERT INTO meta (key, value) VALUES ('run', ?)", JSON.stringify(meta));
    for (let g = 0; g < generations; g++) {
      sql.exec(
        'INSERT INTO generation_log (gen, entry, synced) VALUES (?, ?, 1)',
        g,
        JSON.stringify({ gen: g }),
      );
    }
  });
  return id;
}
