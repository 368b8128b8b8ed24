/** Shapes the SearchCoordinator exchanges with the API and the evaluators over RPC. */
import { type RunStatus, TERMINAL_RUN_STATUSES } from '../../src/api/vocabulary';
import type { SearchConfig } from '../../src/wann/config';
import type { ChampionRecord } from '../../src/wann/record';
import type { GenomeLocation, PublishTask } from '../contracts/queue-tasks';

/** A run's configuration as recorded: the resolved search config, plus its origin for forks. */
export type RunConfig = SearchConfig & { forkOf?: { runId: string; generation: number } };

export type ChampionSummary = ChampionRecord;

export interface RunSnapshot {
  runId: string;
  status: RunStatus;
  /** Generations completed (= the generation being evaluated while running). */
  generation: number;
  generations: number;
  bestEverFitness: number | null;
  champion: ChampionSummary | null;
  error: string | null;
}

export type CancelOutcome = { ok: true; snapshot: RunSnapshot } | { ok: false; status: RunStatus | null };

export const TERMINAL_STATUSES: readonly RunStatus[] = TERMINAL_RUN_STATUSES;
export function isTerminal(status: RunStatus): boolean {
  return TERMINAL_STATUSES.includes(status);
}

/** The champion's address and where its bytes lie in R2 (generation `champion.generation`). */
export interface ChampionAddress {
  champion: ChampionSummary;
  location: GenomeLocation;
}

/**
 * What `SearchCoordinator.requestPublication` answers: the version for the current champion and the
 * task that builds it (done by whoever asked, off the coordinator's thread), or why there is none.
 */
export type PublicationRequest =
  | { ok: true; created: boolean; status: 'pending' | 'done' | 'failed'; task: PublishTask }
  | { ok: false; reason: 'no_run' | 'no_champion' };

/** An evaluator's (or the API's) word on a publication task. */
export type PublicationOutcome = { ok: true; generation: number } | { ok: false; error: string };

/** One slice of a finished generation: where its members lie in its R2 object. */
export interface StoredSlice {
  start: number;
  end: number;
  /** Byte offsets of members start…end in the object, plus the end (end − start + 1 numbers). */
  offsets: number[];
}

/**
 * What a fork continues from: the parent's last finished generation (gen − 1) as numbers, and the
 * R2 objects that hold its members and its champion (copied under the fork's run id first).
 */
export interface ForkSource {
  /** Generations the parent finished; the fork's first generation. */
  generation: number;
  slices: StoredSlice[];
  /** packObjectives of generation − 1. */
  objectives: Float64Array;
  champion: ChampionAddress | null;
  /** The best single-batch genome waiting for the next champion re-check (copied like the champion). */
  candidate?: ChampionAddress | null;
  /** The generation that crowned the champion (`SearchState.championSince`; patience counts on). */
  championSince?: number;
}
