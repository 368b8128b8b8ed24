import { describe, expect, it } from 'vitest';
import { MAX_TASK_MEMBERS, readSettings, sliceTaskBounds } from '../../workers/coordinator/settings';

const sizes = (bounds: readonly (readonly [number, number])[]) => bounds.map(([s, e]) => e - s);

/** Bounds cover [0, population) in order, without gaps or overlaps. */
function expectCover(bounds: readonly (readonly [number, number])[], population: number) {
  expect(bounds[0][0]).toBe(0);
  for (let i = 1; i < bounds.length; i++) expect(bounds[i][0]).toBe(bounds[i - 1][1]);
  expect(bounds.at(-1)?.[1]).toBe(population);
}

describe('how a generation is cut into slice tasks', () => {
  it('deployed (SLICE_TASKS_MAX 0, the default): slices of the run’s sliceSize', () => {
    const settings = readSettings({});
    expect(settings.sliceTasksMax).toBe(0);
    const bounds = sliceTaskBounds({ population: 960, sliceSize: 64 }, settings);
    expect(sizes(bounds)).toEqual(Array(15).fill(64));
    expectCover(bounds, 960);
  });

  it('npm start on 2 cores (8 at most): 4 large tasks, then 4 small ones over the last quarter', () => {
    const bounds = sliceTaskBounds(
      { population: 960, sliceSize: 64 },
      readSettings({ SLICE_TASKS_MAX: '8' }),
    );
    expect(sizes(bounds)).toEqual([180, 180, 180, 180, 60, 60, 60, 60]);
    expectCover(bounds, 960);
  });

  it('no fewer slices than allowed: one task per slice, as before (16 cores: 64 at most)', () => {
    const bounds = sliceTaskBounds(
      { population: 1000, sliceSize: 64 },
      readSettings({ SLICE_TASKS_MAX: '64' }),
    );
    expect(sizes(bounds)).toEqual([...Array(15).fill(64), 40]);
  });

  it('never more members than a task may carry', () => {
    const bounds = sliceTaskBounds(
      { population: 10_000, sliceSize: 40 },
      readSettings({ SLICE_TASKS_MAX: '8' }),
    );
    expect(Math.max(...sizes(bounds))).toBe(MAX_TASK_MEMBERS);
    expectCover(bounds, 10_000);
    expect(sizes(bounds).slice(-4)).toEqual([625, 625, 625, 625]);
  });

  it('one task at most: the whole generation in one', () => {
    expect(
      sliceTaskBounds({ population: 100, sliceSize: 10 }, readSettings({ SLICE_TASKS_MAX: '1' })),
    ).toEqual([[0, 100]]);
  });

  it('refuses a value that is no count', () => {
    expect(() => readSettings({ SLICE_TASKS_MAX: '-1' })).toThrow();
    expect(() => readSettings({ SLICE_TASKS_MAX: 'many' })).toThrow();
  });
});
