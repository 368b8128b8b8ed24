/**
 * Search configuration: one zod schema is the single source of the type, the defaults (the
 * reference MNIST hyperparameters of WANN.md) and the limits the API enforces.
 */
import { z } from 'zod';
import { SHARED_WEIGHTS } from './activation-ids';
import { MAX_POPULATION, MIN_POPULATION } from './config-limits';

/**
 * The limits' messages are plain words (they reach the start form, the CLI and API clients as
 * `field: message`): "at least 1 generation", not the validator's "Too small: expected number to be >=1".
 */
const number = (expected: string) => z.number({ error: `expected ${expected}` });
/** A whole count of `unit` (plural) in [min, max]. */
const count = (min: number, max: number, unit: string) =>
  number(`a whole number of ${unit}`)
    .int(`a whole number of ${unit}`)
    .min(min, `at least ${min.toLocaleString('en-US')} ${min === 1 ? unit.replace(/s$/, '') : unit}`)
    .max(max, `at most ${max.toLocaleString('en-US')} ${unit}`);
/** A number (`what`) in [min, max]. */
const between = (min: number, max: number, what = 'a fraction') =>
  number(`${what} from ${min} to ${max}`).min(min, `at least ${min}`).max(max, `at most ${max}`);
const probability = between(0, 1, 'a probability');

/**
 * Slice tasks (queue messages) a generation may need: ceil(population / sliceSize). Each is a queue
 * message, an evaluator invocation and a report, so tiny slices of a large population are refused;
 * at population 10,000 this means a sliceSize of at least 40.
 */
export const MAX_SLICES_PER_GENERATION = 256;

/** Slice tasks per generation of a config: what `MAX_SLICES_PER_GENERATION` bounds. */
export function slicesPerGeneration(c: { population: number; sliceSize: number }): number {
  return Math.ceil(c.population / c.sliceSize);
}

export const searchConfigSchema = z
  .strictObject({
    population: z
      .number()
      .int('a whole number of genomes')
      .min(MIN_POPULATION, `at least ${MIN_POPULATION} genomes`)
      .max(MAX_POPULATION, `at most ${MAX_POPULATION} genomes`)
      .default(960),
    generations: count(1, 100_000, 'generations').default(4096),
    /** Integer in [0, 2^32). Omitted: the server draws one and records it with the run. */
    seed: number('a whole number from 0 to 4,294,967,295')
      .int('a whole number from 0 to 4,294,967,295')
      .min(0, 'at least 0')
      .max(0xffffffff, 'at most 4,294,967,295')
      .optional(),
    /** Genomes per slice task (bred, evaluated and stored together). Never changes results. */
    sliceSize: count(1, 1_000, 'genomes').default(64),
    /**
     * Training shards (of 1,000 images) a generation's batch is drawn from: shards 0…trainShards−1
     * of the fixed permutation of the 60,000 training images. Part of the run's config because it
     * changes results (60 = the whole training set).
     */
    trainShards: count(1, 60, 'shards').default(60),
    weights: z
      .array(between(-100, 100, 'a weight'), { error: 'a list of numbers' })
      .min(1, 'at least one weight')
      .max(16, 'at most 16 weights')
      .default([...SHARED_WEIGHTS]),
    /** P(rank on [mean fitness, 1/connections]); otherwise [mean, max]. */
    probConnectionObjective: probability.default(0.8),
    cullRatio: between(0, 0.9).default(0.2),
    eliteRatio: between(0, 1).default(0.2),
    tournamentSize: count(1, 1000, 'genomes').default(32),
    initEnableProb: probability.default(0.05),
    probAddConnection: probability.default(0.2),
    probAddNode: probability.default(0.25),
    probEnable: probability.default(0.05),
    probChangeActivation: probability.default(0.5),
    /** Publish the champion every N generations (0 = only at the end). */
    publishEvery: count(0, 100_000, 'generations').default(0),
    /**
     * Champion re-check (src/wann/generation.ts "Champion"): every N generations the best
     * single-batch genome since the last check is re-evaluated on `recheckBatches` other training
     * shards and replaces the champion only if it beats it there. 0 = off: the champion is the best
     * single-batch mean fitness ever seen. Changes results (which genome is champion).
     */
    recheckEvery: count(0, 100_000, 'generations').default(8),
    /** Distinct training shards (1,000 images each, at most `trainShards`) a re-check evaluates on. */
    recheckBatches: count(1, 60, 'shards').default(20),
    /**
     * Stop early when the search no longer improves (src/wann/patience.ts): the run ends, completed,
     * once this many generations have passed since its champion last changed (with the re-check on,
     * at the first check generation that far on, since only a check can change the champion).
     * 0 = off, the default, which `resolveConfig` drops so a recorded config without it is unchanged.
     */
    patience: count(0, 100_000, 'generations').optional(),
    /**
     * The dataset searched on, by name (src/data/dataset.ts). Absent means `mnist` (DEFAULT_DATASET):
     * `resolveConfig` drops an explicit 'mnist', so an MNIST run's recorded config is byte for byte
     * what it was before datasets existed, and the two spellings are one run.
     */
    dataset: z
      .string({ error: 'a dataset name' })
      .min(1, 'a dataset name')
      .max(64, 'at most 64 characters')
      .regex(/^[a-z0-9][a-z0-9-]*$/, 'a dataset name: lower-case letters, digits and dashes')
      .optional(),
  })
  .refine((c) => c.probAddConnection + c.probAddNode + c.probEnable + c.probChangeActivation > 0, {
    message: 'at least one mutation probability must be positive',
    path: ['probAddConnection'],
  })
  .refine((c) => c.tournamentSize <= c.population, {
    message: 'the tournament size must not exceed the population',
    path: ['tournamentSize'],
  })
  .superRefine((c, ctx) => {
    const slices = slicesPerGeneration(c);
    if (slices <= MAX_SLICES_PER_GENERATION) return;
    ctx.addIssue({
      code: 'custom',
      path: ['sliceSize'],
      message: `population ${c.population} in slices of ${c.sliceSize} is ${slices} queue messages per generation; at most ${MAX_SLICES_PER_GENERATION} are allowed, so sliceSize must be at least ${Math.ceil(c.population / MAX_SLICES_PER_GENERATION)}`,
    });
  });

/** What a user may send (every field optional). */
export type SearchConfigInput = z.input<typeof searchConfigSchema>;
/** A complete configuration; `seed` is always set once a run exists. */
export type SearchConfig = z.output<typeof searchConfigSchema> & { seed: number };

/** Defaults filled in; throws a ZodError naming the field on bad input. */
export function resolveConfig(input: SearchConfigInput, fallbackSeed: () => number): SearchConfig {
  const { dataset, patience, ...parsed } = searchConfigSchema.parse(input);
  const named = dataset !== undefined && dataset !== DEFAULT_DATASET_NAME ? { dataset } : {};
  const patient = patience ? { patience } : {};
  return { ...parsed, ...patient, ...named, seed: parsed.seed ?? fallbackSeed() };
}

/** The dataset a config without a `dataset` field searches on (src/data/dataset.ts DEFAULT_DATASET). */
export const DEFAULT_DATASET_NAME = 'mnist';

/** The name of the dataset a config searches on (recorded configs from before datasets read as mnist). */
export function configDataset(config: { dataset?: string }): string {
  return config.dataset ?? DEFAULT_DATASET_NAME;
}

/** MNIST geometry: 16×16 preprocessed inputs, 10 classes. */
export const MNIST_INPUTS = 256;
export const MNIST_OUTPUTS = 10;
