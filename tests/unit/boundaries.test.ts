/**
 * The coordinator handles numbers, never genomes (README "How it works"): its code may plan, rank
 * and record, but must not decode, encode, breed or evaluate a genome. A guard against the old
 * design creeping back in, checked on the source itself.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const GENOME_WORK = [
  'decodePopulation',
  'encodePopulation',
  'decodeGenomeBytes',
  'populationFromBase64',
  'populationToBase64',
  'parseGenome',
  'genomeToJson',
  'breedMember',
  'evaluateMembers',
  'evaluateSlice',
  'mutate',
  'compile',
  'publishModel',
  'runPublishTask',
  'evaluateRecheck',
  'recheckFromInputs',
  'runRecheck',
  'trainSteps',
];

describe('the coordinator never touches a genome', () => {
  const dir = 'workers/coordinator';
  const files = readdirSync(dir).filter((f) => f.endsWith('.ts'));

  it.each(files)('%s calls no genome codec, breeding, evaluation or publishing code', (file) => {
    const source = readFileSync(join(dir, file), 'utf8');
    const used = GENOME_WORK.filter((name) => new RegExp(`\\b${name}\\b`).test(source));
    expect(used).toEqual([]);
  });

  it('imports nothing from the genome, mutation, network or ONNX modules', () => {
    for (const file of files) {
      const source = readFileSync(join(dir, file), 'utf8');
      expect(source).not.toMatch(
        /from '[^']*src\/(wann\/(genome|mutation|network|report|slice)|onnx\/)[^']*'/,
      );
    }
  });
});

describe('bench/ holds benchmarks only', () => {
  /** Every TypeScript file under `dir`, recursively. */
  const sources = (dir: string): string[] =>
    readdirSync(dir).flatMap((f) => {
      const path = join(dir, f);
      if (statSync(path).isDirectory()) return f === 'node_modules' || f === 'dist' ? [] : sources(path);
      return /\.(ts|mjs)$/.test(f) ? [path] : [];
    });

  it.each(['src', 'workers', 'node', 'cli', 'scripts', 'schema'])(
    '%s/ imports nothing from bench/',
    (dir) => {
      const offenders = sources(dir).filter((file) =>
        /from '(\.\.\/)+bench\/|import\('(\.\.\/)+bench\//.test(readFileSync(file, 'utf8')),
      );
      expect(offenders).toEqual([]);
    },
  );
});

describe('the coordinator is a shell over collaborators that own their tables', () => {
  const dir = 'workers/coordinator';
  const files = readdirSync(dir).filter((f) => f.endsWith('.ts'));
  const sources = new Map(files.map((f) => [f, readFileSync(join(dir, f), 'utf8')]));

  it('has its collaborators as files of their own (the shell is not the only file)', () => {
    for (const f of ['task-ledger.ts', 'generation-log.ts', 'event-hub.ts', 'blob-gc.ts', 'rows.ts']) {
      expect(files).toContain(f);
    }
  });

  it('creates each table in exactly one file, and none in the shell', () => {
    const owners = new Map<string, string[]>();
    for (const [file, source] of sources) {
      for (const m of source.matchAll(/CREATE TABLE IF NOT EXISTS (\w+)/g)) {
        owners.set(m[1], [...(owners.get(m[1]) ?? []), file]);
      }
    }
    expect(owners.size).toBeGreaterThanOrEqual(6);
    for (const [table, owner] of owners) expect([table, owner.length]).toEqual([table, 1]);
    expect(sources.get('search-coordinator.ts')).not.toMatch(/\.exec\(/);
  });

  it('reads rows through decoders: no unchecked `JSON.parse(…) as T` and no typed `exec<T>`', () => {
    for (const [file, source] of sources) {
      expect([file, source.match(/JSON\.parse\([^;]*\)\s+as\s/)?.[0] ?? null]).toEqual([file, null]);
      expect([file, source.match(/\.exec<[^>]+>\(/)?.[0] ?? null]).toEqual([file, null]);
    }
  });
});

describe("a Worker's entry module exports only entry points", () => {
  // workerd treats every named export of a Worker's main module as an entry point: a constant
  // (e.g. `export const TIMEOUT_MS = …`) makes the runtime refuse to start the Worker at all, which
  // the Workers tests (they import the modules, not run them as entries) do not see.
  it.each(['workers/api/index.ts', 'workers/evaluator/index.ts', 'workers/inference/index.ts'])(
    '%s exports no plain constant',
    (file) => {
      const constants = [...readFileSync(file, 'utf8').matchAll(/^export (?:const|let|var) (\w+)/gm)]
        .map((m) => m[1])
        // A Hono app is an ExportedHandler (it has `fetch`), which workerd accepts.
        .filter((name) => !/App$/.test(name));
      expect(constants).toEqual([]);
    },
  );
});
