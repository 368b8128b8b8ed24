/**
 * Completing a generation: the one place where the slices' reports become the generation's
 * objectives and record, and where the champion and the candidate change (the rule is stated in
 * generation.ts's header). Every driver (the Durable Object coordinator, LocalSearch, the Node
 * pool) calls `tell` and keeps nothing of this bookkeeping itself.
 *
 * In the evosax shape: `tell(state, reports, config)` over an explicit state that is plain JSON when
 * the driver's location handle is (the coordinator's is an R2 address, persisted every generation),
 * returning the next state. The jobs `completeGeneration` does are separate pure functions:
 * `aggregateReports` (reports → objectives), `generationBest` (the generation's best member),
 * `fitnessStatistics` (the record's numbers) and `advanceChampion` (the champion rule). A failed
 * evaluation (NaN) can never become best: only finite means are ever compared.
 */
import type { SearchConfig } from './config';
import {
  type GenerationObjectives,
  generationShard,
  objectivePair,
  type RecheckReport,
  recheckMismatch,
  recheckOutcome,
  recheckSpec,
  type SliceReport,
} from './generation';
import { type ChampionRecord, finiteOrNull, type GenerationRecord } from './record';

// ---------------------------------------------------------------------------------------------
// The search state and `tell`

/**
 * The champion or the candidate, and where its genome lies: `location` is the driver's own handle
 * (an R2 address for the coordinator, the genome itself for LocalSearch, the shared slice buffer
 * for the Node pool), carried along and never read here. `champion` is the member's record (the
 * candidate's too: both are `ChampionRecord`s).
 */
export interface Located<L> {
  champion: ChampionRecord;
  location: L;
}

/** What a search carries from one generation to the next, besides the objectives. */
export interface SearchState<L> {
  /** The generation the next `tell` completes (= generations completed). */
  generation: number;
  champion: Located<L> | null;
  /** The best single-batch member waiting for the next re-check (re-check on); else null. */
  candidate: Located<L> | null;
  /**
   * The generation whose completion made `champion` the champion (what `patience` counts from,
   * patience.ts). Always set by `tell` once there is a champion; absent in state stored before it
   * existed (read it through `championSince`).
   */
  championSince?: number;
}

/** A search before its first generation. */
export function initialSearchState<L>(): SearchState<L> {
  return { generation: 0, champion: null, candidate: null };
}

/** What one generation reports to `tell`. */
export interface GenerationReports<L> {
  /** The slices' reports: they must cover [0, population) exactly, in any order. */
  slices: readonly SliceReport[];
  /** The generation's champion re-check: required when it has one (`recheckSpec`), else null. */
  recheck: RecheckReport | null;
  /** Where member `index` of this generation lies (asked only of a new champion or candidate). */
  locate: (index: number) => L;
  /** How long the generation took: recorded, never decides anything. */
  durationMs: number;
}

/** The config fields completing a generation reads. */
export type CompletionConfig = Pick<
  SearchConfig,
  'seed' | 'probConnectionObjective' | 'trainShards' | 'recheckEvery' | 'recheckBatches' | 'generations'
>;

export interface Told<L> {
  state: SearchState<L>;
  record: GenerationRecord;
  /** What ranking the next generation needs (`planGeneration`); typed arrays, NaN kept. */
  objectives: GenerationObjectives;
}

/**
 * Complete generation `state.generation` from its reports: the next state (generation + 1, the
 * champion and the candidate with their locations), the generation's record and its objectives.
 * A champion or candidate from an earlier generation keeps the location it had in `state`.
 */
export function tell<L>(
  state: SearchState<L>,
  reports: GenerationReports<L>,
  config: CompletionConfig & Pick<SearchConfig, 'population'>,
): Told<L> {
  const gen = state.generation;
  const done = completeGeneration({
    gen,
    config,
    population: config.population,
    reports: reports.slices,
    champion: state.champion?.champion ?? null,
    durationMs: reports.durationMs,
    recheck: { candidate: state.candidate?.champion ?? null, report: reports.recheck },
  });
  const located = (c: ChampionRecord | null): Located<L> | null => {
    if (!c) return null;
    if (c.generation === gen) return { champion: c, location: reports.locate(c.index) };
    const before = [state.champion, state.candidate].find(
      (a) => a && a.champion.generation === c.generation && a.champion.index === c.index,
    );
    if (!before) throw new Error(`generation ${c.generation} member ${c.index} has no known location`);
    return { champion: c, location: before.location };
  };
  const champion = located(done.champion);
  const before = state.champion?.champion;
  const crowned =
    champion !== null &&
    (!before ||
      before.generation !== champion.champion.generation ||
      before.index !== champion.champion.index);
  // Carried as it was when the champion stays (absent stays absent: `championSince` falls back).
  const since = crowned ? gen : state.championSince;
  return {
    state: {
      generation: gen + 1,
      champion,
      candidate: located(done.candidate),
      ...(since === undefined ? {} : { championSince: since }),
    },
    record: done.record,
    objectives: done.objectives,
  };
}

// ---------------------------------------------------------------------------------------------
// Completing a generation, job by job

export interface CompletedGeneration {
  objectives: GenerationObjectives;
  record: GenerationRecord;
  champion: ChampionRecord | null;
  /** The best single-batch genome since the last re-check, waiting for the next (re-check on). */
  candidate: ChampionRecord | null;
}

/** What a driver that re-checks hands `completeGeneration` besides the slices' reports. */
export interface RecheckInput {
  /** The candidate after generation gen−1 (`CompletedGeneration.candidate`), or null. */
  candidate: ChampionRecord | null;
  /** This generation's re-check: required when `recheckSpec` gives one for it, else null. */
  report: RecheckReport | null;
}

export interface CompletionInput {
  gen: number;
  config: CompletionConfig;
  population: number;
  /** Must cover [0, population) exactly (any order). */
  reports: readonly SliceReport[];
  /** The champion after generation gen−1, or null. */
  champion: ChampionRecord | null;
  durationMs: number;
  /**
   * Absent for a driver that does not re-check (the serial-part benchmark): then, as with
   * `recheckEvery` 0, the champion is the best mean fitness seen so far.
   */
  recheck?: RecheckInput;
}

/**
 * Every slice (and the re-check, on a check generation) is in: the generation's objectives,
 * record, champion and candidate, by the rule in generation.ts's header.
 */
export function completeGeneration(input: CompletionInput): CompletedGeneration {
  const { gen, config, population, reports, durationMs, recheck } = input;
  const { objectives, nodes } = aggregateReports(gen, population, reports);
  const best = generationBest(gen, objectives, reports);
  let champion = input.champion;
  let candidate: ChampionRecord | null = null;
  let testAccuracy: number | null = null;
  if (recheck && (config.recheckEvery ?? 0) > 0) {
    ({ champion, candidate, testAccuracy } = advanceChampion(config, gen, champion, recheck, best));
  } else if (best && (champion === null || best.fitness > champion.fitness)) {
    champion = best;
  }
  const stats = fitnessStatistics(objectives);
  const record: GenerationRecord = {
    gen,
    objectives: objectivePair(config, gen),
    shard: generationShard(config, gen),
    fitnessMean: stats.fitnessMean,
    fitnessMedian: stats.fitnessMedian,
    fitnessMax: stats.fitnessMax,
    bestEverFitness: champion ? champion.fitness : null,
    championAccuracy: best ? best.accuracy.reduce((a, b) => a + b, 0) / best.accuracy.length : null,
    championConnections: best ? best.connections : null,
    meanConnections: stats.meanConnections,
    meanNodes: nodes / population,
    evaluations: population,
    durationMs: Math.max(0, Math.round(durationMs)),
    champion,
    testAccuracy,
  };
  return { objectives, record, champion, candidate };
}

/**
 * The slices' reports as one generation's objectives (mean and max fitness over the shared weights,
 * connections) and its total node count. Throws unless they cover [0, population) exactly.
 */
export function aggregateReports(
  gen: number,
  population: number,
  reports: readonly SliceReport[],
): { objectives: GenerationObjectives; nodes: number } {
  const meanFitness = new Float64Array(population);
  const maxFitness = new Float64Array(population);
  const connections = new Uint32Array(population);
  const seen = new Uint8Array(population);
  let nodes = 0;
  for (const r of reports) {
    if (r.gen !== gen) throw new RangeError(`report of generation ${r.gen} in generation ${gen}`);
    for (let i = 0; i < r.sliceEnd - r.sliceStart; i++) {
      const j = r.sliceStart + i;
      if (j >= population || seen[j]) throw new RangeError(`member ${j} reported twice or out of range`);
      seen[j] = 1;
      let sum = 0;
      let max = Number.NEGATIVE_INFINITY;
      for (let k = 0; k < r.weights; k++) {
        const f = r.fitness[i * r.weights + k];
        sum += f;
        if (f > max) max = f;
      }
      meanFitness[j] = sum / r.weights;
      maxFitness[j] = Number.isFinite(meanFitness[j]) ? max : Number.NaN;
      connections[j] = r.connections[i];
      nodes += r.nodes[i];
    }
  }
  for (let j = 0; j < population; j++) if (!seen[j]) throw new RangeError(`member ${j} has no report`);
  return { objectives: { meanFitness, maxFitness, connections }, nodes };
}

/**
 * The generation's best member by mean fitness (the lower index on ties) as a batch-chosen record;
 * null when no member has a finite mean (all failed).
 */
export function generationBest(
  gen: number,
  objectives: GenerationObjectives,
  reports: readonly SliceReport[],
): ChampionRecord | null {
  const { meanFitness, connections } = objectives;
  let best = -1;
  for (let j = 0; j < meanFitness.length; j++) {
    const m = meanFitness[j];
    if (Number.isFinite(m) && (best < 0 || m > meanFitness[best])) best = j;
  }
  if (best < 0) return null;
  return {
    generation: gen,
    index: best,
    fitness: meanFitness[best],
    accuracy: memberAccuracy(reports, best),
    connections: connections[best],
    chosenBy: 'batch',
    recheckedFitness: null,
  };
}

function memberAccuracy(reports: readonly SliceReport[], j: number): number[] {
  for (const r of reports) {
    if (j >= r.sliceStart && j < r.sliceEnd) {
      const i = j - r.sliceStart;
      return r.accuracy.slice(i * r.weights, i * r.weights + r.weights);
    }
  }
  return [];
}

/** The record's population statistics over the finite means (null when there is none). */
export function fitnessStatistics(objectives: GenerationObjectives): {
  fitnessMean: number | null;
  fitnessMedian: number | null;
  fitnessMax: number | null;
  meanConnections: number;
} {
  const { meanFitness, connections } = objectives;
  const population = meanFitness.length;
  const finite: number[] = [];
  let connectionSum = 0;
  for (let j = 0; j < population; j++) {
    connectionSum += connections[j];
    if (Number.isFinite(meanFitness[j])) finite.push(meanFitness[j]);
  }
  // Summed in ascending order, so the mean does not depend on member order.
  const sorted = Float64Array.from(finite).sort();
  const valid = sorted.length;
  let sum = 0;
  for (let i = 0; i < valid; i++) sum += sorted[i];
  return {
    fitnessMean: valid ? finiteOrNull(sum / valid) : null,
    fitnessMedian: valid
      ? valid % 2
        ? sorted[valid >> 1]
        : (sorted[(valid >> 1) - 1] + sorted[valid >> 1]) / 2
      : null,
    fitnessMax: valid ? sorted[valid - 1] : null,
    meanConnections: connectionSum / population,
  };
}

/**
 * The champion rule with the re-check on: apply generation `gen`'s re-check (if it has one), then
 * weigh the generation's own best (`best`, finite or null) against the champion and the candidate.
 */
export function advanceChampion(
  config: CompletionConfig,
  gen: number,
  previous: ChampionRecord | null,
  recheck: RecheckInput,
  best: ChampionRecord | null,
): { champion: ChampionRecord | null; candidate: ChampionRecord | null; testAccuracy: number | null } {
  let champion = previous;
  let candidate = recheck.candidate;
  let testAccuracy: number | null = null;
  const spec = recheckSpec(config, gen, champion, candidate);
  if (spec && champion) {
    const r = recheck.report;
    if (!r) throw new RangeError(`generation ${gen} needs its re-check`);
    const mismatch = recheckMismatch(spec, r);
    if (mismatch) throw new RangeError(`generation ${gen}: the re-check ${mismatch}`);
    const outcome = recheckOutcome(r);
    champion =
      outcome.accepted && candidate
        ? { ...candidate, chosenBy: 'recheck', recheckedFitness: outcome.candidateFitness }
        : { ...champion, recheckedFitness: finiteOrNull(outcome.championFitness) };
    candidate = null;
    testAccuracy = r.testAccuracy;
  } else if (recheck.report) {
    throw new RangeError(`generation ${gen} has no re-check, yet one was reported`);
  }
  if (best) {
    if (champion === null) champion = best;
    else if (best.fitness > referenceFitness(champion) && (!candidate || best.fitness > candidate.fitness))
      candidate = best;
  }
  return { champion, candidate, testAccuracy };
}

/** The fitness a new best must beat to become the candidate. */
function referenceFitness(champion: ChampionRecord): number {
  return champion.recheckedFitness ?? champion.fitness;
}
