import { describe, expect, it } from 'vitest';
import { MAX_TASK_MEMBERS, membersPerTask, readSettings } from '../../workers/coordinator/settings';

const tasks = (population: number, members: number) => Math.ceil(population / members);

describe('members per slice task', () => {
  it('deployed (SLICE_TASKS_MAX 0, the default): the run’s sliceSize', () => {
    const settings = readSettings({});
    expect(settings.sliceTasksMax).toBe(0);
    expect(membersPerTask({ population: 960, sliceSize: 64 }, settings)).toBe(64);
  });

  it('npm start on 2 cores (8 at most): the reference population in 8 even tasks', () => {
    const members = membersPerTask(
      { population: 960, sliceSize: 64 },
      readSettings({ SLICE_TASKS_MAX: '8' }),
    );
    expect(members).toBe(120);
    expect(tasks(960, members)).toBe(8);
  });

  it('never fewer members than sliceSize: with many evaluators, one task per slice as before', () => {
    // 16 cores: 64 tasks at most; 960 / 64 is 15 slices already.
    expect(membersPerTask({ population: 960, sliceSize: 64 }, readSettings({ SLICE_TASKS_MAX: '64' }))).toBe(
      64,
    );
  });

  it('never more members than a task may carry', () => {
    const members = membersPerTask(
      { population: 10_000, sliceSize: 40 },
      readSettings({ SLICE_TASKS_MAX: '8' }),
    );
    expect(members).toBe(MAX_TASK_MEMBERS);
    expect(tasks(10_000, members)).toBe(10);
  });

  it('refuses a value that is no count', () => {
    expect(() => readSettings({ SLICE_TASKS_MAX: '-1' })).toThrow();
    expect(() => readSettings({ SLICE_TASKS_MAX: 'many' })).toThrow();
  });
});
