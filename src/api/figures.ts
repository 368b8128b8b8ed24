/**
 * The test figures a run has, defined once: what each is measured on, its name in the API, the
 * label every view prints, and how it is derived from the run's models and generation records.
 * The API's `stats` (workers/api/runs.ts), the pages and the CLI all read them from here, so a
 * number called "ensemble" is the same number on every screen.
 *
 * - `ensembleTestAccuracy`: the best published *shared-weight* version's ensemble accuracy (the
 *   majority vote of the shared weights) on the full test set. A trained version has no ensemble.
 * - `trainedTestAccuracy`: the best published *trained* version (per-connection weights) on the
 *   full test set.
 * - `checkTestAccuracy`: the champion's ensemble accuracy on a fixed test subset (test shard 0,
 *   1,000 examples), measured at its latest re-check. A training-time check, not a model's figure.
 * - `meanTestAccuracy` (per shared-weight version only): the mean over the shared weights of the
 *   version's accuracy at each, on the full test set.
 *
 * Type-only imports: the pages bundle this file without zod.
 */
import type { GenerationRecord, ModelResource, RunStats } from './types';

/** The figures a run has, by their API field name. */
export const RUN_FIGURES = {
  ensembleTestAccuracy: {
    label: 'Best ensemble, full test set',
    short: 'ensemble',
    help: 'The best published shared-weight version: the majority vote of its shared weights, on the full test set.',
  },
  trainedTestAccuracy: {
    label: 'Best trained weights, full test set',
    short: 'trained',
    help: 'The best published version with trained per-connection weights, on the full test set.',
  },
  checkTestAccuracy: {
    label: 'Latest re-check, test subset',
    short: 'check',
    help: "The champion's majority vote of the shared weights on a fixed test subset (the first test shard: 1,000 examples for MNIST, fewer for a small dataset), at its latest re-check (a check during the search, not a published model).",
  },
  meanTestAccuracy: {
    label: 'Mean over shared weights, full test set',
    short: 'mean',
    help: "A shared-weight version's accuracy at each shared weight, averaged, on the full test set.",
  },
} as const;

export type RunFigureName = keyof typeof RUN_FIGURES;

/** The three figures a run as a whole has (the per-version mean is not one of them). */
export const RUN_TEST_FIGURES = ['ensembleTestAccuracy', 'trainedTestAccuracy', 'checkTestAccuracy'] as const;
export type RunTestFigure = (typeof RUN_TEST_FIGURES)[number];

/** What a figure is read from: a model version as the API lists it. */
export type ModelFigureSource = Pick<
  ModelResource,
  'version' | 'variant' | 'testAccuracy' | 'ensembleTestAccuracy'
> &
  Partial<Pick<ModelResource, 'meanTestAccuracy'>>;

/** A version without `variant` was published before trained versions existed: shared weights. */
export function isSharedVersion(m: Pick<ModelResource, 'variant'>): boolean {
  return (m.variant ?? 'shared') === 'shared';
}

/** A version's ensemble figure; null for a trained version (one set of weights: no ensemble). */
export function versionEnsembleAccuracy(m: ModelFigureSource): number | null {
  return isSharedVersion(m) ? m.ensembleTestAccuracy : null;
}

/** A version's mean over its shared weights; null for a trained version. */
export function versionMeanAccuracy(m: ModelFigureSource): number | null {
  return isSharedVersion(m) ? (m.meanTestAccuracy ?? null) : null;
}

/** A trained version's accuracy (its one entry); null for a shared-weight version. */
export function versionTrainedAccuracy(m: ModelFigureSource): number | null {
  return isSharedVersion(m) ? null : (m.testAccuracy[0] ?? null);
}

/** A figure with the version it comes from. */
export interface VersionFigure {
  value: number;
  version: number;
}

/** A re-check figure with the generation it was measured at (null: not known to the reader). */
export interface CheckFigure {
  value: number;
  generation: number | null;
}

/** The run's figures, each with where it comes from; null where there is none yet. */
export interface RunFigures {
  ensembleTestAccuracy: VersionFigure | null;
  trainedTestAccuracy: VersionFigure | null;
  checkTestAccuracy: CheckFigure | null;
}

function bestBy(
  models: readonly ModelFigureSource[],
  figure: (m: ModelFigureSource) => number | null,
): VersionFigure | null {
  let best: VersionFigure | null = null;
  for (const m of models) {
    const value = figure(m);
    // The earlier version wins a tie (in any list order): the first version that reached it.
    if (
      value !== null &&
      Number.isFinite(value) &&
      (!best || value > best.value || (value === best.value && m.version < best.version))
    )
      best = { value, version: m.version };
  }
  return best;
}

/** The best published shared-weight version's ensemble accuracy. */
export function bestEnsembleFigure(models: readonly ModelFigureSource[]): VersionFigure | null {
  return bestBy(models, versionEnsembleAccuracy);
}

/** The best published trained version's accuracy. */
export function bestTrainedFigure(models: readonly ModelFigureSource[]): VersionFigure | null {
  return bestBy(models, versionTrainedAccuracy);
}

/** The latest re-check's test-subset accuracy among generation records (any order). */
export function latestCheckFigure(
  records: readonly Pick<GenerationRecord, 'gen' | 'testAccuracy'>[],
): CheckFigure | null {
  let latest: CheckFigure | null = null;
  for (const r of records) {
    if (typeof r.testAccuracy === 'number' && (!latest || r.gen > (latest.generation ?? -1)))
      latest = { value: r.testAccuracy, generation: r.gen };
  }
  return latest;
}

/** Every figure of a run from its published versions and its generation records. */
export function runFigures(
  models: readonly ModelFigureSource[],
  records: readonly Pick<GenerationRecord, 'gen' | 'testAccuracy'>[],
): RunFigures {
  return {
    ensembleTestAccuracy: bestEnsembleFigure(models),
    trainedTestAccuracy: bestTrainedFigure(models),
    checkTestAccuracy: latestCheckFigure(records),
  };
}

/**
 * The one test figure a single table cell shows for a run: the ensemble when a shared-weight
 * version is published, else the latest re-check; null if neither exists. A trained version's
 * figure is never shown under another's name.
 */
export function headlineTestFigure(
  stats: Pick<RunStats, 'ensembleTestAccuracy' | 'checkTestAccuracy'>,
): { figure: RunTestFigure; value: number } | null {
  if (stats.ensembleTestAccuracy !== null)
    return { figure: 'ensembleTestAccuracy', value: stats.ensembleTestAccuracy };
  if (stats.checkTestAccuracy !== null)
    return { figure: 'checkTestAccuracy', value: stats.checkTestAccuracy };
  return null;
}

/** A fraction as the views print it: "81.0%" (null and non-finite: "–"). */
export function formatAccuracy(v: number | null | undefined): string {
  return typeof v === 'number' && Number.isFinite(v) ? `${(v * 100).toFixed(1)}%` : '–';
}

/** One line naming every figure a run has, e.g. "ensemble 69.0% (v1) · trained 81.0% (v2) · check 66.5% (gen 40)". */
export function describeRunFigures(f: RunFigures): string {
  const parts: string[] = [];
  if (f.ensembleTestAccuracy)
    parts.push(
      `${RUN_FIGURES.ensembleTestAccuracy.short} ${formatAccuracy(f.ensembleTestAccuracy.value)} (v${f.ensembleTestAccuracy.version})`,
    );
  if (f.trainedTestAccuracy)
    parts.push(
      `${RUN_FIGURES.trainedTestAccuracy.short} ${formatAccuracy(f.trainedTestAccuracy.value)} (v${f.trainedTestAccuracy.version})`,
    );
  if (f.checkTestAccuracy)
    parts.push(
      `${RUN_FIGURES.checkTestAccuracy.short} ${formatAccuracy(f.checkTestAccuracy.value)}${f.checkTestAccuracy.generation === null ? '' : ` (gen ${f.checkTestAccuracy.generation})`}`,
    );
  return parts.length ? parts.join(' · ') : 'no test figures yet';
}

/** The published versions in one line: "v1 shared, v2 trained from v1". */
export function describeVersions(
  models: readonly (Pick<ModelResource, 'version' | 'variant'> &
    Partial<Pick<ModelResource, 'trainedFrom'>>)[],
): string {
  if (!models.length) return 'none published';
  return [...models]
    .sort((a, b) => a.version - b.version)
    .map((m) =>
      isSharedVersion(m)
        ? `v${m.version} shared`
        : `v${m.version} trained${m.trainedFrom != null ? ` from v${m.trainedFrom}` : ''}`,
    )
    .join(', ');
}
