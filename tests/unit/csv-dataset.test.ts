/**
 * Building a tabular dataset from CSV text in passes: the split is stratified and seeded, the
 * statistics come from the training rows only, every shard value is the float32 standardisation
 * of its raw row, and bad tables fail with the parser's message.
 */
import { describe, expect, it } from 'vitest';
import { CsvFormatError } from '../../src/data/csv';
import { buildCsvDataset, CsvDatasetError, featureNamesOf } from '../../src/data/csv-dataset';
import { decodeAnyShard, type FeatureShard } from '../../src/data/shard';
import { standardization, standardize } from '../../src/data/standardize';

function table(rows: number, features: number): { text: string; raw: number[][]; labels: string[] } {
  const names = ['a', 'b', 'c'];
  const raw: number[][] = [];
  const labels: string[] = [];
  const lines = [[...Array.from({ length: features }, (_, f) => `x${f}`), 'kind'].join(',')];
  for (let r = 0; r < rows; r++) {
    const row = Array.from({ length: features }, (_, f) => ((r * 7 + f * 13) % 29) / 3 + (r % 3) * 5);
    raw.push(row);
    labels.push(names[r % 3]);
    lines.push([...row.map(String), names[r % 3]].join(','));
  }
  return { text: `${lines.join('\n')}\n`, raw, labels };
}

/** The text in chunks of 37 characters, a fresh pass each call. */
function chunks(text: string): () => AsyncIterable<string> {
  return async function* () {
    for (let i = 0; i < text.length; i += 37) yield text.slice(i, i + 37);
  };
}

async function build(text: string, memoryBytes?: number) {
  const shards = new Map<string, FeatureShard>();
  const progress: number[] = [];
  const manifest = await buildCsvDataset(
    chunks(text),
    { name: 'toy', seed: 5, sourceHash: 'sha256:x', rowsPerShard: 40, memoryBytes },
    async (split, index, bytes) => {
      shards.set(`${split}-${index}`, decodeAnyShard(bytes) as FeatureShard);
    },
    (p) => {
      progress.push(p.pass);
    },
  );
  return { manifest, shards, progress };
}

describe('buildCsvDataset', () => {
  it('splits, standardises with training statistics and writes every row once', async () => {
    const { text, raw } = table(300, 4);
    const { manifest, shards, progress } = await build(text);
    expect(manifest).toMatchObject({
      name: 'toy',
      kind: 'tabular',
      rawShape: [4],
      features: 4,
      classes: ['a', 'b', 'c'],
      featureNames: ['x0', 'x1', 'x2', 'x3'],
      splits: { train: 270, test: 30 },
      shards: { train: 7, test: 1, rowsPerShard: 40 },
    });
    expect(progress).toEqual([1, 2, 3]);
    // Every training row appears exactly once, standardised with the manifest's statistics.
    if (manifest.preprocessing.kind !== 'tabular') throw new Error('not tabular');
    const s = standardization(manifest.preprocessing);
    const expected = new Set(raw.map((row) => Array.from(standardize(row, s)).join(',')));
    const got: string[] = [];
    for (const shard of shards.values()) {
      for (let i = 0; i < shard.count; i++)
        got.push(Array.from(shard.values.subarray(i * 4, i * 4 + 4)).join(','));
    }
    expect(got.length).toBe(300);
    expect(new Set(got)).toEqual(expected);
    // Training statistics: the training rows standardise to mean ≈ 0.
    let sum = 0;
    let n = 0;
    for (const [key, shard] of shards)
      if (key.startsWith('train')) for (let i = 0; i < shard.count; i++, n++) sum += shard.values[i * 4];
    expect(Math.abs(sum / n)).toBeLessThan(1e-5);
  });

  it('gives the same shards when memory allows only one shard per pass', async () => {
    const { text } = table(300, 4);
    const all = await build(text);
    const small = await build(text, 40 * 4 * 4);
    expect(small.progress).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(small.manifest).toEqual(all.manifest);
    expect([...small.shards.entries()]).toEqual([...all.shards.entries()]);
  });

  it.each([
    ['a,b,kind\n1,2,x\n1,2\n', /data row 2.*ragged/],
    ['a,b,kind\n1,zz,x\n1,2,y\n', /data row 1.*column "b".*non-numeric/],
    ['a,b,kind\n1,2,x\n1,2,x\n', /one class only/],
    ['a,b,kind\n1,NaN,x\n1,2,y\n', /NaN/],
    ['', /empty file/],
  ])('%j fails: %s', async (text, message) => {
    await expect(build(text)).rejects.toThrow(message);
    await expect(build(text)).rejects.toBeInstanceOf(CsvFormatError);
  });

  it('a table too small for a test split is a CsvDatasetError', async () => {
    await expect(build('a,kind\n1,x\n2,y\n')).rejects.toBeInstanceOf(CsvDatasetError);
  });
  it('a separate test table is the test split: the whole table trains, statistics from it only', async () => {
    const train = table(120, 3);
    const test = table(30, 3);
    // The test rows shifted far off: if their statistics leaked in, the training mean would move.
    const shifted = test.text.replace(/^([\d.]+),/gm, (_, v: string) => `${Number(v) + 1000},`);
    const shards = new Map<string, FeatureShard>();
    const manifest = await buildCsvDataset(
      chunks(train.text),
      { name: 'toy', seed: 5, sourceHash: 'sha256:x', rowsPerShard: 40, memoryBytes: 40 * 3 * 4 },
      async (split, index, bytes) => {
        shards.set(`${split}-${index}`, decodeAnyShard(bytes) as FeatureShard);
      },
      () => {},
      chunks(shifted),
    );
    expect(manifest.splits).toEqual({ train: 120, test: 30 });
    expect(manifest.shards).toMatchObject({ train: 3, test: 1 });
    const alone = await build(train.text);
    if (manifest.preprocessing.kind !== 'tabular' || alone.manifest.preprocessing.kind !== 'tabular')
      throw new Error('not tabular');
    expect(Math.abs(manifest.preprocessing.mean[0] - 1000)).toBeGreaterThan(900);
    expect(shards.get('test-0')?.labels.slice(0, 3)).toEqual(new Uint8Array([0, 1, 2]));
    await expect(
      buildCsvDataset(
        chunks(train.text),
        { name: 'toy', seed: 5, sourceHash: 'x' },
        async () => {},
        () => {},
        chunks('x0,x1,x2,kind\n1,2,3,zzz\n1,2,3,a\n'),
      ),
    ).rejects.toThrow(/test table: label "zzz" is not a class of the table/);
    await expect(
      buildCsvDataset(
        chunks(train.text),
        { name: 'toy', seed: 5, sourceHash: 'x' },
        async () => {},
        () => {},
        chunks('x0,y1,x2,kind\n1,2,3,b\n1,2,3,a\n'),
      ),
    ).rejects.toThrow(/feature columns/);
  });
});

describe('feature names', () => {
  it('are the header’s, trimmed and cut at 64 characters; an empty one reads "feature N"', () => {
    expect(featureNamesOf(['sepal length', ' petal ', '', 'x'.repeat(80)])).toEqual([
      'sepal length',
      'petal',
      'feature 3',
      'x'.repeat(64),
    ]);
  });
});
