/**
 * The WANN search as an evosax-style strategy: `init / ask / tell` over explicit, plain-JSON state
 * (a Durable Object can persist it every generation) and separate params (`SearchConfig`). All
 * randomness comes from streams keyed by (seed, generation, purpose, index), so the same seed and the
 * same results give the same states whatever order genomes were evaluated in.
 */
import { stream } from '../random';
import { MNIST_ACTIVATIONS } from './activation-ids';
import { breed } from './breeding';
import { MNIST_INPUTS, MNIST_OUTPUTS, type SearchConfig } from './config';
import {
  type Genome,
  initialGenome,
  initialInnovations,
  populationFromBase64,
  populationToBase64,
} from './genome';
import { rankPopulation } from './nsga2';
import type { GenomeResult } from './types';

export interface StrategyState {
  version: 1;
  /** The generation `ask` returns the population of (0 = the initial population). */
  generation: number;
  /** Next unused innovation number of the run. */
  nextInnovation: number;
  /** populationToBase64 of the population to evaluate for `generation`. */
  population: string;
  champion: {
    /** populationToBase64([genome]). */
    genome: string;
    fitness: number;
    generation: number;
    accuracy: number[];
    connections: number;
  } | null;
  bestEverFitness: number | null;
}

export interface GenerationMetrics {
  generation: number;
  objectives: 'mean+connections' | 'mean+max';
  fitnessMean: number;
  fitnessMedian: number;
  fitnessMax: number;
  bestEverFitness: number;
  /** Mean over weights of the batch accuracy of this generation's best genome (by mean fitness). */
  championAccuracy: number;
  championConnections: number;
  meanConnections: number;
  meanNodes: number;
  evaluations: number;
}

export interface TaskShape {
  inputs: number;
  outputs: number;
}

const MNIST_SHAPE: TaskShape = { inputs: MNIST_INPUTS, outputs: MNIST_OUTPUTS };

function assertState(state: StrategyState): void {
  if (state.version !== 1) throw new Error(`unsupported strategy state version ${String(state.version)}`);
}

/** Generation 0: member i is initialGenome(...) drawn from stream(seed, 0, 'init', i). */
export function init(config: SearchConfig, shape: TaskShape = MNIST_SHAPE): StrategyState {
  const genomes: Genome[] = [];
  for (let i = 0; i < config.population; i++) {
    const rng = stream(config.seed, 0, 'init', i);
    genomes.push(initialGenome(shape.inputs, shape.outputs, config.initEnableProb, rng));
  }
  return {
    version: 1,
    generation: 0,
    nextInnovation: initialInnovations(shape.inputs, shape.outputs) + 1,
    population: populationToBase64(genomes),
    champion: null,
    bestEverFitness: null,
  };
}

/** The population to evaluate for state.generation (fresh objects: callers may keep or mutate them). */
export function ask(state: StrategyState): Genome[] {
  assertState(state);
  return populationFromBase64(state.population);
}

export function championGenome(state: StrategyState): Genome | null {
  return state.champion ? populationFromBase64(state.champion.genome)[0] : null;
}

function validateResults(results: readonly GenomeResult[], size: number, weights: number): void {
  if (!Array.isArray(results) || results.length !== size) {
    throw new Error(`tell: expected ${size} results (one per genome), got ${results?.length}`);
  }
  results.forEach((r, i) => {
    if (!r || !Array.isArray(r.fitness) || r.fitness.length !== weights) {
      throw new Error(`tell: result ${i} must have ${weights} fitness values (one per weight)`);
    }
    if (!Array.isArray(r.accuracy) || r.accuracy.length !== weights) {
      throw new Error(`tell: result ${i} must have ${weights} accuracy values (one per weight)`);
    }
    for (const f of r.fitness) {
      if (typeof f !== 'number') throw new Error(`tell: result ${i} has a non-numeric fitness`);
    }
    for (const a of r.accuracy) {
      // The champion keeps these in JSON state, where NaN would not round-trip.
      if (!Number.isFinite(a)) throw new Error(`tell: result ${i} has a non-finite accuracy`);
    }
    if (!Number.isInteger(r.connections) || r.connections < 0) {
      throw new Error(`tell: result ${i} has an invalid connection count ${r.connections}`);
    }
  });
}

function mean(values: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < values.length; i++) s += values[i];
  return s / values.length;
}

function median(sorted: Float64Array): number {
  const n = sorted.length;
  if (n === 0) return Number.NaN;
  const h = n >> 1;
  return n % 2 ? sorted[h] : (sorted[h - 1] + sorted[h]) / 2;
}

/**
 * Rank the evaluated population, breed the next one and update the champion.
 * Objectives per genome: [mean fitness, max fitness, 1/max(1, connections)]; one draw per generation
 * from stream(seed, generation, 'objectives') ranks on [mean, 1/connections] with probability
 * probConnectionObjective, else on [mean, max]. A genome whose mean fitness is not finite (a failed
 * evaluation) gets −Infinity in every objective, so it is dominated by every real one and can never
 * rank well, become a parent before real genomes, or become champion.
 * Metrics (fitness mean/median/max) are over genomes with finite mean fitness; NaN if there are none.
 */
export function tell(
  state: StrategyState,
  config: SearchConfig,
  results: readonly GenomeResult[],
): { state: StrategyState; metrics: GenerationMetrics } {
  assertState(state);
  const population = populationFromBase64(state.population);
  const size = population.length;
  validateResults(results, size, config.weights.length);

  const meanFit = new Float64Array(size);
  const maxFit = new Float64Array(size);
  const connObj = new Float64Array(size);
  let best = -1;
  let valid = 0;
  for (let i = 0; i < size; i++) {
    const r = results[i];
    const m = mean(r.fitness);
    if (Number.isFinite(m)) {
      meanFit[i] = m;
      maxFit[i] = Math.max(...r.fitness);
      connObj[i] = 1 / Math.max(1, r.connections);
      valid++;
      if (best < 0 || m > meanFit[best]) best = i; // strict: ties keep the lower index
    } else {
      meanFit[i] = maxFit[i] = connObj[i] = Number.NEGATIVE_INFINITY;
    }
  }

  const useConnections = stream(config.seed, state.generation, 'objectives').chance(
    config.probConnectionObjective,
  );
  const ranking = rankPopulation([meanFit, useConnections ? connObj : maxFit]);
  const ctx = { nextInnovation: state.nextInnovation, activations: MNIST_ACTIVATIONS };
  const bred = breed(population, ranking.rank, config, state.generation, ctx);

  let champion = state.champion;
  let bestEverFitness = state.bestEverFitness;
  if (best >= 0 && (bestEverFitness === null || meanFit[best] > bestEverFitness)) {
    bestEverFitness = meanFit[best];
    champion = {
      genome: populationToBase64([population[best]]),
      fitness: meanFit[best],
      generation: state.generation,
      accuracy: [...results[best].accuracy],
      connections: results[best].connections,
    };
  }

  const finite = new Float64Array(valid);
  for (let i = 0, j = 0; i < size; i++) if (Number.isFinite(meanFit[i])) finite[j++] = meanFit[i];
  finite.sort();
  let nodes = 0;
  let connections = 0;
  for (let i = 0; i < size; i++) {
    nodes += population[i].acts.length;
    connections += results[i].connections;
  }

  const metrics: GenerationMetrics = {
    generation: state.generation,
    objectives: useConnections ? 'mean+connections' : 'mean+max',
    fitnessMean: valid ? mean(finite) : Number.NaN,
    fitnessMedian: median(finite),
    fitnessMax: valid ? finite[valid - 1] : Number.NaN,
    bestEverFitness: bestEverFitness ?? Number.NaN,
    championAccuracy: best >= 0 ? mean(results[best].accuracy) : Number.NaN,
    championConnections: best >= 0 ? results[best].connections : Number.NaN,
    meanConnections: connections / size,
    meanNodes: nodes / size,
    evaluations: size,
  };
  return {
    state: {
      version: 1,
      generation: state.generation + 1,
      nextInnovation: bred.nextInnovation,
      population: populationToBase64(bred.population),
      champion,
      bestEverFitness,
    },
    metrics,
  };
}
