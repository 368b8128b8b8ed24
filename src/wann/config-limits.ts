/**
 * The search config's limits that views show before the server checks them (the start form's
 * `min`, the CLI's option parsers), zod-free so the pages can bundle them. The schema
 * (`searchConfigSchema`, config.ts) uses these same constants.
 */

/** Fewest genomes per generation: elites, culling and tournaments need a few to choose from. */
export const MIN_POPULATION = 4;
/** Most genomes per generation. */
export const MAX_POPULATION = 10_000;
