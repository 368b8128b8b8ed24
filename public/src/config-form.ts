/**
 * The search-config fields as form inputs. Their defaults come from the server's own zod schema
 * (src/wann/config.ts), evaluated at build time (scripts/build-pages.ts defines
 * `WANN_CONFIG_DEFAULTS`) so the form and the API cannot disagree and zod stays out of the page.
 */
import { el } from './dom';

export type ConfigValues = Record<string, number | number[] | undefined>;

interface Field {
  key: string;
  label: string;
  kind: 'int' | 'float' | 'weights' | 'seed';
  help: string;
}

export const FIELDS: readonly Field[] = [
  { key: 'population', label: 'Population', kind: 'int', help: 'genomes per generation' },
  { key: 'generations', label: 'Generations', kind: 'int', help: 'generation budget' },
  { key: 'seed', label: 'Seed', kind: 'seed', help: 'empty: the server draws one' },
  { key: 'weights', label: 'Shared weights', kind: 'weights', help: 'comma-separated' },
  { key: 'trainShards', label: 'Training shards', kind: 'int', help: 'batches drawn from them' },
  { key: 'sliceSize', label: 'Slice size', kind: 'int', help: 'genomes per slice task' },
  { key: 'probConnectionObjective', label: 'P(connections objective)', kind: 'float', help: 'else mean+max' },
  { key: 'cullRatio', label: 'Cull ratio', kind: 'float', help: 'worst fraction not bred' },
  { key: 'eliteRatio', label: 'Elite ratio', kind: 'float', help: 'best fraction kept' },
  { key: 'tournamentSize', label: 'Tournament size', kind: 'int', help: '≤ population' },
  { key: 'initEnableProb', label: 'Initial connection prob.', kind: 'float', help: 'per input→output' },
  { key: 'probAddConnection', label: 'P(add connection)', kind: 'float', help: 'mutation' },
  { key: 'probAddNode', label: 'P(add node)', kind: 'float', help: 'mutation' },
  { key: 'probEnable', label: 'P(enable connection)', kind: 'float', help: 'mutation' },
  { key: 'probChangeActivation', label: 'P(change activation)', kind: 'float', help: 'mutation' },
  { key: 'publishEvery', label: 'Publish every', kind: 'int', help: 'generations; 0 = at the end' },
];

declare const WANN_CONFIG_DEFAULTS: ConfigValues;

/** The server's defaults (seed has none). */
export const DEFAULTS: ConfigValues = WANN_CONFIG_DEFAULTS;

function show(value: unknown): string {
  if (Array.isArray(value)) return value.join(', ');
  return value === undefined || value === null ? '' : String(value);
}

/** Inputs for every field, filled with `values` (defaults where missing). */
export function renderFields(
  container: HTMLElement,
  values: ConfigValues,
  locked: readonly string[] = [],
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
      min: f.kind === 'float' || f.kind === 'seed' ? '0' : f.kind === 'int' ? '0' : null,
      max: f.kind === 'float' ? '1' : null,
      value: show(values[f.key] ?? DEFAULTS[f.key]),
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
  }
}

/** Parses the inputs; throws an Error naming the field on input the browser let through. */
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
      if (parts.some((w) => !Number.isFinite(w))) throw new Error(`${f.label}: numbers separated by commas`);
      out[f.key] = parts;
    } else {
      if (text === '' || !Number.isFinite(Number(text))) throw new Error(`${f.label}: a number is needed`);
      out[f.key] = Number(text);
    }
  }
  return out;
}

/** Only the fields that differ from `base` (what a fork sends as its edits). */
export function changedFields(values: ConfigValues, base: ConfigValues): ConfigValues {
  const out: ConfigValues = {};
  for (const [k, v] of Object.entries(values)) {
    if (JSON.stringify(v) !== JSON.stringify(base[k])) out[k] = v;
  }
  return out;
}
