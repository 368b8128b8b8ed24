/**
 * A few DOM helpers: elements are built with text nodes only, never from HTML strings, and styled
 * through the CSSOM (the pages' Content-Security-Policy allows no inline script or style).
 */

type Child = Node | string | number | null | undefined | false;
type Attrs = Record<string, string | number | boolean | null | undefined>;

export function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Attrs = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (k === 'class') node.className = String(v);
    // Through the CSSOM: the Content-Security-Policy refuses inline style attributes.
    else if (k === 'style') node.style.cssText = String(v);
    else node.setAttribute(k, v === true ? '' : String(v));
  }
  append(node, ...children);
  return node;
}

export function append(parent: Node, ...children: Child[]): void {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    parent.appendChild(
      typeof c === 'string' || typeof c === 'number' ? document.createTextNode(String(c)) : c,
    );
  }
}

export function replace(parent: Element, ...children: Child[]): void {
  parent.replaceChildren();
  append(parent, ...children);
}

export function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const node = document.getElementById(id);
  if (!node) throw new Error(`#${id} is missing from the page`);
  return node as T;
}

const SVG_NS = 'http://www.w3.org/2000/svg';

export function svg<K extends keyof SVGElementTagNameMap>(
  tag: K,
  attrs: Record<string, string | number> = {},
  ...children: (SVGElement | string)[]
): SVGElementTagNameMap[K] {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  for (const c of children) node.append(c);
  return node;
}

export function fmt(value: number | null | undefined, digits = 3): string {
  return typeof value === 'number' && Number.isFinite(value) ? value.toFixed(digits) : '–';
}

export function pct(value: number | null | undefined, digits = 1): string {
  return typeof value === 'number' && Number.isFinite(value) ? `${(value * 100).toFixed(digits)}%` : '–';
}

export function mean(values: readonly number[] | null | undefined): number | null {
  if (!values || values.length === 0) return null;
  let s = 0;
  for (const v of values) s += v;
  return s / values.length;
}

export function duration(ms: number | null | undefined): string {
  if (typeof ms !== 'number' || !Number.isFinite(ms) || ms < 0) return '–';
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${String(s % 60).padStart(2, '0')}s`;
  const h = Math.floor(m / 60);
  return `${h}h ${String(m % 60).padStart(2, '0')}m`;
}

export function when(iso: string | null | undefined): string {
  if (!iso) return '–';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? '–' : d.toLocaleString();
}

/**
 * A small "i" that explains a term: its `title` shows on hover, and a click or tap (phones have no
 * hover) toggles the same text in a popover beside it.
 */
export function info(text: string, id?: string): HTMLElement {
  const note = el('span', { class: 'info-text', role: 'tooltip', hidden: true }, text);
  const button = el(
    'button',
    { type: 'button', class: 'info', title: text, 'aria-label': 'what is this?', 'data-info': id },
    'i',
  );
  button.addEventListener('click', () => {
    note.hidden = !note.hidden;
    if (!note.hidden) keepInView(note);
  });
  return el('span', { class: 'info-wrap' }, button, note);
}

/** Room kept between an open explanation and the window's edges (px). */
const EDGE = 8;

/**
 * An explanation opens at its button's left edge; one near the right edge of the window (a phone,
 * the last column of facts) is moved left until it fits, never past the window's left edge.
 */
function keepInView(note: HTMLElement): void {
  note.style.left = '';
  const rect = note.getBoundingClientRect();
  const width = document.documentElement.clientWidth;
  const over = rect.right - (width - EDGE);
  if (over > 0) note.style.left = `${-Math.min(over, Math.max(0, rect.left - EDGE))}px`;
}

/**
 * Asks before an action that cannot be undone, in a modal `<dialog>` (not `window.confirm`, which
 * blocks the page and cannot be styled): resolves true only on the confirm button.
 */
export function confirmAction(message: string, confirmLabel: string): Promise<boolean> {
  const dialog = el('dialog', { class: 'confirm', id: 'confirm-dialog', 'aria-label': confirmLabel });
  const yes = el('button', { type: 'button', class: 'danger', id: 'confirm-yes' }, confirmLabel);
  const no = el('button', { type: 'button', class: 'secondary', id: 'confirm-no' }, 'Keep it');
  append(dialog, el('p', {}, message), el('div', { class: 'row wrap' }, yes, no));
  document.body.append(dialog);
  return new Promise((resolve) => {
    const done = (answer: boolean) => {
      dialog.close();
      dialog.remove();
      resolve(answer);
    };
    yes.addEventListener('click', () => done(true));
    no.addEventListener('click', () => done(false));
    // Escape closes the dialog: the same as "keep it".
    dialog.addEventListener('cancel', (e) => {
      e.preventDefault();
      done(false);
    });
    dialog.showModal();
    no.focus();
  });
}

/**
 * Shows `hint` only while `wrap` scrolls sideways (a table wider than its box), now and after each
 * resize: the edge shadow of `.scroll-cue` is easy to miss on a phone.
 */
export function showScrollHintWhileOverflowing(wrap: HTMLElement, hint: HTMLElement): () => void {
  const update = () => {
    hint.hidden = wrap.scrollWidth <= wrap.clientWidth + 1;
  };
  update();
  window.addEventListener('resize', update);
  return update;
}
