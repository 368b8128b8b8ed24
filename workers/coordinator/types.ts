/** Shapes the SearchCoordinator exchanges with the API over RPC. */
import type { ModelRow, RunStatus } from '../../schema/schema';
import type { SearchConfig } from '../../src/wann/config';

/** A run's configuration as recorded: the resolved search config, plus its origin for forks. */
export type RunConfig = SearchConfig & { forkOf?: { runId: string; generation: number } };

export interface ChampionSummary {
  fitness: number;
  generation: number;
  accuracy: number[];
  connections: number;
}

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

export const TERMINAL_STATUSES: readonly RunStatus[] = ['completed', 'cancelled', 'failed'];
export function isTerminal(status: RunStatus): boolean {
  return TERMINAL_STATUSES.includes(status);
}

/** What `SearchCoordinator.publish` answers. */
export type PublishOutcome =
  | { ok: true; created: boolean; model: ModelRow }
  | { ok: false; reason: 'no_run' | 'no_champion' };
