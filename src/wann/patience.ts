/**
 * Stopping a search that no longer improves (config `patience`, 0 = off): the paper runs a search
 * "until performance no longer improves". Every driver (the Durable Object coordinator,
 * LocalSearch, the Node pool) asks `patienceStop` after `tell`, and the API reads the same rule back
 * from a finished run (`recordedStop`), so the rule is stated once, here.
 *
 * The rule. "Improving" means the champion changes: with the re-check on, a candidate that beat the
 * champion on the re-check's training shards; with it off, a better single-batch mean fitness. Both
 * are judged on training data only. `SearchState.championSince` is the generation whose completion
 * crowned the current champion; it is part of the state `tell` returns (persisted by the
 * coordinator with the rest), never a counter kept beside it, so a restarted object or a duplicate
 * report cannot move the stop. After generation g completes, the run stops there when
 *   patience > 0, g is not already the budget's last generation, there is a champion,
 *   g is a check generation (g > 0 and g % recheckEvery == 0; every generation with the re-check
 *   off: only a check can change the champion, and a stop there leaves it re-checked), and
 *   g − championSince ≥ patience.
 * So with the re-check on, a patience below `recheckEvery` acts as `recheckEvery`.
 */
import type { SearchConfig } from './config';
import type { SearchState } from './tell';

/** Why a run ended before its generation budget. */
export const STOP_REASONS = ['patience'] as const;
export type StopReason = (typeof STOP_REASONS)[number];

/** A run that stopped before its budget: after generation `generation` (generations 0…generation ran). */
export interface EarlyStop {
  reason: StopReason;
  /** The last generation the run completed. */
  generation: number;
  /** The config's patience (generations without a new champion). */
  patience: number;
}

export type PatienceConfig = Pick<SearchConfig, 'generations' | 'recheckEvery'> & { patience?: number };

/**
 * The generation whose completion made the state's champion champion; null before the first one.
 * State written before patience existed has no `championSince`: the champion's own generation then
 * (the generation that found it; with the re-check on, it was crowned at the next check, so the
 * fallback can only stop such a run earlier by less than `recheckEvery`).
 */
export function championSince(
  state: Pick<SearchState<unknown>, 'champion' | 'championSince'>,
): number | null {
  if (!state.champion) return null;
  return state.championSince ?? state.champion.champion.generation;
}

/** Whether generation g can end a run early: every generation with the re-check off, else a check one. */
function decidesAt(config: PatienceConfig, g: number): boolean {
  const every = config.recheckEvery ?? 0;
  return every === 0 || (g > 0 && g % every === 0);
}

/**
 * Does the run stop after the generation `state` has just completed (state.generation − 1)? The
 * state is what `tell` returned. Null: go on (or patience is off, or the budget ends there anyway).
 */
export function patienceStop(
  config: PatienceConfig,
  state: Pick<SearchState<unknown>, 'generation' | 'champion' | 'championSince'>,
): EarlyStop | null {
  const patience = config.patience ?? 0;
  const g = state.generation - 1;
  if (patience <= 0 || g < 0 || g >= config.generations - 1 || !decidesAt(config, g)) return null;
  const since = championSince(state);
  if (since === null || g - since < patience) return null;
  return { reason: 'patience', generation: g, patience };
}

/**
 * The generations a run will have completed at the latest stop it can still make, if its champion
 * never changes again: what an ETA's low end may assume (its high end stays the budget). Null when
 * patience is off; at most `config.generations`.
 */
export function earliestEnd(config: PatienceConfig, completed: number, since: number | null): number | null {
  const patience = config.patience ?? 0;
  if (patience <= 0) return null;
  let g = Math.max(completed, (since ?? 0) + patience);
  const every = config.recheckEvery ?? 0;
  if (every > 0) g = Math.max(every, Math.ceil(g / every) * every);
  return Math.min(config.generations, g + 1);
}

/**
 * A finished run's early stop, from what the run records: a run is marked completed only when its
 * budget is spent or `patienceStop` said so, so one completed short of its budget with patience on
 * stopped for patience after its last completed generation.
 */
export function recordedStop(
  config: Pick<PatienceConfig, 'generations' | 'patience'>,
  status: string,
  completed: number,
): EarlyStop | null {
  const patience = config.patience ?? 0;
  if (status !== 'completed' || patience <= 0 || completed <= 0 || completed >= config.generations)
    return null;
  return { reason: 'patience', generation: completed - 1, patience };
}

/** "stopped at generation 812: no improvement for 100 generations" (run page, CLI). */
export function describeStop(stop: EarlyStop): string {
  return `stopped at generation ${stop.generation}: no improvement for ${stop.patience} generation${stop.patience === 1 ? '' : 's'}`;
}

/**
 * The generation whose record first shows the champion of the last record: what `championSince`
 * is, read back from a run's generation records (pages and the CLI have the records, not the
 * state). Only consecutive records are trusted; a gap ends the search there.
 */
export function championSinceInRecords(
  records: readonly {
    gen: number;
    champion: { generation: number; index: number } | null;
  }[],
): number | null {
  const last = records[records.length - 1];
  const champion = last?.champion;
  if (!champion) return null;
  const same = (c: { generation: number; index: number } | null) =>
    c !== null && c.generation === champion.generation && c.index === champion.index;
  let since = last.gen;
  for (let i = records.length - 2; i >= 0; i--) {
    if (records[i].gen !== since - 1 || !same(records[i].champion)) break;
    since = records[i].gen;
  }
  return since;
}
