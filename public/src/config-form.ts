/**
 * The search-config fields as form inputs. Their defaults come from the server's own zod schema
 * (src/wann/config.ts), evaluated at build time (scripts/build-pages.ts defines
 * `WANN_CONFIG_DEFAULTS`) so the form and the API cannot disagree and zod stays out of the page.
 * The start form also shows how long the search will likely take (src/wann/eta.ts), and errors the
 * API names a field in are shown next to that field.
 */
import { MIN_POPULATION } from '../../src/wann/config-limits';
import { estimateRun, formatRange, formatSeconds } from '../../src/wann/eta';
import { el } from './dom';

export type ConfigValues = Record<string, number | number[] | undefined>;

interface Field {
  key: string;
  label: string;
  kind: 'int' | 'float' | 'weights' | 'seed';
  help: string;
  /** What the input shows when neither the values nor the server's defaults have the field. */
  absent?: number;
  /** The least value the server takes, where it is above 0. */
  min?: number;
}

export const FIELDS: readonly Field[] = [
  {
    key: 'population',
    label: 'Population',
    kind: 'int',
    help: `genomes per generation, at least ${MIN_POPULATION}`,
    min: MIN_POPULATION,
  },
  { key: 'generations', label: 'Generations', kind: 'int', help: 'generation budget', min: 1 },
  { key: 'seed', label: 'Seed', kind: 'seed', help: 'empty: the server draws one' },
  { key: 'weights', label: 'Shared weights', kind: 'weights', help: 'comma-separated' },
  { key: 'trainShards', label: 'Training shards', kind: 'int', help: 'batches drawn from them', min: 1 },
  {
    key: 'sliceSize',
    label: 'Slice size',
    kind: 'int',
    help: 'genomes per slice; never changes results',
    min: 1,
  },
  { key: 'probConnectionObjective', label: 'P(connections objective)', kind: 'float', help: 'else mean+max' },
  { key: 'cullRatio', label: 'Cull ratio', kind: 'float', help: 'worst fraction not bred' },
  { key: 'eliteRatio', label: 'Elite ratio', kind: 'float', help: 'best fraction kept' },
  { key: 'tournamentSize', label: 'Tournament size', kind: 'int', help: '≤ population', min: 1 },
  { key: 'initEnableProb', label: 'Initial connection prob.', kind: 'float', help: 'per input→output' },
  { key: 'probAddConnection', label: 'P(add connection)', kind: 'float', help: 'mutation' },
  { key: 'probAddNode', label: 'P(add node)', kind: 'float', help: 'mutation' },
  { key: 'probEnable', label: 'P(enable connection)', kind: 'float', help: 'mutation' },
  { key: 'probChangeActivation', label: 'P(change activation)', kind: 'float', help: 'mutation' },
  { key: 'publishEvery', label: 'Publish every', kind: 'int', help: 'generations; 0 = at the end' },
  {
    key: 'recheckEvery',
    label: 'Re-check champion every',
    kind: 'int',
    help: 'generations, on more batches + test accuracy; 0 = off',
  },
  {
    key: 'recheckBatches',
    label: 'Re-check batches',
    kind: 'int',
    help: 'training batches per re-check',
    min: 1,
  },
  {
    // Optional in the schema (a config without it is recorded unchanged), so no server default.
    key: 'patience',
    label: 'Patience',
    kind: 'int',
    help: 'stop after this many generations without a new champion (training data); 0 = off',
    absent: 0,
  },
];

declare const WANN_CONFIG_DEFAULTS: ConfigValues;

/** The server's defaults (seed has none). */
export const DEFAULTS: ConfigValues = WANN_CONFIG_DEFAULTS;

function show(value: unknown): string {
  if (Array.isArray(value)) return value.join(', ');
  return value === undefined || value === null ? '' : String(value);
}

/**
 * Evaluators a local search gets: `npm start` runs one per core of this computer (at most 4 peers),
 * and the page is usually opened on that computer.
 */
function localEvaluators(): number {
  const cores = typeof navigator === 'undefined' ? 2 : navigator.hardwareConcurrency || 2;
  return Math.max(1, Math.min(4, cores));
}

/** The estimate line of the start form, from the population, generations and weights typed in. */
function updateEstimate(container: HTMLElement, out: HTMLElement): void {
  const number = (key: string) => Number(container.querySelector<HTMLInputElement>(`[name="${key}"]`)?.value);
  const population = number('population');
  const generations = number('generations');
  const weightsText = container.querySelector<HTMLInputElement>('[name="weights"]')?.value ?? '';
  const weights = weightsText.split(/[\s,]+/).filter(Boolean);
  if (!(population > 0 && generations > 0)) {
    out.textContent = 'Estimated time: – (population and generations are needed)';
    return;
  }
  const cores = localEvaluators();
  const e = estimateRun({ population, generations, weights: weights.map(Number) }, cores);
  out.textContent = `Estimated time: ${formatRange(e)}, likely ${formatSeconds(e.midS)}, with ${cores} evaluator${cores === 1 ? '' : 's'} (one per core, as \`npm start\` runs it here).`;
  out.title =
    'Networks grow during a search, so later generations take longer. Calibrated on the searches ' +
    'recorded on this machine (the range held the truth in most of them; README, ETA); the run ' +
    'page narrows it from the generations actually finished.';
  out.dataset.midS = String(Math.round(e.midS));
}

/**
 * Inputs for every field, filled with `values` (defaults where missing). With `estimate` (the
 * start form; not a fork, which continues bigger networks) a line below says how long it may take.
 */
export function renderFields(
  container: HTMLElement,
  values: ConfigValues,
  locked: readonly string[] = [],
  { estimate = true }: { estimate?: boolean } = {},
): void {
  container.replaceChildren();
  for (const f of FIELDS) {
    const id = `cfg-${f.key}`;
    const input = el('input', {
      id,
      name: f.key,
      type: f.kind === 'weights' ? 'text' : 'number',
      inputmode: f.kind === 'float' || f.kind === 'weights' ? 'decimal' : 'numeric',
      step: f.kind === 'float' ? 'any' : f.kind === 'weights' ? null : '1',
      min: f.min !== undefined ? String(f.min) : f.kind === 'weights' ? null : '0',
      max: f.kind === 'float' ? '1' : null,
      value: show(values[f.key] ?? DEFAULTS[f.key] ?? f.absent),
      placeholder: f.kind === 'seed' ? 'random' : null,
      disabled: locked.includes(f.key),
    });
    input.defaultValue = input.value;
    container.append(
      el(
        'label',
        { class: 'field', for: id },
        el('span', {}, f.label),
        input,
        el('small', { class: 'muted' }, f.help),
      ),
    );
    input.addEventListener('input', () => clearFieldError(input));
  }
  if (estimate) {
    const out = el('p', { class: 'estimate small', id: 'start-estimate', 'aria-live': 'polite' });
    container.append(out);
    updateEstimate(container, out);
    container.addEventListener('input', () => updateEstimate(container, out));
  }
}

/** A form value the browser let through but that is not a valid value of `field`. */
export class FieldError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
  }
}

function clearFieldError(input: HTMLInputElement): void {
  input.classList.remove('invalid');
  input.removeAttribute('aria-invalid');
  input.closest('.field')?.querySelector('.field-error')?.remove();
}

/** Removes every field's error mark. */
export function clearFieldErrors(container: HTMLElement): void {
  for (const input of container.querySelectorAll<HTMLInputElement>('input.invalid')) clearFieldError(input);
}

/**
 * Marks the fields an error names and puts its message next to each: a `FieldError` from
 * `readFields`, or the API's 400 `invalid_config`, whose message lists `path: message` parts
 * separated by `; ` (workers/api/errors.ts `describeIssues`; a path may carry a prefix such as
 * `config.`). Returns the fields marked (none: the caller shows the message on its own).
 */
export function showFieldErrors(container: HTMLElement, error: unknown): string[] {
  clearFieldErrors(container);
  const parts: [string, string][] = [];
  if (error instanceof FieldError) parts.push([error.field, error.message]);
  else if (error instanceof Error) {
    for (const part of error.message.split('; ')) {
      const match = /^([\w.[\]]+): (.+)$/.exec(part.trim());
      if (!match) continue;
      const key = match[1].split(/[.[\]]/).find((seg) => FIELDS.some((f) => f.key === seg));
      if (key) parts.push([key, match[2]]);
    }
  }
  const marked: string[] = [];
  for (const [key, message] of parts) {
    const input = container.querySelector<HTMLInputElement>(`[name="${key}"]`);
    if (!input || marked.includes(key)) continue;
    input.classList.add('invalid');
    input.setAttribute('aria-invalid', 'true');
    input.closest('.field')?.append(el('small', { class: 'field-error', 'data-field': key }, message));
    marked.push(key);
  }
  if (marked.length) container.querySelector<HTMLInputElement>(`[name="${marked[0]}"]`)?.focus();
  return marked;
}

/**
 * An API config error as a person reads it: each `key: message` part names the field by its form
 * label ("Population: at least 4 genomes"), and a key inside a message too.
 */
export function describeConfigError(message: string): string {
  const labelOf = new Map(FIELDS.map((f) => [f.key, f.label]));
  return message
    .split('; ')
    .map((part) => {
      const match = /^([\w.[\]]+): (.+)$/.exec(part.trim());
      if (!match) return part;
      const key = match[1].split(/[.[\]]/).find((seg) => labelOf.has(seg));
      const text = match[2].replace(/\b[a-z]+[A-Z]\w*\b/g, (k) => labelOf.get(k) ?? k);
      return key ? `${labelOf.get(key)}: ${text}` : `${match[1]}: ${text}`;
    })
    .join('; ');
}

/** Parses the inputs; throws a `FieldError` naming the field on input the browser let through. */
export function readFields(container: HTMLElement): ConfigValues {
  const out: ConfigValues = {};
  for (const f of FIELDS) {
    const input = container.querySelector<HTMLInputElement>(`[name="${f.key}"]`);
    if (!input || input.disabled) continue;
    const text = input.value.trim();
    if (f.kind === 'seed') {
      if (text !== '') out[f.key] = Number(text);
    } else if (f.kind === 'weights') {
      const parts = text
        .split(/[\s,]+/)
        .filter(Boolean)
        .map(Number);
      if (parts.some((w) => !Number.isFinite(w)))
        throw new FieldError(f.key, `${f.label}: numbers separated by commas`);
      out[f.key] = parts;
    } else {
      if (text === '' || !Number.isFinite(Number(text)))
        throw new FieldError(f.key, `${f.label}: a number is needed`);
      if (f.min !== undefined && Number(text) < f.min)
        throw new FieldError(f.key, `${f.label}: at least ${f.min}`);
      out[f.key] = Number(text);
    }
  }
  return out;
}

/** Only the fields that differ from `base` (what a fork sends as its edits). */
export function changedFields(values: ConfigValues, base: ConfigValues): ConfigValues {
  const out: ConfigValues = {};
  for (const [k, v] of Object.entries(values)) {
    // A field the base lacks reads as its `absent` value (patience 0 is no edit of a config without it).
    const was = base[k] ?? FIELDS.find((f) => f.key === k)?.absent;
    if (JSON.stringify(v) !== JSON.stringify(was)) out[k] = v;
  }
  return out;
}
