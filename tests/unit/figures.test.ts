/**
 * A run's test figures have one definition (src/api/figures.ts): a trained version is never the
 * ensemble figure, the re-check is the latest one (not the best), and the single cell of a runs
 * table names which figure it shows.
 */
import { describe, expect, it } from 'vitest';
import {
  bestEnsembleFigure,
  bestTrainedFigure,
  describeRunFigures,
  describeVersions,
  formatAccuracy,
  headlineTestFigure,
  latestCheckFigure,
  RUN_FIGURES,
  RUN_TEST_FIGURES,
  runFigures,
  versionEnsembleAccuracy,
  versionMeanAccuracy,
  versionTrainedAccuracy,
} from '../../src/api/figures';
import { runStatsSchema } from '../../src/api/types';

/** A version as the API lists it: a trained one's ensemble column holds its one accuracy. */
const version = (
  v: number,
  variant: 'shared' | 'trained' | undefined,
  accuracy: number,
  mean = accuracy - 0.05,
) => ({
  version: v,
  variant,
  trainedFrom: variant === 'trained' ? 1 : null,
  testAccuracy: variant === 'trained' ? [accuracy] : [mean - 0.01, mean + 0.01],
  meanTestAccuracy: variant === 'trained' ? accuracy : mean,
  ensembleTestAccuracy: accuracy,
});

// The fork of the issue: v1 shared at 69.0 %, v2 trained from it at 81.0 %.
const fork = [version(1, 'shared', 0.69), version(2, 'trained', 0.81)];

describe('version figures', () => {
  it('a trained version has no ensemble and no mean over weights; a shared one no trained figure', () => {
    const [shared, trained] = fork;
    expect(versionEnsembleAccuracy(shared)).toBe(0.69);
    expect(versionEnsembleAccuracy(trained)).toBeNull();
    expect(versionMeanAccuracy(shared)).toBeCloseTo(0.64);
    expect(versionMeanAccuracy(trained)).toBeNull();
    expect(versionTrainedAccuracy(trained)).toBe(0.81);
    expect(versionTrainedAccuracy(shared)).toBeNull();
  });

  it('a version from before variants existed is a shared-weight one', () => {
    expect(versionEnsembleAccuracy(version(1, undefined, 0.5))).toBe(0.5);
  });
});

describe('run figures', () => {
  it("'best ensemble' comes from shared-weight versions only, 'best trained' from trained ones", () => {
    expect(bestEnsembleFigure(fork)).toEqual({ value: 0.69, version: 1 });
    expect(bestTrainedFigure(fork)).toEqual({ value: 0.81, version: 2 });
    expect(bestEnsembleFigure([version(2, 'trained', 0.9)])).toBeNull();
    // A tie names the first version that reached it, in any list order; a later better one wins.
    expect(bestEnsembleFigure([version(3, 'shared', 0.7), version(1, 'shared', 0.7)])).toEqual({
      value: 0.7,
      version: 1,
    });
    expect(bestEnsembleFigure([version(1, 'shared', 0.6), version(4, 'shared', 0.72)])?.version).toBe(4);
  });

  it('the re-check figure is the latest re-check, not the best one', () => {
    const records = [
      { gen: 8, testAccuracy: 0.665 },
      { gen: 16, testAccuracy: 0.62 },
      { gen: 17, testAccuracy: null },
    ];
    expect(latestCheckFigure(records)).toEqual({ value: 0.62, generation: 16 });
    expect(latestCheckFigure([...records].reverse())).toEqual({ value: 0.62, generation: 16 });
    expect(latestCheckFigure([{ gen: 3, testAccuracy: null }])).toBeNull();
  });

  it('gathers the three and says them in one line, each under its name', () => {
    const f = runFigures(fork, [{ gen: 40, testAccuracy: 0.665 }]);
    expect(describeRunFigures(f)).toBe('ensemble 69.0% (v1) · trained 81.0% (v2) · check 66.5% (gen 40)');
    expect(describeRunFigures(runFigures([], []))).toBe('no test figures yet');
    expect(describeVersions(fork)).toBe('v1 shared, v2 trained from v1');
    expect(describeVersions([])).toBe('none published');
  });

  it("a table's single cell shows the ensemble, else the re-check, never the trained figure", () => {
    const stats = { ensembleTestAccuracy: 0.69, trainedTestAccuracy: 0.81, checkTestAccuracy: 0.665 };
    expect(headlineTestFigure(stats)).toEqual({ figure: 'ensembleTestAccuracy', value: 0.69 });
    expect(headlineTestFigure({ ...stats, ensembleTestAccuracy: null })).toEqual({
      figure: 'checkTestAccuracy',
      value: 0.665,
    });
    expect(headlineTestFigure({ ensembleTestAccuracy: null, checkTestAccuracy: null })).toBeNull();
  });

  it('every figure of a run is a field of the API stats, with a label of its own', () => {
    for (const name of RUN_TEST_FIGURES) expect(Object.keys(runStatsSchema.shape)).toContain(name);
    const labels = Object.values(RUN_FIGURES).map((f) => f.label);
    const shorts = Object.values(RUN_FIGURES).map((f) => f.short);
    expect(new Set(labels).size).toBe(labels.length);
    expect(new Set(shorts).size).toBe(shorts.length);
    expect(formatAccuracy(0.8104)).toBe('81.0%');
    expect(formatAccuracy(null)).toBe('–');
  });
});
