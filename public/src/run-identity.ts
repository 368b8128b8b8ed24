/**
 * A run's identity (name, tags, notes) on the run page header, editable in place by the owner
 * (`PATCH /api/runs/{id}`), read-only in a share view; and the same three inputs for the
 * dashboard's start form. The limits are the API's (src/api/types.ts); the server checks them again
 * and an error it names a field in is shown next to that field.
 */
import type { RunIdentity } from '../../src/api/types';
import { editRun, type Run } from './api';
import { el, replace } from './dom';

/** The API's limits (src/api/types.ts: RUN_NAME_MAX, RUN_TAGS_MAX, RUN_NOTES_MAX), for the inputs. */
const NAME_MAX = 100;
const NOTES_MAX = 4000;

const KEYS = ['name', 'tags', 'notes'] as const;

/** Tags as typed: separated by commas or spaces, lower-cased (the server also checks them). */
export function parseTags(text: string): string[] {
  return [
    ...new Set(
      text
        .split(/[\s,]+/)
        .map((t) => t.trim().toLowerCase())
        .filter(Boolean),
    ),
  ];
}

/** Name, tags and notes inputs (ids prefixed with `prefix`), filled from `value`. */
export function identityFields(prefix: string, value: Partial<RunIdentity> = {}): HTMLElement {
  const name = el('input', {
    id: `${prefix}-name`,
    name: 'name',
    type: 'text',
    maxlength: NAME_MAX,
    placeholder: 'e.g. baseline, seed 1',
    value: value.name ?? '',
    autocomplete: 'off',
  });
  const tags = el('input', {
    id: `${prefix}-tags`,
    name: 'tags',
    type: 'text',
    placeholder: 'e.g. baseline mnist',
    value: (value.tags ?? []).join(', '),
    autocomplete: 'off',
  });
  const notes = el('textarea', { id: `${prefix}-notes`, name: 'notes', rows: 3, maxlength: NOTES_MAX });
  notes.value = value.notes ?? '';
  const field = (label: string, input: HTMLElement, help: string) =>
    el(
      'label',
      { class: 'field', for: input.id },
      el('span', {}, label),
      input,
      el('small', { class: 'muted' }, help),
    );
  const box = el(
    'div',
    { class: 'fields identity-fields' },
    field('Name', name, `optional, up to ${NAME_MAX} characters`),
    field('Tags', tags, 'comma-separated; a-z 0-9 . _ -'),
    el(
      'label',
      { class: 'field wide', for: notes.id },
      el('span', {}, 'Notes'),
      notes,
      el('small', { class: 'muted' }, 'what this run tries, for later'),
    ),
  );
  for (const input of [name, tags, notes]) input.addEventListener('input', () => clearError(input));
  return box;
}

/** What the inputs of `identityFields` hold. */
export function readIdentity(box: HTMLElement): RunIdentity {
  const value = (key: string) =>
    box.querySelector<HTMLInputElement | HTMLTextAreaElement>(`[name="${key}"]`)?.value ?? '';
  return { name: value('name').trim(), tags: parseTags(value('tags')), notes: value('notes') };
}

function clearError(input: Element): void {
  input.classList.remove('invalid');
  input.removeAttribute('aria-invalid');
  input.closest('.field')?.querySelector('.field-error')?.remove();
}

/**
 * Marks the identity inputs an API error names (`name: …; tags.1: …`, as workers/api/errors.ts
 * writes them) and shows each message beside its input; returns the keys marked.
 */
export function showIdentityErrors(box: HTMLElement, error: unknown): string[] {
  for (const input of box.querySelectorAll('.invalid')) clearError(input);
  if (!(error instanceof Error)) return [];
  const marked: string[] = [];
  for (const part of error.message.split('; ')) {
    const match = /^(\w+)(?:\.\d+)?: (.+)$/.exec(part.trim());
    const key = match?.[1];
    if (!match || !key || !(KEYS as readonly string[]).includes(key) || marked.includes(key)) continue;
    const input = box.querySelector(`[name="${key}"]`);
    if (!input) continue;
    input.classList.add('invalid');
    input.setAttribute('aria-invalid', 'true');
    input.closest('.field')?.append(el('small', { class: 'field-error', 'data-field': key }, match[2]));
    marked.push(key);
  }
  return marked;
}

export interface RunIdentityView {
  /** Shows a newer copy of the run (e.g. after a refresh). */
  update(run: Run): void;
}

/**
 * Mounts the identity block into `container`: the name, tag chips and notes; for the owner an
 * Edit button that turns it into a form saved with `PATCH {api}`. `onChange` hears the saved run.
 */
export function mountRunIdentity(
  container: HTMLElement,
  options: { run: Run; api: string; owner: boolean; onChange?: (run: Run) => void },
): RunIdentityView {
  let run = options.run;
  let editing = false;
  container.classList.add('run-identity');

  const show = () => {
    if (editing) return;
    const tags = run.tags.length
      ? el('ul', { class: 'tags', id: 'run-tags' }, ...run.tags.map((t) => el('li', { class: 'tag' }, t)))
      : null;
    const notes = run.notes ? el('p', { class: 'notes', id: 'run-notes' }, run.notes) : null;
    let edit: HTMLButtonElement | null = null;
    if (options.owner) {
      edit = el(
        'button',
        { type: 'button', class: 'secondary small', id: 'identity-edit' },
        run.name || run.tags.length || run.notes ? 'Edit name, tags, notes' : 'Add a name, tags, notes',
      );
      edit.addEventListener('click', startEditing);
    }
    replace(
      container,
      el(
        'div',
        { class: 'row wrap identity-head' },
        el(
          'span',
          { class: run.name ? 'run-name' : 'run-name muted', id: 'run-name' },
          run.name || 'Unnamed run',
        ),
        tags,
        edit,
      ),
      notes,
    );
  };

  const startEditing = () => {
    editing = true;
    const fields = identityFields('identity', run);
    const error = el('p', { class: 'error', id: 'identity-error', hidden: true });
    const save = el('button', { type: 'submit', id: 'identity-save' }, 'Save');
    const cancel = el('button', { type: 'button', class: 'secondary' }, 'Cancel');
    const form = el(
      'form',
      { id: 'identity-form' },
      fields,
      error,
      el('div', { class: 'row wrap' }, save, cancel),
    );
    cancel.addEventListener('click', () => {
      editing = false;
      show();
    });
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      error.hidden = true;
      save.disabled = true;
      try {
        run = await editRun(options.api, readIdentity(fields));
        editing = false;
        show();
        options.onChange?.(run);
      } catch (err) {
        const marked = showIdentityErrors(fields, err);
        error.textContent = `Not saved: ${marked.length ? 'see the marked field' : (err as Error).message}`;
        error.hidden = false;
        save.disabled = false;
      }
    });
    replace(container, form);
    fields.querySelector<HTMLInputElement>('[name="name"]')?.focus();
  };

  show();
  return {
    update(next: Run) {
      run = next;
      show();
    },
  };
}
