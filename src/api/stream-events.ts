/**
 * What the event streams say besides generations and statuses: a run's `model` events (a version
 * published, a training moving or ending: what happens to a run's models from the CLI or another
 * page) and the runs list's `run` events (a run started or changed status, or moved on). Zod, so the
 * pages and the CLI read the same shapes the Workers send.
 */
import { z } from 'zod';
import { RUN_STATUSES, TRAINING_STATUSES } from './vocabulary';

const int = z.number().int();

/**
 * `event: model` on a run's stream. `published`: version `version` is in the models list now (or
 * failed to publish, with `error`); `training`: the training of per-connection weights from version
 * `version` is at `status` (`step` of `steps`; `trainedVersion` once done).
 */
export const modelEventSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('published'), version: int, error: z.string().nullable() }),
  z.object({
    kind: z.literal('training'),
    version: int,
    status: z.enum(TRAINING_STATUSES),
    step: int,
    steps: int,
    loss: z.number().nullable(),
    trainedVersion: int.nullable(),
    error: z.string().nullable(),
  }),
]);
export type ModelEvent = z.infer<typeof modelEventSchema>;

/**
 * `event: run` on the runs list's stream (`GET /api/runs/events`): run `id` started, changed status
 * or moved on to generation `generation` (of `generations`). The list row itself is read from
 * `GET /api/runs`, where filters and ordering are applied.
 */
export const runFeedEventSchema = z.object({
  id: z.string(),
  status: z.enum(RUN_STATUSES),
  generation: int,
  generations: int,
});
export type RunFeedEvent = z.infer<typeof runFeedEventSchema>;

/**
 * `event: end` (the last event of a stream that did not end by itself): why it ended. `code` is an
 * API error code (`share_link_revoked`, `share_link_expired`, `session_ended`, `token_rotated`,
 * `reader_behind`, …), `message` says it in words.
 */
export const streamEndSchema = z.object({ code: z.string(), message: z.string() });
export type StreamEnd = z.infer<typeof streamEndSchema>;
