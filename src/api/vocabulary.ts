/**
 * The closed lists of the product, each defined once: run and training statuses, model variants
 * and share-link scopes. The D1 schema (schema/schema.ts), the API's answers (types.ts), the
 * Workers, the pages and the CLI all read them from here. Plain constants, no zod: the pages
 * import them as values.
 */

/** Statuses of a run that has not ended (it holds one of the running-search slots). */
export const ACTIVE_RUN_STATUSES = ['queued', 'running'] as const;
/** Statuses a run never leaves. */
export const TERMINAL_RUN_STATUSES = ['completed', 'cancelled', 'failed'] as const;
export const RUN_STATUSES = [...ACTIVE_RUN_STATUSES, ...TERMINAL_RUN_STATUSES] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];

/** Whether a run with this status has ended (a string: statuses also arrive from outside). */
export function isTerminalRunStatus(status: string): boolean {
  return (TERMINAL_RUN_STATUSES as readonly string[]).includes(status);
}

/** A training of per-connection weights (workers/models/train.ts). */
export const TRAINING_STATUSES = ['queued', 'running', 'done', 'failed'] as const;
export type TrainingStatus = (typeof TRAINING_STATUSES)[number];

/** A published model's weights: the shared weight of the search, or trained per connection. */
export const MODEL_VARIANTS = ['shared', 'trained'] as const;
export type ModelVariant = (typeof MODEL_VARIANTS)[number];

/** What a share link lets its holder do. */
export const SHARE_SCOPES = ['view', 'view+predict'] as const;
export type ShareScope = (typeof SHARE_SCOPES)[number];
