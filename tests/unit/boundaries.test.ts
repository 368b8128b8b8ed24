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
