/**
 * Reading the coordinator's SQLite rows with their types checked: every column through a reader
 * that throws on a wrong type, every JSON cell through its zod schema. A row written by an older
 * version of this code, or a corrupted one, fails loudly where it is read instead of travelling on
 * as a wrong shape (the driver's bounded retries then fail the run with the reason).
 */
import type { z } from 'zod';

export type Row = Record<string, SqlStorageValue>;

/** Turns one row into its typed shape (or throws saying which column is wrong). */
export type RowDecoder<T> = (row: Row) => T;

function wrong(name: string, expected: string, value: SqlStorageValue | undefined): never {
  const got = value === null ? 'null' : value === undefined ? 'missing' : typeof value;
  throw new Error(`coordinator storage: column ${name} should be ${expected}, is ${got}`);
}

export function int(row: Row, name: string): number {
  const v = row[name];
  if (typeof v !== 'number' || !Number.isInteger(v)) wrong(name, 'an integer', v);
  return v;
}

export function intOrNull(row: Row, name: string): number | null {
  return row[name] === null ? null : int(row, name);
}

export function realOrNull(row: Row, name: string): number | null {
  const v = row[name];
  if (v === null) return null;
  if (typeof v !== 'number') wrong(name, 'a number', v);
  return v;
}

export function text(row: Row, name: string): string {
  const v = row[name];
  if (typeof v !== 'string') wrong(name, 'text', v);
  return v;
}

export function textOrNull(row: Row, name: string): string | null {
  return row[name] === null ? null : text(row, name);
}

export function blob(row: Row, name: string): ArrayBuffer {
  const v = row[name];
  if (!(v instanceof ArrayBuffer)) wrong(name, 'a blob', v);
  return v;
}

export function blobOrNull(row: Row, name: string): ArrayBuffer | null {
  return row[name] === null ? null : blob(row, name);
}

/** A text column holding JSON, checked against `schema`. */
export function json<S extends z.ZodType>(row: Row, name: string, schema: S): z.output<S> {
  const parsed = schema.safeParse(JSON.parse(text(row, name)));
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(
      `coordinator storage: column ${name}: ${issue?.path.join('.') ?? ''} ${issue?.message ?? ''}`,
    );
  }
  return parsed.data;
}

/** One of `values`, or an error. */
export function oneOf<const V extends string>(row: Row, name: string, values: readonly V[]): V {
  const v = text(row, name);
  const found = values.find((x) => x === v);
  if (found === undefined) wrong(name, values.join(' | '), v);
  return found;
}

/** Every row of a query, decoded. */
export function all<T>(
  sql: SqlStorage,
  decode: RowDecoder<T>,
  query: string,
  ...bindings: SqlStorageValue[]
): T[] {
  return sql
    .exec(query, ...bindings)
    .toArray()
    .map(decode);
}

/** The first row of a query, decoded, or undefined when there is none. */
export function first<T>(
  sql: SqlStorage,
  decode: RowDecoder<T>,
  query: string,
  ...bindings: SqlStorageValue[]
): T | undefined {
  const row = sql.exec(query, ...bindings).toArray()[0];
  return row === undefined ? undefined : decode(row);
}
