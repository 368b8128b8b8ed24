/**
 * Overlaid curves for the compare page: one uPlot chart per metric, one colour per run, the same
 * generation axis on every chart (cursors synced, so hovering one chart shows every chart's values
 * at that generation). A fork's history inherited from its parent (up to the fork point) is drawn
 * dashed in the fork's colour, joined to the fork's own solid curve, with a dotted mark at the fork.
 */
import uPlot from 'uplot';

/** The fields of a generation record the compare page plots (older rows may lack `testAccuracy`). */
export interface CurvePoint {
  gen: number;
  bestEverFitness: number | null;
  /** Champion's accuracy on the fixed test subset; only on re-check generations. */
  testAccuracy: number | null;
  /** The best-ever champion's enabled connections. */
  championConnections: number | null;
  meanConnections: number;
  durationMs: number;
}

export interface RunCurves {
  runId: string;
  label: string;
  colour: string;
  /** The run's own generations, in order. */
  own: readonly CurvePoint[];
  /** For a fork: its ancestors' generations before the fork point, in order (else empty). */
  inherited: readonly CurvePoint[];
  /** For a fork: the generation it continues from (its first own generation); else null. */
  forkGeneration: number | null;
}

export interface Metric {
  title: string;
  axis: string;
  pick: (p: CurvePoint) => number | null;
  format: (v: number) => string;
  /** Recorded only now and then (test accuracy): drawn as points joined across the gaps. */
  sparse?: boolean;
  /** Tick labels of the y axis. */
  ticks?: (v: number) => string;
}

/** What the chart was given, per series: read by the browser tests from `data-series`. */
export interface SeriesSummary {
  runId: string;
  label: string;
  kind: 'own' | 'inherited';
  /** Generations with a value. */
  points: number;
}

const HEIGHT = 230;

function widthOf(container: HTMLElement): number {
  return Math.max(260, Math.floor(container.clientWidth || 320));
}

/**
 * One metric over generations 0…lastGen for every run. Gaps are `null` in dense metrics (the
 * legend then shows the inherited value, if any) and `undefined` in sparse ones (uPlot's cursor
 * skips `undefined`, so hovering between two checks shows the nearest check and its generation).
 */
export function overlayChart(
  container: HTMLElement,
  metric: Metric,
  runs: readonly RunCurves[],
  lastGen: number,
  syncKey: string,
): uPlot {
  const length = lastGen + 1;
  const xs = Array.from({ length }, (_, i) => i);
  const gap = metric.sparse ? undefined : null;
  const column = (points: readonly CurvePoint[]) => {
    const ys: (number | null | undefined)[] = new Array(length).fill(gap);
    for (const p of points) {
      const v = metric.pick(p);
      if (p.gen < length && v !== null && Number.isFinite(v)) ys[p.gen] = v;
    }
    return ys;
  };
  const hoverValue = (v: number | null | undefined, idx: number | null) => {
    if (v === null || v === undefined || idx === null) return '–';
    // A sparse series' legend may show a check from another generation than the cursor's.
    return metric.sparse ? `${metric.format(v)} @ ${idx}` : metric.format(v);
  };

  const series: uPlot.Series[] = [{ label: 'generation', value: (_u, v) => (v == null ? '–' : String(v)) }];
  const data: (number | null | undefined)[][] = [xs];
  const summaries: SeriesSummary[] = [];
  // Inherited (dashed) series are drawn first, under every run's own line: where the parent is
  // compared too, its solid line stays on top of the fork's copy of its history.
  const owned: uPlot.Series[] = [];
  const ownData: (number | null | undefined)[][] = [];
  const underneath: uPlot.Series[] = [];
  const underneathData: (number | null | undefined)[][] = [];
  for (const run of runs) {
    const own = column(run.own);
    const inherited = run.inherited.length ? column(run.inherited) : null;
    // Join the dashed prefix to the fork's first own point.
    if (inherited && run.forkGeneration !== null && run.forkGeneration < length) {
      const first = own[run.forkGeneration];
      if (first !== null && first !== undefined) inherited[run.forkGeneration] = first;
    }
    owned.push({
      label: run.label,
      stroke: run.colour,
      width: 2,
      spanGaps: metric.sparse === true,
      points: metric.sparse ? { show: true, size: 6, fill: run.colour } : { show: false },
      value: (_u, v, _s, idx) => {
        const shown = hoverValue(v, idx);
        // Before a fork's first generation its legend entry reads its parent's (inherited) value.
        if (shown === '–' && inherited && idx !== null && !metric.sparse) {
          const parent = inherited[idx];
          if (parent !== null && parent !== undefined) return `${metric.format(parent)} (parent)`;
        }
        return shown;
      },
    });
    ownData.push(own);
    summaries.push({ runId: run.runId, label: run.label, kind: 'own', points: count(own) });
    if (inherited) {
      underneath.push({
        label: `${run.label} (inherited)`,
        stroke: run.colour,
        width: 1.5,
        dash: [6, 4],
        spanGaps: metric.sparse === true,
        points: metric.sparse ? { show: true, size: 5, stroke: run.colour, fill: '#fff' } : { show: false },
        value: (_u, v, _s, idx) => hoverValue(v, idx),
      });
      underneathData.push(inherited);
      summaries.push({
        runId: run.runId,
        label: `${run.label} (inherited)`,
        kind: 'inherited',
        points: run.inherited.filter((p) => metric.pick(p) !== null).length,
      });
    }
  }

  series.push(...underneath, ...owned);
  data.push(...underneathData, ...ownData);
  const inheritedRows = underneath.map((_, i) => i + 1);

  // At rest (no cursor on any chart) each legend entry shows its series' latest value.
  const restIdxs = data.map((ys, i) => (i === 0 ? lastGen : lastIndex(ys)));
  const forks = runs.filter((r) => r.forkGeneration !== null && r.inherited.length > 0);
  const plot = new uPlot(
    {
      width: widthOf(container),
      height: HEIGHT,
      legend: { live: true },
      cursor: { sync: { key: syncKey }, drag: { x: true, y: false } },
      scales: { x: { time: false, range: () => [0, Math.max(1, lastGen)] } },
      series,
      axes: [
        { label: 'generation' },
        {
          label: metric.axis,
          size: 60,
          values: metric.ticks ? (_u, ticks) => ticks.map((t) => metric.ticks!(t)) : undefined,
        },
      ],
      hooks: {
        setCursor: [
          (u) => {
            if (u.cursor.idx == null) u.setLegend({ idxs: restIdxs });
          },
        ],
        // A dotted vertical mark, in the fork's colour, where each fork continues from its parent.
        draw: [
          (u) => {
            const { ctx, bbox } = u;
            ctx.save();
            ctx.setLineDash([2, 3]);
            ctx.lineWidth = 1;
            for (const f of forks) {
              const x = Math.round(u.valToPos(f.forkGeneration!, 'x', true));
              if (x < bbox.left || x > bbox.left + bbox.width) continue;
              ctx.strokeStyle = f.colour;
              ctx.beginPath();
              ctx.moveTo(x, bbox.top);
              ctx.lineTo(x, bbox.top + bbox.height);
              ctx.stroke();
            }
            ctx.restore();
          },
        ],
      },
    },
    data as uPlot.AlignedData,
    container,
  );
  // The inherited series share their fork's legend entry (which falls back to their values).
  const rows = plot.root.querySelectorAll('.u-legend .u-series');
  for (const i of inheritedRows) rows[i]?.classList.add('inherited');
  container.dataset.series = JSON.stringify(summaries);
  container.dataset.lastGen = String(lastGen);
  plot.setLegend({ idxs: restIdxs });
  return plot;
}

function lastIndex(ys: readonly (number | null | undefined)[]): number | null {
  for (let i = ys.length - 1; i >= 0; i--) if (ys[i] !== null && ys[i] !== undefined) return i;
  return null;
}

function count(ys: readonly (number | null | undefined)[]): number {
  let n = 0;
  for (const y of ys) if (y !== null && y !== undefined) n++;
  return n;
}

/** Keeps the charts as wide as their containers. */
export function keepWidth(plots: readonly { plot: uPlot; container: HTMLElement }[]): void {
  if (plots.length === 0) return;
  const observer = new ResizeObserver(() => {
    for (const { plot, container } of plots) plot.setSize({ width: widthOf(container), height: HEIGHT });
  });
  for (const { container } of plots) observer.observe(container);
}
