/**
 * A new run from a recorded run's config ("New run from this config" on the run page,
 * `wann start --from <run>`): the same search settings, dataset included, as a `POST /api/runs`
 * body. The seed is not carried (a repeat with another seed is the point; a seed given with the
 * request is used), nor the fork a run continued (a new run starts from generation 0).
 * zod-free: the pages bundle it.
 */

/** Recorded config fields a new run from it does not take over. */
export const NOT_CARRIED_TO_NEW_RUN = ['seed', 'forkOf'] as const;

/** The start body: `recorded` less what is not carried, then `changes` (a seed among them) on top. */
export function newRunConfig(
  recorded: Readonly<Record<string, unknown>>,
  changes: Readonly<Record<string, unknown>> = {},
): Record<string, unknown> {
  const carried = Object.fromEntries(
    Object.entries(recorded).filter(([k]) => !(NOT_CARRIED_TO_NEW_RUN as readonly string[]).includes(k)),
  );
  return { ...carried, ...changes };
}

/** The compare page's URL for runs (`/compare?runs=a,b,c`). */
export function compareUrl(base: string, ids: readonly string[]): string {
  return `${base.replace(/\/+$/, '')}/compare?runs=${ids.join(',')}`;
}
