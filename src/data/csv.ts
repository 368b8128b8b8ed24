/**
 * CSV uploads: a streaming RFC 4180 reader and a labelled numeric table on top of it.
 *
 * Text arrives in chunks of any size (an upload streams; decode bytes with `TextDecoderStream` or
 * `TextDecoder(…, { stream: true })` first) and rows come out as soon as they are complete, so
 * nothing holds a whole file. Our own reader rather than a library: the parsers that run in
 * workerd and browsers without Node streams (papaparse, csv-parse's browser build) are not in this
 * project's dependencies, and neither reports errors by data row and column name, which the upload
 * API must (RFC 4180 is a small state machine).
 *
 * The dialect (RFC 4180 plus the usual leniencies):
 * - fields separated by `,`; records end with CRLF, LF or a lone CR; the last record needs no
 *   line end; a UTF-8 byte order mark before the header is dropped;
 * - a field that starts with `"` is quoted: it runs to the next lone `"`, `""` inside stands for one
 *   `"`, and commas and line ends inside are data; after the closing quote only a separator or a
 *   line end may follow;
 * - a `"` inside an unquoted field is an error (RFC 4180 forbids it; guessing hides broken quoting);
 * - empty lines (no characters at all) are skipped wherever they are, and are not data rows.
 *
 * Rows are numbered as a person reads the file: data row 1 is the first record after the header;
 * errors also give the line the record starts on (they differ when quoted fields hold line ends).
 */

import { formatCount, UPLOAD_LIMITS } from './limits';

/** A problem with the uploaded text, meant to be shown to the person who uploaded it (HTTP 400). */
export class CsvFormatError extends Error {
  override name = 'CsvFormatError';
}

const COMMA = 44;
const QUOTE = 34;
const CR = 13;
const LF = 10;

/** The reader's states. */
const State = {
  /** At the start of a field (after a separator or a line end, or at the very start). */
  FieldStart: 0,
  /** Inside an unquoted field. */
  Unquoted: 1,
  /** Inside a quoted field. */
  Quoted: 2,
  /** Just read a `"` inside a quoted field: the end of the field, or the first half of `""`. */
  QuoteInQuoted: 3,
  /** Just read a CR ending a record: an LF right after belongs to it. */
  AfterCr: 4,
} as const;
type State = (typeof State)[keyof typeof State];

/** Called once per record with its fields and the 1-based line it starts on. */
export type CsvRecordSink = (fields: string[], line: number) => void;

/**
 * RFC 4180 records from text chunks. `push` as text arrives, `end` once; every complete record is
 * handed to `sink` as soon as its line end is read. Chunk boundaries may fall anywhere (inside a
 * quoted field, between CR and LF, between the two quotes of `""`).
 */
export class CsvRecordReader {
  private state: State = State.FieldStart;
  private fields: string[] = [];
  /** The current field's text read from earlier chunks (a field can span chunks). */
  private carry = '';
  private line = 1;
  private recordLine = 1;
  private started = false;
  private ended = false;
  /** Whether the last character read inside a quoted field was a CR (for CRLF across chunks). */
  private crPending = false;

  constructor(private readonly sink: CsvRecordSink) {}

  push(chunk: string): void {
    if (this.ended) throw new Error('CsvRecordReader: push after end');
    let i = 0;
    if (!this.started && chunk.length > 0) {
      this.started = true;
      if (chunk.charCodeAt(0) === 0xfeff) i = 1;
    }
    const n = chunk.length;
    // Start of the current field's text in this chunk (for slicing), −1 when not inside one.
    let from = this.state === State.Unquoted || this.state === State.Quoted ? 0 : -1;
    while (i < n) {
      const c = chunk.charCodeAt(i);
      switch (this.state) {
        case State.AfterCr:
          this.state = State.FieldStart;
          if (c === LF) {
            i++;
            continue;
          }
          break; // a lone CR ended the record; read c again as the start of the next
        case State.FieldStart:
          if (c === QUOTE) {
            this.state = State.Quoted;
            from = i + 1;
          } else if (c === COMMA) {
            this.fields.push('');
          } else if (c === LF || c === CR) {
            // After a separator the line end closes a last, empty field ("a,b,").
            if (this.fields.length > 0) this.fields.push('');
            this.endRecord(c);
          } else {
            this.state = State.Unquoted;
            from = i;
          }
          i++;
          continue;
        case State.Unquoted: {
          // Scan to the end of the field in one go: most fields are short numbers.
          let j = i;
          let d = c;
          while (d !== COMMA && d !== LF && d !== CR && d !== QUOTE) {
            if (++j === n) break;
            d = chunk.charCodeAt(j);
          }
          if (j === n) {
            i = n;
            continue;
          }
          if (d === QUOTE) {
            throw this.error(
              `a quote (") inside an unquoted field; quote the whole field and double the quote`,
            );
          }
          this.fields.push(this.carry + chunk.slice(from, j));
          this.carry = '';
          from = -1;
          if (d === COMMA) this.state = State.FieldStart;
          else this.endRecord(d);
          i = j + 1;
          continue;
        }
        case State.Quoted: {
          const q = chunk.indexOf('"', i);
          const j = q < 0 ? n : q;
          for (let k = i; k < j; k++) {
            const e = chunk.charCodeAt(k);
            // Line ends inside quotes are data, but they still move the line count on.
            if (e === LF) {
              if (k === 0 ? !this.crPending : chunk.charCodeAt(k - 1) !== CR) this.line++;
            } else if (e === CR) this.line++;
          }
          this.crPending = j > 0 ? chunk.charCodeAt(j - 1) === CR : this.crPending;
          if (q < 0) {
            i = n;
            continue;
          }
          this.carry += chunk.slice(from, q);
          from = -1;
          this.state = State.QuoteInQuoted;
          i = q + 1;
          continue;
        }
        case State.QuoteInQuoted:
          if (c === QUOTE) {
            this.carry += '"';
            this.state = State.Quoted;
            from = i + 1;
          } else if (c === COMMA) {
            this.fields.push(this.carry);
            this.carry = '';
            this.state = State.FieldStart;
          } else if (c === LF || c === CR) {
            this.fields.push(this.carry);
            this.carry = '';
            this.endRecord(c);
          } else {
            throw this.error(
              'text after the closing quote of a quoted field; a separator or line end must follow it',
            );
          }
          i++;
          continue;
      }
    }
    // Keep the unfinished field's text of this chunk for the next one.
    if (from >= 0 && (this.state === State.Unquoted || this.state === State.Quoted)) {
      this.carry += chunk.slice(from);
    }
    if (n > 0 && this.state !== State.Quoted) this.crPending = false;
  }

  /** Ends the input: a last record without a line end is handed over; an open quote is an error. */
  end(): void {
    if (this.ended) return;
    this.ended = true;
    switch (this.state) {
      case State.Quoted:
        throw new CsvFormatError(
          `a quoted field opened on line ${this.recordLine} is never closed (the file ends inside quotes)`,
        );
      case State.QuoteInQuoted:
      case State.Unquoted:
        this.fields.push(this.carry);
        this.carry = '';
        this.endRecord(-1);
        break;
      case State.FieldStart:
        // "a,b," at the very end: the record has a last, empty field.
        if (this.fields.length > 0) {
          this.fields.push('');
          this.endRecord(-1);
        }
        break;
      case State.AfterCr:
        break;
    }
  }

  private endRecord(terminator: number): void {
    const fields = this.fields;
    this.fields = [];
    if (terminator === CR) this.state = State.AfterCr;
    else this.state = State.FieldStart;
    const line = this.recordLine;
    if (terminator !== -1) this.line++;
    this.recordLine = this.line;
    // An empty line is no record (a field list of one empty, unquoted field never reaches here
    // through a quote, since a quoted "" pushes its field before the line end).
    if (fields.length === 0) return;
    this.sink(fields, line);
  }

  private error(problem: string): CsvFormatError {
    return new CsvFormatError(`line ${this.line}: ${problem}`);
  }
}

/** Which column holds the label; by name (default: the last column). */
export interface CsvTableOptions {
  readonly label?: string;
}

/** The header as read, and where the label and features are. */
export interface CsvColumns {
  /** Every column name, in file order. */
  readonly names: readonly string[];
  /** Index of the label column among `names`. */
  readonly labelColumn: number;
  /** The feature column names, in file order (every column but the label). */
  readonly features: readonly string[];
}

/** One data row: its number (1-based, header excluded), feature values (float64) and label text. */
export interface CsvTableRow {
  readonly row: number;
  readonly features: Float64Array;
  readonly label: string;
}

/** What a whole table turned out to hold, known once the input has ended. */
export interface CsvTableSummary extends CsvColumns {
  readonly rows: number;
  /**
   * Class names, in class-index order. Labels that are all numbers are ordered by value and named
   * by their shortest decimal form (`String(Number(text))`, so "1.0" and "1" are one class "1");
   * otherwise the label texts, trimmed, ordered by UTF-16 code units (`Array.prototype.sort`).
   * Sorted rather than first-seen order, so a shuffled copy of a file has the same classes.
   */
  readonly classes: readonly string[];
  /** Rows per class, indexed like `classes`. */
  readonly classCounts: readonly number[];
}

// A plain decimal number; Number() alone would also take "", "0x1f", "Infinity" and " ".
const DECIMAL = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;
const FLOAT32_MAX = 3.4028234663852886e38;
const NOT_FINITE = /^[+-]?(?:nan|inf|infinity)$/i;

/**
 * A labelled numeric table from CSV text chunks: one label column, every other column a feature.
 * `push` returns the data rows completed by the chunk (validated: numeric, finite, not ragged);
 * `end` returns the last ones; `summary()` afterwards gives the classes. Class indices are known
 * only at the end (classes are sorted), so a shard builder reads the table once for labels and
 * statistics and again to write (two passes over the stored upload, none over memory).
 *
 * Errors (`CsvFormatError`) name the problem with the 1-based data row and the column name: empty
 * file, header only, duplicate or empty column names, unknown label column, too many features,
 * ragged rows, empty / non-numeric / NaN or infinite values, too many rows or classes, one class.
 */
export class CsvTableReader {
  private readonly records: CsvRecordReader;
  private readonly labelName: string | undefined;
  private columns: CsvColumns | null = null;
  private rows = 0;
  private out: CsvTableRow[] = [];
  /** Label text (trimmed) → rows; insertion order is first-seen order. */
  private readonly counts = new Map<string, number>();
  private allNumeric = true;
  private done: CsvTableSummary | null = null;
  private classIndexOf: Map<string, number> | null = null;

  constructor(options: CsvTableOptions = {}) {
    this.labelName = options.label;
    this.records = new CsvRecordReader((fields, line) => this.record(fields, line));
  }

  /** The header, once it has been read (null before). */
  get header(): CsvColumns | null {
    return this.columns;
  }

  push(chunk: string): CsvTableRow[] {
    this.records.push(chunk);
    return this.take();
  }

  end(): CsvTableRow[] {
    this.records.end();
    const last = this.take();
    this.done = this.finish();
    return last;
  }

  /** The table's shape and classes; only after `end()`. */
  summary(): CsvTableSummary {
    if (this.done === null) throw new Error('CsvTableReader: summary() before end()');
    return this.done;
  }

  private take(): CsvTableRow[] {
    const rows = this.out;
    this.out = [];
    return rows;
  }

  private record(fields: string[], line: number): void {
    if (this.columns === null) {
      this.columns = this.readHeader(fields);
      return;
    }
    const { names, labelColumn } = this.columns;
    const row = this.rows + 1;
    const where = `data row ${row} (line ${line})`;
    if (row > UPLOAD_LIMITS.maxRows) {
      throw new CsvFormatError(`${where}: too many rows; the limit is ${formatCount(UPLOAD_LIMITS.maxRows)}`);
    }
    if (fields.length !== names.length) {
      throw new CsvFormatError(
        `${where}: ragged row: ${fields.length} field${fields.length === 1 ? '' : 's'}, but the header has ${names.length} columns`,
      );
    }
    const features = new Float64Array(names.length - 1);
    for (let c = 0, f = 0; c < fields.length; c++) {
      if (c === labelColumn) continue;
      features[f++] = parseValue(fields[c], where, names[c]);
    }
    const label = fields[labelColumn].trim();
    if (label === '')
      throw new CsvFormatError(`${where}, column "${names[labelColumn]}": the label is empty`);
    const seen = this.counts.get(label);
    if (seen === undefined) {
      if (this.counts.size === UPLOAD_LIMITS.maxClasses) {
        throw new CsvFormatError(
          `${where}, column "${names[labelColumn]}": too many classes: label "${label}" would be class ` +
            `${UPLOAD_LIMITS.maxClasses + 1}; the limit is ${UPLOAD_LIMITS.maxClasses}`,
        );
      }
      this.counts.set(label, 1);
      if (this.allNumeric && !DECIMAL.test(label)) this.allNumeric = false;
    } else {
      this.counts.set(label, seen + 1);
    }
    this.rows = row;
    this.out.push({ row, features, label });
  }

  private readHeader(fields: string[]): CsvColumns {
    const names = fields.map((f) => f.trim());
    const seen = new Set<string>();
    for (const [i, name] of names.entries()) {
      if (name === '') throw new CsvFormatError(`header: column ${i + 1} has no name`);
      if (seen.has(name)) throw new CsvFormatError(`header: column name "${name}" appears twice`);
      seen.add(name);
    }
    if (names.length < 2) {
      throw new CsvFormatError(
        `header: ${names.length} column; a table needs a label column and at least one feature`,
      );
    }
    const labelColumn = this.labelName === undefined ? names.length - 1 : names.indexOf(this.labelName);
    if (labelColumn < 0) {
      throw new CsvFormatError(
        `header: no column named "${this.labelName}" for the label (columns: ${names.map((n) => `"${n}"`).join(', ')})`,
      );
    }
    if (names.length - 1 > UPLOAD_LIMITS.maxFeatures) {
      throw new CsvFormatError(
        `header: too many features: ${formatCount(names.length - 1)} feature columns; the limit is ${formatCount(UPLOAD_LIMITS.maxFeatures)}`,
      );
    }
    return { names, labelColumn, features: names.filter((_, i) => i !== labelColumn) };
  }

  private finish(): CsvTableSummary {
    if (this.columns === null) throw new CsvFormatError('empty file: no header and no rows');
    if (this.rows === 0) throw new CsvFormatError('header only: the file has no data rows');
    const labelName = this.columns.names[this.columns.labelColumn];
    if (this.counts.size < 2) {
      throw new CsvFormatError(
        `one class only: every row's label (column "${labelName}") is "${[...this.counts.keys()][0]}"; a classifier needs at least 2 classes`,
      );
    }
    let classes: string[];
    const countOf = new Map<string, number>();
    if (this.allNumeric) {
      // Numeric labels are classes by value: "1" and "1.0" are the same class.
      const byValue = new Map<number, number>();
      for (const [text, n] of this.counts) {
        const v = Number(text);
        byValue.set(v, (byValue.get(v) ?? 0) + n);
      }
      if (byValue.size < 2) {
        throw new CsvFormatError(
          `one class only: every row's label (column "${labelName}") has the value ${[...byValue.keys()][0]}; a classifier needs at least 2 classes`,
        );
      }
      const values = [...byValue.keys()].sort((a, b) => a - b);
      classes = values.map(String);
      for (const v of values) countOf.set(String(v), byValue.get(v) ?? 0);
    } else {
      classes = [...this.counts.keys()].sort();
      for (const c of classes) countOf.set(c, this.counts.get(c) ?? 0);
    }
    this.classIndexOf = new Map(classes.map((c, i) => [c, i]));
    return {
      ...this.columns,
      rows: this.rows,
      classes,
      classCounts: classes.map((c) => countOf.get(c) ?? 0),
    };
  }

  /**
   * The class index of a row's label (after `end()`); the same rule as `summary().classes`.
   * A label this table never saw is an error (e.g. a separate test file with a new class).
   */
  classIndex(label: string): number {
    if (this.classIndexOf === null || this.done === null)
      throw new Error('CsvTableReader: classIndex() before end()');
    return classIndexIn(this.classIndexOf, this.done.classes, label, this.allNumeric);
  }
}

function classIndexIn(
  index: Map<string, number>,
  classes: readonly string[],
  label: string,
  numeric: boolean,
): number {
  const text = label.trim();
  const key = numeric && DECIMAL.test(text) ? String(Number(text)) : text;
  const k = index.get(key);
  if (k === undefined) {
    throw new CsvFormatError(
      `label "${text}" is not one of the ${classes.length} classes of the training file`,
    );
  }
  return k;
}

/**
 * A class-index lookup for labels read elsewhere (a separate test file, or a second pass over the
 * same upload) against the classes of `summary`. Numeric class names match by value.
 */
export function classIndexer(classes: readonly string[]): (label: string) => number {
  const numeric = classes.every((c) => DECIMAL.test(c));
  const index = new Map(classes.map((c, i) => [c, i]));
  return (label) => classIndexIn(index, classes, label, numeric);
}

function parseValue(text: string, where: string, column: string): number {
  const t = text.trim();
  if (DECIMAL.test(t)) {
    const v = Number(t);
    // The served model takes float32 inputs: a value beyond float32's range cannot reach it.
    if (Math.abs(v) <= FLOAT32_MAX) return v;
    if (Number.isFinite(v)) {
      throw new CsvFormatError(
        `${where}, column "${column}": value ${t} is outside the float32 range (±3.4e38)`,
      );
    }
    throw new CsvFormatError(
      `${where}, column "${column}": value ${t} overflows to infinity (NaN/Infinity are not allowed)`,
    );
  }
  if (t === '')
    throw new CsvFormatError(`${where}, column "${column}": empty value (missing values are not supported)`);
  if (NOT_FINITE.test(t)) {
    throw new CsvFormatError(
      `${where}, column "${column}": ${t} is not a finite number (NaN/Infinity are not allowed)`,
    );
  }
  const shown = t.length > 40 ? `${t.slice(0, 40)}…` : t;
  throw new CsvFormatError(`${where}, column "${column}": non-numeric value "${shown}"`);
}

/**
 * Reads a whole table from text chunks (an async or sync iterable, e.g. a `ReadableStream`
 * piped through `TextDecoderStream`), handing each batch of rows to `onRows` as it completes.
 */
export async function readCsvTable(
  chunks: AsyncIterable<string> | Iterable<string>,
  onRows: (rows: CsvTableRow[]) => void | Promise<void>,
  options: CsvTableOptions = {},
): Promise<{ summary: CsvTableSummary; classIndex: (label: string) => number }> {
  const reader = new CsvTableReader(options);
  for await (const chunk of chunks) {
    const rows = reader.push(chunk);
    if (rows.length > 0) await onRows(rows);
  }
  const rows = reader.end();
  if (rows.length > 0) await onRows(rows);
  return { summary: reader.summary(), classIndex: (label) => reader.classIndex(label) };
}
