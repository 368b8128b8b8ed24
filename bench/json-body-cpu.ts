/**
 * `npm run bench:json-body`: the CPU time the inference Worker's JSON reader (json-body.ts, behind
 * `parsePredictJson` and `parseInferRequest`) spends on the 1 MiB bodies built to cost the most
 * per byte (issue 21, item 3): the tensor's key repeated (`{"pixels":[],"pixels":[],…}`, about 87k
 * times in 1 MiB; each repeat used to allocate a new Float64Array of several MB), the same inside
 * `inputs[0]`, a key per value, and for scale a valid body of pixels of the same size.
 *
 * In Node (the same V8 as workerd), one process, each body parsed REPEATS times; the CPU time of
 * the process (user + system, `process.cpuUsage`) per parse, the smallest of the repeats, is what
 * counts (the machine may be busy with other work). Results: bench/results/json-body-cpu.json
 * (`--out <file>` to write elsewhere, `--label <name>` to name the measured code).
 */
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { InputError, parseInferRequest, parsePredictJson } from '../workers/inference/protocol';

const ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)));
const { values: args } = parseArgs({
  options: {
    label: { type: 'string', default: 'working tree' },
    out: { type: 'string' },
    repeats: { type: 'string', default: '3' },
  },
});
const OUT = args.out ?? join(ROOT, 'bench', 'results', 'json-body-cpu.json');
const REPEATS = Number(args.repeats);
const MiB = 1024 * 1024;

/** `head` + `item` repeated + `last` + `tail`, as close to 1 MiB as whole items allow. */
function mebibyte(head: string, item: (i: number) => string, last: string, tail: string): Uint8Array {
  const parts = [head];
  let size = head.length + last.length + tail.length;
  for (let i = 0; ; i++) {
    const s = item(i);
    if (size + s.length > MiB) break;
    parts.push(s);
    size += s.length;
  }
  parts.push(last, tail);
  return new TextEncoder().encode(parts.join(''));
}

const pixel = (i: number) => ((i * 7919) % 256) / 255;
const image = (i: number) => `[${Array.from({ length: 784 }, (_, j) => pixel(i * 784 + j))}]`;
const cases: { name: string; parse: (bytes: Uint8Array) => unknown; body: Uint8Array }[] = [
  {
    name: 'predict: "pixels" repeated',
    parse: parsePredictJson,
    body: mebibyte('{', () => '"pixels":[],', '"pixels":[]', '}'),
  },
  {
    name: 'infer: "data" repeated in inputs[0]',
    parse: parseInferRequest,
    body: mebibyte('{"inputs":[{', () => '"data":[],', '"data":[]', '}]}'),
  },
  {
    name: 'predict: a key per value',
    parse: parsePredictJson,
    body: mebibyte('{', (i) => `"k${i}":0,`, '"pixels":[]', '}'),
  },
  {
    name: 'predict: valid pixels (1 MiB, for scale)',
    parse: parsePredictJson,
    body: mebibyte('{"pixels":[', (i) => `${image(i)},`, image(0), ']}'),
  },
];

const results = [];
for (const c of cases) {
  let best = Number.POSITIVE_INFINITY;
  let outcome = '';
  for (let r = 0; r < REPEATS; r++) {
    const before = process.cpuUsage();
    try {
      c.parse(c.body);
      outcome = 'parsed';
    } catch (e) {
      if (!(e instanceof InputError)) throw e;
      outcome = `${e.status}: ${e.message.slice(0, 100)}`;
    }
    const used = process.cpuUsage(before);
    best = Math.min(best, (used.user + used.system) / 1000);
  }
  results.push({ body: c.name, bytes: c.body.length, cpuMs: Math.round(best * 10) / 10, outcome });
  console.log(
    `${c.name.padEnd(44)} ${String(c.body.length).padStart(8)} B  ${best.toFixed(1).padStart(9)} ms CPU  ${outcome}`,
  );
}
const output = {
  label: args.label,
  method: `parsePredictJson / parseInferRequest in Node ${process.version}; process CPU time (user + system) per parse, smallest of ${REPEATS}`,
  results,
  date: new Date().toISOString(),
};
writeFileSync(OUT, `${JSON.stringify(output, null, 2)}\n`);
console.log(`→ ${OUT}`);
