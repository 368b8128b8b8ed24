/**
 * Where the population lies and what the next plan reads, as numbers (never genomes):
 * - `stored_slices`: each stored slice object of the current and the last finished generation, with
 *   the byte offsets of its members (the next generation's parents, what a fork copies).
 * - `objectives`: the last finished generation's objectives (a BLOB), what the next plan ranks.
 * - `plan`: each current-generation member's parent index (a BLOB of Int32) and the elite count.
 */
import { all, blob, first, int } from './rows';
import type { StoredSlice } from './types';

export interface StoredPlan {
  elites: number;
  parents: Int32Array;
}

export class PopulationIndex {
  constructor(private readonly sql: SqlStorage) {
    sql.exec(`
      CREATE TABLE IF NOT EXISTS stored_slices (gen INTEGER NOT NULL, slice_start INTEGER NOT NULL,
        slice_end INTEGER NOT NULL, offsets BLOB NOT NULL, PRIMARY KEY (gen, slice_start));
      CREATE TABLE IF NOT EXISTS plan (gen INTEGER PRIMARY KEY, elites INTEGER NOT NULL, parents BLOB NOT NULL);
      CREATE TABLE IF NOT EXISTS objectives (gen INTEGER PRIMARY KEY, packed BLOB NOT NULL);
    `);
  }

  /** Slice [start, end) of `gen` is stored; `offsets` locate its members (end − start + 1 numbers). */
  storeSlice(gen: number, start: number, end: number, offsets: readonly number[]): void {
    this.sql.exec(
      'INSERT OR REPLACE INTO stored_slices (gen, slice_start, slice_end, offsets) VALUES (?, ?, ?, ?)',
      gen,
      start,
      end,
      Uint32Array.from(offsets).buffer,
    );
  }

  /** Stored slices of `gen` with where their members lie, by start. */
  slices(gen: number): StoredSlice[] {
    return all(
      this.sql,
      (r) => ({
        start: int(r, 'slice_start'),
        end: int(r, 'slice_end'),
        offsets: Array.from(new Uint32Array(blob(r, 'offsets'))),
      }),
      'SELECT slice_start, slice_end, offsets FROM stored_slices WHERE gen = ? ORDER BY slice_start',
      gen,
    );
  }

  /** Forget the stored slices of generations before `gen` (their objects are garbage or kept). */
  dropSlicesBefore(gen: number): void {
    this.sql.exec('DELETE FROM stored_slices WHERE gen < ?', gen);
  }

  dropSlicesOf(gen: number): void {
    this.sql.exec('DELETE FROM stored_slices WHERE gen = ?', gen);
  }

  /** Generation `gen`'s objectives replace every older generation's. */
  putObjectives(gen: number, packed: Float64Array): void {
    this.sql.exec('INSERT OR REPLACE INTO objectives (gen, packed) VALUES (?, ?)', gen, packed.buffer);
    this.sql.exec('DELETE FROM objectives WHERE gen < ?', gen);
  }

  objectives(gen: number): Float64Array | null {
    const packed = first(
      this.sql,
      (r) => blob(r, 'packed'),
      'SELECT packed FROM objectives WHERE gen = ?',
      gen,
    );
    return packed ? new Float64Array(packed) : null;
  }

  putPlan(gen: number, elites: number, parents: Int32Array): void {
    this.sql.exec(
      'INSERT OR REPLACE INTO plan (gen, elites, parents) VALUES (?, ?, ?)',
      gen,
      elites,
      parents.buffer,
    );
  }

  plan(gen: number): StoredPlan | undefined {
    return first(
      this.sql,
      (r) => ({ elites: int(r, 'elites'), parents: new Int32Array(blob(r, 'parents')) }),
      'SELECT elites, parents FROM plan WHERE gen = ?',
      gen,
    );
  }

  /** Forget the plans of generations up to `gen` (every plan when omitted). */
  dropPlans(gen = Number.MAX_SAFE_INTEGER): void {
    this.sql.exec('DELETE FROM plan WHERE gen <= ?', gen);
  }
}
