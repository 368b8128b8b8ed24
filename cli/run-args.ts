/**
 * The CLI's run arguments beyond a full id or URL: a unique id prefix (`wann list` prints the first
 * 8 characters), `--set key=value` config changes and `--seeds 1,2,3` for a seed sweep. Pure
 * functions; `wann.ts` does the requests.
 */
import { CliError } from './client';

/** A prefix of a run id, as `wann list` prints it: at least 4 characters of hex and dashes, not a full id. */
const RUN_ID_PREFIX = /^[0-9a-f][0-9a-f-]{3,34}$/;

export function isRunIdPrefix(arg: string): boolean {
  return RUN_ID_PREFIX.test(arg);
}

/** The one run id among `ids` that starts with `prefix`; none or several is a CliError saying which. */
export function resolveRunPrefix(prefix: string, ids: readonly string[]): string {
  const matches = [...new Set(ids.filter((id) => id.startsWith(prefix)))];
  if (matches.length === 1) return matches[0];
  if (matches.length === 0)
    throw new CliError(`no run id starts with '${prefix}' (wann list shows your runs)`, 2);
  const shown = matches
    .slice(0, 5)
    .map((id) => id.slice(0, Math.max(prefix.length + 4, 12)))
    .join(', ');
  throw new CliError(
    `'${prefix}' is the start of ${matches.length} run ids (${shown}${matches.length > 5 ? ', …' : ''}): give more characters`,
    2,
  );
}

/**
 * One `--set key=value`: the value as JSON where it is JSON (numbers, arrays, true/false),
 * a comma-separated list of numbers as an array (`weights=-1,1`), and text otherwise.
 */
export function parseSetting(text: string): [string, unknown] {
  const eq = text.indexOf('=');
  const key = eq < 0 ? '' : text.slice(0, eq).trim();
  if (!/^[A-Za-z][A-Za-z0-9]*$/.test(key))
    throw new CliError(
      `--set takes key=value with a config field name, e.g. probAddNode=0.3 (got '${text}')`,
      2,
    );
  const raw = text.slice(eq + 1).trim();
  try {
    return [key, JSON.parse(raw)];
  } catch {
    // not JSON: a list of numbers, or text such as a dataset name
  }
  const parts = raw.split(',').map((p) => p.trim());
  if (parts.length > 1 && parts.every((p) => p !== '' && Number.isFinite(Number(p))))
    return [key, parts.map(Number)];
  return [key, raw];
}

/** Every `--set` of a command, in order (a later one wins). */
export function settings(texts: readonly string[]): Record<string, unknown> {
  return Object.fromEntries(texts.map(parseSetting));
}

/** `--seeds 1,2,3`: distinct seeds (integers in [0, 2^32)), in the order given. */
export function parseSeeds(text: string): number[] {
  const parts = text
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean);
  const seeds: number[] = [];
  for (const p of parts) {
    const n = Number(p);
    if (!/^\d+$/.test(p) || !Number.isSafeInteger(n) || n > 0xffffffff)
      throw new CliError(`--seeds takes integers ≥ 0 separated by commas, e.g. 1,2,3 (got '${p}')`, 2);
    if (seeds.includes(n)) throw new CliError(`--seeds names seed ${n} twice`, 2);
    seeds.push(n);
  }
  if (seeds.length === 0) throw new CliError('--seeds needs at least one seed, e.g. 1,2,3', 2);
  return seeds;
}
