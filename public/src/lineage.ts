/**
 * A fork's lineage on its own page: "forked from <parent> at generation G" under the title, and the
 * parent's history before the fork point (its parent's before that, for a fork of a fork), read
 * from the parents' own generations, for the charts to draw dashed.
 */
import type { GenerationRecord } from '../../src/wann/record';
import { HttpError, type Run, requestJson } from './api';
import { el, replace } from './dom';

/** A generation row: those stored before the champion re-check have no `testAccuracy`. */
export type LineageRow = Omit<GenerationRecord, 'testAccuracy'> & { testAccuracy?: number | null };

/** Ancestors followed at most (a fork of a fork of …). */
const MAX_DEPTH = 8;

/**
 * The line under the title. The owner gets a link to the parent (its name when readable); a share
 * view only the generation, as the parent is not shared with it.
 */
export function renderForkLine(box: HTMLElement, run: Run, owner: boolean, parentName: string | null): void {
  if (!run.forkOf) {
    box.hidden = true;
    return;
  }
  const { runId, generation } = run.forkOf;
  const parent = owner
    ? el('a', { href: `/runs/${runId}`, id: 'fork-parent' }, parentName || runId.slice(0, 8))
    : el('span', { id: 'fork-parent' }, 'another run');
  replace(box, 'forked from ', parent, ` at generation ${generation}`);
  box.hidden = false;
}

/**
 * The history the fork inherits: each ancestor's generations before the point its child continues
 * from, oldest first; and the parent's name. Ancestors this credential cannot read (a share link
 * covers only its run) end the chain quietly: `note` says why.
 */
export async function inheritedHistory(
  run: Run,
): Promise<{ rows: LineageRow[]; parentName: string | null; note: string | null }> {
  const parts: LineageRow[][] = [];
  let parentName: string | null = null;
  let note: string | null = null;
  let child: Run = run;
  for (let depth = 0; child.forkOf && child.forkOf.generation > 0 && depth < MAX_DEPTH; depth++) {
    const { runId, generation } = child.forkOf;
    let parent: Run;
    try {
      parent = await requestJson<Run>(`/api/runs/${runId}`);
    } catch (e) {
      note =
        e instanceof HttpError && (e.status === 401 || e.status === 403 || e.status === 404)
          ? null
          : `the parent's history could not be read: ${(e as Error).message}`;
      break;
    }
    if (depth === 0) parentName = parent.name || null;
    const from = parent.forkOf?.generation ?? 0;
    const rows: LineageRow[] = [];
    let url: string | null = `/api/runs/${runId}/generations?after=${from - 1}&limit=${generation - from}`;
    while (url) {
      const page: { generations: LineageRow[]; next: string | null } = await requestJson(url);
      for (const g of page.generations) if (g.gen < generation) rows.push(g);
      const last = page.generations[page.generations.length - 1];
      url =
        page.next && last && last.gen < generation - 1
          ? new URL(page.next, location.href).pathname + new URL(page.next, location.href).search
          : null;
    }
    parts.unshift(rows);
    child = parent;
  }
  return { rows: parts.flat(), parentName, note };
}
