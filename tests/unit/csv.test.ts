import { describe, expect, it } from 'vitest';
import {
  CsvFormatError,
  CsvRecordReader,
  CsvTableReader,
  type CsvTableRow,
  classIndexer,
  readCsvTable,
} from '../../src/data/csv';
import { UPLOAD_LIMITS } from '../../src/data/limits';

/** Records of `text` read in chunks of `size` characters (Infinity: one chunk). */
function records(text: string, size = Number.POSITIVE_INFINITY): Array<[string[], number]> {
  const out: Array<[string[], number]> = [];
  const reader = new CsvRecordReader((fields, line) => out.push([fields, line]));
  for (let i = 0; i < text.length; i += size) reader.push(text.slice(i, i + size));
  reader.end();
  return out;
}

function table(text: string, size = Number.POSITIVE_INFINITY, label?: string) {
  const reader = new CsvTableReader({ label });
  const rows: CsvTableRow[] = [];
  for (let i = 0; i < text.length; i += size) rows.push(...reader.push(text.slice(i, i + size)));
  rows.push(...reader.end());
  return { rows, summary: reader.summary(), reader };
}

const CHUNK_SIZES = [1, 2, 3, 5, 7, Number.POSITIVE_INFINITY];

describe('CsvRecordReader (RFC 4180)', () => {
  const tricky =
    '\uFEFFa,"b ""quoted""",c\r\n' +
    '1,"two, with comma",3\r\n' +
    '"multi\r\nline",,"x"\n' +
    '\n' + // an empty line is skipped
    'last,"",end'; // no final line end
  const expected: Array<[string[], number]> = [
    [['a', 'b "quoted"', 'c'], 1],
    [['1', 'two, with comma', '3'], 2],
    [['multi\r\nline', '', 'x'], 3],
    [['last', '', 'end'], 6],
  ];

  it.each(CHUNK_SIZES)(
    'reads quotes, commas and line ends inside quotes, CRLF, with chunks of %s',
    (size) => {
      expect(records(tricky, size)).toEqual(expected);
    },
  );

  it('handles a lone CR, a trailing separator, and a final line end', () => {
    expect(records('a,b\rc,d\r')).toEqual([
      [['a', 'b'], 1],
      [['c', 'd'], 2],
    ]);
    expect(records('a,b,\n1,2,')).toEqual([
      [['a', 'b', ''], 1],
      [['1', '2', ''], 2],
    ]);
    expect(records('x\n"a""b"""')).toEqual([
      [['x'], 1],
      [['a"b"'], 2],
    ]);
    expect(records('')).toEqual([]);
  });

  it.each([
    ['an unclosed quote', 'a,b\n1,"open\n', /quoted field opened on line 2 is never closed/],
    ['a quote inside an unquoted field', 'a,b\n1,x"y\n', /line 2: a quote \("\) inside an unquoted field/],
    ['text after a closing quote', 'a,b\n"1"x,2\n', /line 2: text after the closing quote/],
  ])('rejects %s', (_, text, message) => {
    for (const size of CHUNK_SIZES) {
      expect(() => records(text, size)).toThrow(CsvFormatError);
      expect(() => records(text, size)).toThrow(message);
    }
  });
});

describe('CsvTableReader', () => {
  const iris =
    'sepal,petal,"species"\n5.1,1.4,setosa\n7.0,4.7,versicolor\n6.3,6.0,virginica\n4.9,1.4,setosa\n';

  it.each(CHUNK_SIZES)('reads rows and sorted string classes, chunks of %s', (size) => {
    const { rows, summary, reader } = table(iris, size);
    expect(summary).toEqual({
      names: ['sepal', 'petal', 'species'],
      labelColumn: 2,
      features: ['sepal', 'petal'],
      rows: 4,
      classes: ['setosa', 'versicolor', 'virginica'],
      classCounts: [2, 1, 1],
    });
    expect(rows.map((r) => [r.row, Array.from(r.features), r.label])).toEqual([
      [1, [5.1, 1.4], 'setosa'],
      [2, [7.0, 4.7], 'versicolor'],
      [3, [6.3, 6.0], 'virginica'],
      [4, [4.9, 1.4], 'setosa'],
    ]);
    expect(rows.map((r) => reader.classIndex(r.label))).toEqual([0, 1, 2, 0]);
  });

  it('hands rows over as their chunks complete (streaming)', () => {
    const reader = new CsvTableReader();
    expect(reader.push('a,y\n1,p\n2,')).toHaveLength(1);
    expect(reader.header?.names).toEqual(['a', 'y']);
    expect(reader.push('q\n3,r')).toHaveLength(1);
    expect(reader.end()).toHaveLength(1);
    expect(reader.summary().rows).toBe(3);
  });

  it('takes the label column by name, anywhere', () => {
    const { rows, summary } = table('y,a,b\n1,2,3\n0,5,6\n', undefined, 'y');
    expect(summary.labelColumn).toBe(0);
    expect(summary.features).toEqual(['a', 'b']);
    expect(rows.map((r) => Array.from(r.features))).toEqual([
      [2, 3],
      [5, 6],
    ]);
  });

  it('orders numeric labels by value and merges equal values', () => {
    const { summary, reader } = table('x,y\n1,10\n2,2\n3,-1\n4,2.0\n5, 10 \n');
    expect(summary.classes).toEqual(['-1', '2', '10']);
    expect(summary.classCounts).toEqual([1, 2, 2]);
    expect(['2.0', '10', '-1', '2'].map((l) => reader.classIndex(l))).toEqual([1, 2, 0, 1]);
  });

  it('a mix of numbers and words is ordered as text', () => {
    expect(table('x,y\n1,10\n2,9\n3,b\n').summary.classes).toEqual(['10', '9', 'b']);
  });

  it('accepts signs, exponents and spaces in numbers', () => {
    const { rows } = table('a,b,c,y\n -1.5e3 ,+.25,7.,k\n0,1E-2,-0,j\n');
    expect(Array.from(rows[0].features)).toEqual([-1500, 0.25, 7]);
    expect(Array.from(rows[1].features)).toEqual([0, 0.01, -0]);
  });

  it('classIndexer maps labels of another file to the same classes, refusing new ones', () => {
    const index = classIndexer(['-1', '2', '10']);
    expect(index('2.0')).toBe(1);
    expect(index(' 10')).toBe(2);
    expect(() => index('3')).toThrow(/label "3" is not one of the 3 classes/);
    expect(classIndexer(['cat', 'dog'])('dog')).toBe(1);
  });

  it('readCsvTable reads an async stream of chunks', async () => {
    async function* chunks() {
      yield 'a,b,y\n1,';
      yield '2,u\n3,4,v\n';
    }
    const seen: number[] = [];
    const { summary, classIndex } = await readCsvTable(chunks(), (rows) => {
      seen.push(...rows.map((r) => r.row));
    });
    expect(seen).toEqual([1, 2]);
    expect(summary.classes).toEqual(['u', 'v']);
    expect(classIndex('v')).toBe(1);
  });

  // The corpus of bad uploads, each with the message a person gets.
  it.each([
    ['an empty file', '', /^empty file: no header and no rows$/],
    ['only empty lines', '\n\r\n\n', /^empty file/],
    ['a header only', 'a,b,label\n', /^header only: the file has no data rows$/],
    ['one column', 'label\n1\n', /^header: 1 column; a table needs a label column and at least one feature$/],
    ['an unnamed column', 'a,,y\n1,2,3\n', /^header: column 2 has no name$/],
    ['a duplicate column', 'a,a,y\n1,2,3\n', /^header: column name "a" appears twice$/],
    [
      'a missing label column',
      'a,b\n1,2\n',
      /^header: no column named "class" for the label \(columns: "a", "b"\)$/,
      'class',
    ],
    [
      'a ragged row (short)',
      'a,b,y\n1,2,p\n1,2\n',
      /^data row 2 \(line 3\): ragged row: 2 fields, but the header has 3 columns$/,
    ],
    ['a ragged row (long)', 'a,b,y\n1,2,p,9\n', /^data row 1 \(line 2\): ragged row: 4 fields/],
    [
      'a non-numeric value',
      'a,b,y\n1,2,p\n3,abc,q\n',
      /^data row 2 \(line 3\), column "b": non-numeric value "abc"$/,
    ],
    ['a hex number', 'a,b,y\n0x1f,2,p\n', /^data row 1 \(line 2\), column "a": non-numeric value "0x1f"$/],
    [
      'an empty value',
      'a,b,y\n1,,p\n',
      /^data row 1 \(line 2\), column "b": empty value \(missing values are not supported\)$/,
    ],
    [
      'NaN',
      'a,b,y\n1,2,p\nNaN,2,q\n',
      /^data row 2 \(line 3\), column "a": NaN is not a finite number \(NaN\/Infinity are not allowed\)$/,
    ],
    [
      'Infinity',
      'a,b,y\n1,-Infinity,p\n',
      /^data row 1 \(line 2\), column "b": -Infinity is not a finite number/,
    ],
    ['inf', 'a,b,y\n1,inf,p\n', /column "b": inf is not a finite number/],
    ['an overflowing number', 'a,b,y\n1,1e999,p\n', /column "b": value 1e999 overflows to infinity/],
    ['a number beyond float32', 'a,b,y\n1,1e39,p\n', /column "b": value 1e39 is outside the float32 range/],
    ['an empty label', 'a,b,y\n1,2,p\n1,2, \n', /^data row 2 \(line 3\), column "y": the label is empty$/],
    [
      'one class only',
      'a,y\n1,cat\n2,cat\n',
      /^one class only: every row's label \(column "y"\) is "cat"; a classifier needs at least 2 classes$/,
    ],
    [
      'one numeric class written two ways',
      'a,y\n1,1\n2,1.0\n',
      /^one class only: every row's label \(column "y"\) has the value 1/,
    ],
    // Row numbers count records, line numbers count lines: a quoted line end separates them.
    [
      'a bad value after a multi-line field',
      'a,b,y\n1,2,"p\nq"\n1,x,p\n',
      /^data row 2 \(line 4\), column "b": non-numeric value "x"$/,
    ],
  ])('rejects %s', (_, text, message, label?: string) => {
    for (const size of [1, 4, Number.POSITIVE_INFINITY]) {
      expect(() => table(text, size, label)).toThrow(CsvFormatError);
      expect(() => table(text, size, label)).toThrow(message);
    }
  });

  it('rejects too many classes at the row that adds class 257', () => {
    const lines = ['x,y'];
    for (let i = 0; i <= UPLOAD_LIMITS.maxClasses; i++) lines.push(`${i},c${i}`);
    expect(() => table(lines.join('\n'))).toThrow(
      /^data row 257 \(line 258\), column "y": too many classes: label "c256" would be class 257; the limit is 256$/,
    );
    lines.pop();
    expect(table(lines.join('\n')).summary.classes).toHaveLength(256);
  });

  it('rejects too many features in the header', () => {
    const names = Array.from({ length: UPLOAD_LIMITS.maxFeatures + 1 }, (_, i) => `f${i}`);
    expect(() => table(`${names.join(',')},y\n`)).toThrow(
      /^header: too many features: 4,097 feature columns; the limit is 4,096$/,
    );
    names.pop();
    const row = names.map(() => '0').join(',');
    expect(table(`${names.join(',')},y\n${row},a\n${row},b\n`).summary.features).toHaveLength(4096);
  });

  it('rejects too many rows at the first row past the limit', () => {
    const reader = new CsvTableReader();
    reader.push('x,y\n');
    const block = '1,a\n2,b\n'.repeat(5000); // 10,000 rows per push
    for (let i = 0; i < UPLOAD_LIMITS.maxRows / 10_000; i++) reader.push(block);
    expect(() => reader.push('3,c\n')).toThrow(
      /^data row 1000001 \(line 1000002\): too many rows; the limit is 1,000,000$/,
    );
  });
});
