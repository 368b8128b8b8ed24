/**
 * The HTTP API's answers, defined once: zod schemas (to validate an answer where that is wanted:
 * tests, the CLI) and the TypeScript types inferred from them. The API's resource builders
 * (workers/api/*.ts) are typed with these, the pages (`import type` only: no zod in the page
 * bundles), the CLI and the tests read them from here.
 *
 * Also the one input rule for a run's identity (name, tags, notes), used by POST and PATCH
 * /api/runs and by forks.
 *
 * Fields added by later migrations (model `variant`/`training`, champion `chosenBy`) are optional
 * here, so an answer from before and after they land validates alike.
 */
import { z } from 'zod';
import { datasetManifestShape } from '../data/dataset';
import { STOP_REASONS } from '../wann/patience';
import { championSchema, generationRecordSchema } from '../wann/record';
import { MODEL_VARIANTS, RUN_STATUSES, SHARE_SCOPES, TRAINING_STATUSES } from './vocabulary';

export {
  type ChampionRecord,
  championSchema,
  type GenerationRecord,
  generationRecordSchema,
} from '../wann/record';

/**
 * The API's version, noted in the README. 2: runs carry `stats` with the figures named as in
 * src/api/figures.ts (`ensembleTestAccuracy`, `trainedTestAccuracy`, `checkTestAccuracy`; the
 * version 1 names stay as deprecated aliases); the generations CSV names the generation's best
 * genome `generationBest*`, counts hidden nodes (`meanHiddenNodes`) and has the champion's own
 * figures (src/wann/record.ts `GENERATION_CSV_COLUMNS`). The JSON and SSE records are unchanged.
 */
export const API_VERSION = 2;

const int = z.number().int();
const isoTime = z.string();

export const runStatusSchema = z.enum(RUN_STATUSES);
export type { RunStatus } from './vocabulary';

// ------------------------------------------------------------------------------------------------
// Run identity (input and output)

export const RUN_NAME_MAX = 100;
export const RUN_TAGS_MAX = 16;
export const RUN_TAG_MAX = 32;
export const RUN_NOTES_MAX = 4000;
/** A tag after lowercasing and trimming. */
export const RUN_TAG_PATTERN = /^[a-z0-9._-]{1,32}$/;

const tagSchema = z
  .string()
  .transform((t) => t.trim().toLowerCase())
  .pipe(
    z
      .string()
      .min(1, 'a tag must not be empty')
      .max(RUN_TAG_MAX, `a tag has at most ${RUN_TAG_MAX} characters`)
      .regex(RUN_TAG_PATTERN, 'a tag may use only a-z, 0-9, dot, underscore and hyphen'),
  );

/**
 * `name`, `tags`, `notes` as a client sends them (each optional). Names are trimmed, tags
 * lowercased, trimmed and de-duplicated (first occurrence kept).
 */
export const runIdentityInputSchema = z.strictObject({
  name: z.string().trim().max(RUN_NAME_MAX, `at most ${RUN_NAME_MAX} characters`).optional(),
  tags: z
    .array(tagSchema)
    .max(RUN_TAGS_MAX, `at most ${RUN_TAGS_MAX} tags`)
    .transform((tags) => [...new Set(tags)])
    .optional(),
  notes: z.string().max(RUN_NOTES_MAX, `at most ${RUN_NOTES_MAX} characters`).optional(),
});
export type RunIdentityInput = z.input<typeof runIdentityInputSchema>;
export type RunIdentityEdit = z.output<typeof runIdentityInputSchema>;
/** The keys of a run's identity, top level in `POST /api/runs` beside the config's. */
export const RUN_IDENTITY_KEYS = ['name', 'tags', 'notes'] as const;

export const runIdentitySchema = z.object({
  name: z.string(),
  tags: z.array(z.string()),
  notes: z.string(),
});
export type RunIdentity = z.infer<typeof runIdentitySchema>;

// ------------------------------------------------------------------------------------------------
// Runs

/**
 * The resolved search config as recorded (older runs lack fields added since, so unknown and
 * missing fields beyond these are tolerated), plus `forkOf` for forks.
 */
export const runConfigResourceSchema = z.looseObject({
  seed: int,
  population: int,
  generations: int,
  weights: z.array(z.number()),
  forkOf: z.object({ runId: z.string(), generation: int }).optional(),
});

/** The run's champion; `index` is null for runs recorded before champions had one. */
export const runChampionSchema = z.object({
  fitness: z.number(),
  generation: int,
  index: int.nullable(),
  connections: int,
  accuracy: z.array(z.number()),
  /** How the champion was picked (absent before champion re-checks existed). */
  chosenBy: z.enum(['batch', 'recheck']).optional(),
  /** Mean fitness over the re-check batches; null if never re-checked. */
  recheckedFitness: z.number().nullable().optional(),
});

export const shareAccessSchema = z.object({
  kind: z.literal('share'),
  scope: z.enum(SHARE_SCOPES),
  expiresAt: isoTime,
});

/**
 * A run's test figures (src/api/figures.ts defines each: what it is measured on, its label, how it
 * is derived) and its published version count. On `GET /api/runs` entries and `GET /api/runs/:id`.
 */
export const runStatsSchema = z.object({
  /** The best published shared-weight version's ensemble accuracy on the full test set. */
  ensembleTestAccuracy: z.number().nullable(),
  /** The best published trained (per-connection weights) version's accuracy on the full test set. */
  trainedTestAccuracy: z.number().nullable(),
  /** The champion's latest re-check: ensemble accuracy on the fixed 1,000-example test subset. */
  checkTestAccuracy: z.number().nullable(),
  /** Deprecated (API version 1's name): `ensembleTestAccuracy`. */
  bestModelTestAccuracy: z.number().nullable(),
  /** Deprecated (API version 1's name): `checkTestAccuracy`. */
  latestCheckTestAccuracy: z.number().nullable(),
  /** Published model versions (shared and trained). */
  models: int,
});
export type RunStats = z.infer<typeof runStatsSchema>;

export const runResourceSchema = z.object({
  id: z.string(),
  status: runStatusSchema,
  ...runIdentitySchema.shape,
  config: runConfigResourceSchema,
  /** Generations completed so far. */
  generation: int,
  /** The generation budget. */
  generations: int,
  bestFitness: z.number().nullable(),
  champion: runChampionSchema.nullable(),
  error: z.string().nullable(),
  /**
   * Present only on a run that patience ended before its budget (src/wann/patience.ts): status
   * 'completed', after generation `generation` with no new champion for `patience` generations.
   */
  stop: z.strictObject({ reason: z.enum(STOP_REASONS), generation: int, patience: int }).optional(),
  forkOf: z.object({ runId: z.string(), generation: int }).nullable(),
  timings: z.object({
    createdAt: isoTime,
    startedAt: isoTime.nullable(),
    updatedAt: isoTime,
    finishedAt: isoTime.nullable(),
    elapsedMs: z.number().nullable(),
  }),
  urls: z.object({
    self: z.string(),
    events: z.string(),
    generations: z.string(),
    champion: z.string(),
    page: z.string(),
    /** Owner actions: present for the owner only. */
    cancel: z.string().optional(),
    fork: z.string().optional(),
  }),
  /** Present on answers read through a share link. */
  access: shareAccessSchema.optional(),
  /** The run's test figures: on `GET /api/runs/:id` and list entries (not on write answers). */
  stats: runStatsSchema.optional(),
});
export type RunResource = z.infer<typeof runResourceSchema>;
export type RunChampion = z.infer<typeof runChampionSchema>;

export const runListEntrySchema = runResourceSchema.extend({ stats: runStatsSchema });
export type RunListEntry = z.infer<typeof runListEntrySchema>;

/** Most runs one page of `GET /api/runs` answers (`limit`). */
export const RUN_LIST_MAX_LIMIT = 100;
export const RUN_LIST_DEFAULT_LIMIT = 20;

export const runListSchema = z.object({
  runs: z.array(runListEntrySchema),
  /** The next page, or null. */
  next: z.string().nullable(),
});
export type RunList = z.infer<typeof runListSchema>;

export const generationsPageSchema = z.object({
  runId: z.string(),
  generations: z.array(generationRecordSchema),
  next: z.string().nullable(),
});
export type GenerationsPage = z.infer<typeof generationsPageSchema>;

/** The `status` event of a run's event stream. */
export const runStatusEventSchema = z.object({
  runId: z.string(),
  status: runStatusSchema,
  generation: int,
  generations: int,
  bestEverFitness: z.number().nullable(),
  champion: championSchema.nullable(),
  error: z.string().nullable(),
});
export type RunStatusEvent = z.infer<typeof runStatusEventSchema>;

// ------------------------------------------------------------------------------------------------
// Published models

export const modelTrainingSchema = z.object({
  status: z.enum(TRAINING_STATUSES),
  step: int,
  steps: int,
  loss: z.number().nullable(),
  /** The trained model version, once done. */
  version: int.nullable(),
  error: z.string().nullable(),
});

export const modelResourceSchema = z.object({
  version: int,
  generation: int,
  createdAt: isoTime,
  /** Shared weights the accuracies refer to (empty for a trained version). */
  weights: z.array(z.number()),
  /** Test-set (10,000 images) accuracy at each shared weight (one entry for a trained version). */
  testAccuracy: z.array(z.number()),
  meanTestAccuracy: z.number(),
  ensembleTestAccuracy: z.number(),
  tunedWeight: z.number(),
  tunedTestAccuracy: z.number(),
  connections: int,
  hiddenNodes: int,
  /** `shared`: the searched network at shared weights; `trained`: per-connection trained weights. */
  variant: z.enum(MODEL_VARIANTS).optional(),
  /** For a trained version: the shared-weight version it was trained from. */
  trainedFrom: int.nullable().optional(),
  /** Progress of training weights from this (shared) version. */
  training: modelTrainingSchema.nullable().optional(),
  urls: z.object({ onnx: z.string(), genome: z.string(), infer: z.string().optional() }),
});
export type ModelResource = z.infer<typeof modelResourceSchema>;

export const modelListSchema = z.object({ runId: z.string(), models: z.array(modelResourceSchema) });
export type ModelList = z.infer<typeof modelListSchema>;

// ------------------------------------------------------------------------------------------------
// Share links

export const shareLinkResourceSchema = z.object({
  id: z.string(),
  runId: z.string(),
  scope: z.enum(SHARE_SCOPES),
  status: z.enum(['active', 'expired', 'revoked']),
  createdAt: isoTime,
  expiresAt: isoTime,
  revokedAt: isoTime.nullable(),
});
export type ShareLinkResource = z.infer<typeof shareLinkResourceSchema>;

/** The answer to creating a link: the only time its URL and token are shown. */
export const createdShareLinkSchema = shareLinkResourceSchema.extend({ url: z.string(), token: z.string() });
export type CreatedShareLink = z.infer<typeof createdShareLinkSchema>;

export const shareLinkListSchema = z.object({ runId: z.string(), links: z.array(shareLinkResourceSchema) });
export type ShareLinkList = z.infer<typeof shareLinkListSchema>;

/** `GET /api/share-links`: every link of every run, newest first. */
export const allShareLinksSchema = z.object({ links: z.array(shareLinkResourceSchema) });
export type AllShareLinks = z.infer<typeof allShareLinksSchema>;

/** `DELETE /api/share-links`: how many links were still unrevoked and are revoked now. */
export const revokedShareLinksSchema = z.object({ revoked: z.number().int().nonnegative() });
export type RevokedShareLinks = z.infer<typeof revokedShareLinksSchema>;

// ------------------------------------------------------------------------------------------------
// Datasets (GET /api/datasets, /api/datasets/:name, /api/runs/:id/dataset)

/**
 * The softmax-regression baseline of a dataset (one layer, features × classes weights, trained by
 * Adam on the training split only; its epoch count chosen on a validation split carved from
 * training data): computed once per dataset as queued work and cached. `testAccuracy` is reported
 * once, beside the WANN's figures; it chooses nothing.
 */
export const datasetBaselineSchema = z.object({
  status: z.enum(['queued', 'running', 'ready', 'failed']),
  /** Training epochs over the training split. */
  epochs: int,
  /** Trained weights and biases: features × classes + classes. */
  weights: int,
  validationAccuracy: z.number().nullable(),
  testAccuracy: z.number().nullable(),
  error: z.string().nullable(),
});
export type DatasetBaseline = z.infer<typeof datasetBaselineSchema>;

/** A dataset's manifest (src/data/dataset.ts) and the input shapes a model of it takes. */
export const datasetResourceSchema = z.object({
  ...datasetManifestShape,
  /** What a `/v2` client sends per row: [-1, 784] for 28×28 images. */
  inputShape: z.array(int),
  /** What the network sees per row after preprocessing: [-1, 256] for 16×16. */
  preprocessedInputShape: z.array(int),
  /** The dataset's baseline; absent where the server does not compute one. */
  baseline: datasetBaselineSchema.nullable().optional(),
});
export type DatasetResource = z.infer<typeof datasetResourceSchema>;

/**
 * An uploaded dataset (POST /api/datasets): its id, name and build state; `dataset` is its
 * resource once the shards are built (status 'ready'), `error` the reason when 'failed'.
 */
export const uploadedDatasetSchema = z.object({
  id: z.string(),
  name: z.string(),
  /** 'pending': a multi-file upload waiting for its files and `POST /api/datasets/:id/build`. */
  status: z.enum(['pending', 'uploaded', 'building', 'ready', 'failed']),
  /** Build progress in [0, 1]. */
  progress: z.number(),
  error: z.string().nullable(),
  bytes: int,
  sourceHash: z.string(),
  createdAt: z.string(),
  updatedAt: z.string(),
  dataset: datasetResourceSchema.nullable(),
  /** A multi-file upload (idx, or CSV with a test table): its format and each expected file. */
  format: z.enum(['csv', 'idx']).optional(),
  files: z.array(z.object({ role: z.string(), uploaded: z.boolean() })).optional(),
});
export type UploadedDataset = z.infer<typeof uploadedDatasetSchema>;

/** `datasets`: every dataset a run can search on (loaded built-ins, built uploads); `uploads`: every upload. */
export const datasetListSchema = z.object({
  datasets: z.array(datasetResourceSchema),
  /** Every upload, in any state (absent before uploads existed). */
  uploads: z.array(uploadedDatasetSchema).optional(),
});
export type DatasetList = z.infer<typeof datasetListSchema>;

/**
 * `GET /api/datasets/:name/samples`: what the datasets page draws. Class counts per split (the
 * balance chart) and a few rows of the training split, raw as a client would send them (pixels
 * 0–255 row-major for images, feature values for tables).
 */
export const datasetSamplesSchema = z.object({
  name: z.string(),
  classCounts: z.object({ train: z.array(int), test: z.array(int) }),
  samples: z.array(z.object({ label: z.string(), values: z.array(z.number()) })),
  /**
   * One sample's shape: [height, width] for images, [features] for tables. Absent from servers
   * before it was added.
   */
  sampleShape: z.array(int).optional(),
  /**
   * 'raw': the values a client sends (a table's feature values, un-standardised); 'preprocessed':
   * what the shards keep, where they keep no raw rows (images after resizing, and deskewing where
   * the dataset does, as 0–255 pixels at `sampleShape`).
   */
  sampleValues: z.enum(['raw', 'preprocessed']).optional(),
});
export type DatasetSamples = z.infer<typeof datasetSamplesSchema>;

// ------------------------------------------------------------------------------------------------
// Errors

/** Every `/api` error: `{"error": {"code", "message"}}`. */
export const apiErrorSchema = z.object({ error: z.object({ code: z.string(), message: z.string() }) });
export type ApiErrorBody = z.infer<typeof apiErrorSchema>;

/** Open Inference Protocol (`/v2`) errors: `{"error": "…"}`. */
export const v2ErrorSchema = z.object({ error: z.string() });
export type V2ErrorBody = z.infer<typeof v2ErrorSchema>;

/** A genome as JSON (`wann-genome/1`: champion and published-genome downloads). */
export type { GenomeJson } from '../wann/genome';
