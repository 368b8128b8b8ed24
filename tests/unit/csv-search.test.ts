/**
 * A CSV file searched in Node: `npm run data -- --csv FILE --name NAME` builds it with the platform's
 * build code (the same shards as buildCsvDataset gives an upload of the same bytes and options),
 * and `npm run search -- --dataset NAME` searches it, trains the champion's weights and reports test
 * accuracy. Everything goes to a temporary folder ($WANN_DATASETS_DIR), never to data/.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { buildCsvShards, readCsvDatasetManifest } from '../../scripts/csv-shards';
import { buildCsvDataset } from '../../src/data/csv-dataset';
import { shardFileName } from '../../src/data/shard';

const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), 'wann-csv-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** 300 rows, 4 columns on different scales, 3 named classes; the class lifts one column. */
function table(): string {
  const lines = ['a,b,c,d,kind'];
  for (let i = 0; i < 300; i++) {
    const c = i % 3;
    const v = [0, 1, 2, 3].map((f) => (((i * 31 + f * 17) % 23) / 23 + (f === c ? 2 : 0)) * 10 ** f);
    lines.push(`${v.map((x) => x.toFixed(3)).join(',')},${['cat', 'dog', 'eel'][c]}`);
  }
  return `${lines.join('\n')}\n`;
}

describe('a CSV dataset in Node', () => {
  const file = join(dir, 'pets.csv');
  writeFileSync(file, table());

  it('is built into the shards an upload of the same file gets', async () => {
    const out = join(dir, 'direct');
    const manifest = await buildCsvShards(file, {
      name: 'pets',
      label: 'kind',
      testFraction: 0.2,
      outDir: out,
    });
    expect(manifest).toMatchObject({
      name: 'pets',
      kind: 'tabular',
      features: 4,
      classes: ['cat', 'dog', 'eel'],
    });
    expect(readCsvDatasetManifest(out)).toEqual(manifest);
    const platform: Record<string, Uint8Array> = {};
    const text = readFileSync(file, 'utf8');
    const expected = await buildCsvDataset(
      async function* () {
        yield text;
      },
      { name: 'pets', label: 'kind', testFraction: 0.2, seed: 0, sourceHash: manifest.sourceHash },
      async (split, index, bytes) => {
        platform[shardFileName(split, index)] = bytes;
      },
    );
    expect(manifest).toEqual(expected);
    for (const [name, bytes] of Object.entries(platform)) {
      expect(new Uint8Array(readFileSync(join(out, name)))).toEqual(bytes);
    }
    expect(readdirSync(out).sort()).toEqual([...Object.keys(platform), 'dataset.json'].sort());
  });

  it('leaves nothing behind when the table is bad', async () => {
    const bad = join(dir, 'bad.csv');
    writeFileSync(bad, 'a,b,kind\n1,2,x\n3,oops,y\n');
    await expect(buildCsvShards(bad, { name: 'bad', outDir: join(dir, 'bad') })).rejects.toThrow(/row/);
    expect(existsSync(join(dir, 'bad'))).toBe(false);
  });

  it('is built by `npm run data -- --csv` and searched by `npm run search -- --dataset`', async () => {
    const env = { ...process.env, WANN_DATASETS_DIR: join(dir, 'root') };
    const built = await run(
      'npx',
      ['tsx', 'scripts/build-shards.ts', '--csv', file, '--name', 'pets', '--label', 'kind'],
      { env },
    );
    expect(built.stdout).toContain('built pets: 4 features, 3 classes');
    expect(existsSync(join(dir, 'root', 'pets', 'dataset.json'))).toBe(true);
    const summaryFile = join(dir, 'summary.json');
    await run(
      'npx',
      [
        'tsx',
        'node/search.ts',
        '--dataset',
        'pets',
        '--generations',
        '3',
        '--population',
        '32',
        '--threads',
        '1',
        '--train-steps',
        '10',
        '--out',
        summaryFile,
      ],
      { env },
    );
    const summary = JSON.parse(readFileSync(summaryFile, 'utf8'));
    expect(summary).toMatchObject({ dataset: 'pets', generations: 3, trainShards: 1, trainingSteps: 10 });
    expect(summary.testAccuracy).toHaveLength(6);
    expect(summary.ensembleTestAccuracy).toBeGreaterThanOrEqual(0);
    expect(typeof summary.trainedTestAccuracy).toBe('number');
    // An unknown name says how to build one.
    const missing = await run('npx', ['tsx', 'node/search.ts', '--dataset', 'nope', '--generations', '1'], {
      env,
    }).catch((e: { stderr: string }) => e);
    expect((missing as { stderr: string }).stderr).toContain('npm run data -- --csv FILE --name nope');
  }, 120_000);
});
