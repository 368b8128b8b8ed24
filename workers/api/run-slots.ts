/**
 * The ceiling on searches at once (MAX_RUNNING_SEARCHES, runs.ts): which D1 rows marked `queued` or
 * `running` really hold a slot. D1's status is a copy the coordinator keeps in step; a row whose
 * coordinator is gone (its Durable Object has no record of the run) or has already finished (the
 * copy lags) would otherwise count forever and, eight of them, refuse every new search. So when the
 * rows alone reach the ceiling, each row's coordinator is asked (`snapshot`, one RPC per row, in
 * parallel) and only the searches it confirms count:
 * - the coordinator says `running` (or `queued`): counted, however slow its progress (a stalled
 *   search is cancelled by its owner, not guessed at here);
 * - the coordinator has finished the run (`completed`, `failed`, `cancelled`): not counted (its
 *   own status sync corrects the row);
 * - the coordinator has no record of the run: not counted once the row is older than
 *   START_GRACE_MS (a start in progress writes the row first, then starts the coordinator), and the
 *   row is marked `failed` with the reason, so the next check does not ask again;
 * - the coordinator cannot be asked (an RPC error): counted, since its state is unknown.
 * Below the ceiling nothing is asked: the common path is one D1 count, as before.
 */
import { and, eq, inArray, type SQL } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/d1';
import { runs } from '../../schema/schema';
import { ACTIVE_RUN_STATUSES } from '../../src/api/vocabulary';
import { isTerminal, type RunSnapshot } from '../coordinator/types';
import type { Env } from './env';

/** How long a `queued` row may exist before its coordinator has a record of it. */
export const START_GRACE_MS = 60_000;

export const ACTIVE_RUN = inArray(runs.status, [...ACTIVE_RUN_STATUSES]);

/** The reason recorded on a row whose coordinator has no record of the run. */
export const LOST_COORDINATOR_ERROR =
  'the search coordinator has no record of this run (its state was lost); it cannot continue: fork or start it again';

/**
 * How many searches matching `where` (default: every active row) hold a slot, counted exactly
 * (coordinators asked) only when the rows alone would reach `ceiling`.
 */
export async function runningSearches(
  env: Env,
  ceiling: number,
  where: SQL = ACTIVE_RUN,
  now = Date.now(),
): Promise<number> {
  const db = drizzle(env.DB);
  const rows = await db.select({ id: runs.id, createdAt: runs.createdAt }).from(runs).where(where);
  if (rows.length < ceiling) return rows.length;
  const held = await Promise.all(rows.map((row) => holdsSlot(env, row, now)));
  return held.filter(Boolean).length;
}

async function holdsSlot(env: Env, row: { id: string; createdAt: number }, now: number): Promise<boolean> {
  let snapshot: RunSnapshot | null;
  try {
    snapshot = await env.COORD.get(env.COORD.idFromName(row.id)).snapshot();
  } catch (e) {
    console.error(`api: could not ask the coordinator of run ${row.id}: ${String(e)}`);
    return true;
  }
  if (snapshot) return !isTerminal(snapshot.status);
  if (now - row.createdAt < START_GRACE_MS) return true;
  await drizzle(env.DB)
    .update(runs)
    .set({ status: 'failed', error: LOST_COORDINATOR_ERROR, updatedAt: now, finishedAt: now })
    .where(and(eq(runs.id, row.id), ACTIVE_RUN));
  return false;
}
