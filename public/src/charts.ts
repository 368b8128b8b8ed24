/**
 * Live search curves and the WANN signature plot, drawn with uPlot. Every chart over generations
 * shares one x range (the generations recorded so far) and one cursor, so the same generation lines
 * up in all four; accuracies are percentages, sizes count hidden nodes (as the network caption does).
 */
import uPlot from 'uplot';
import type { GenerationRecord } from '../../src/wann/record';
import type { ModelVersion } from './api';

/** Nodes every MNIST genome has that are not hidden: the bias, 256 inputs and 10 outputs. */
export const FIXED_NODES = 1 + 256 + 10;

/** What the charts say fitness is (src/wann, WANN.md "Evaluating one genome"). */
export const FITNESS_EXPLAINED =
  'Fitness of a genome = the mean log-likelihood of the correct digit (minus the cross-entropy) on ' +
  "the generation's 1,000 training images, averaged over the shared weights. Higher is better: " +
  '0 would be certain and right every time; −2.30 (ln 1/10) is guessing.';

/** A record as the pages may receive it: rows stored before the re-check have no `testAccuracy`. */
type Row = Omit<GenerationRecord, 'testAccuracy'> & { testAccuracy?: number | null };

interface SeriesSpec {
  label: string;
  stroke: string;
  pick: (g: Row) => number | null;
  scale?: string;
  dash?: number[];
  /** Shown as a percentage (values are fractions). */
  percent?: boolean;
  /** Markers only, joined across the generations without a value (sparse measurements). */
  sparse?: boolean;
  /** Digits in the legend. */
  digits?: number;
}

const HEIGHT = 200;
const percentValue = (_u: uPlot, v: number | null) => (v == null ? '–' : `${(v * 100).toFixed(1)}%`);
const percentTicks = (_u: uPlot, ticks: number[]) => ticks.map((t) => `${Math.round(t * 100)}%`);

function widthOf(container: HTMLElement): number {
  return Math.max(260, Math.floor(container.clientWidth || 320));
}

/** One chart over generations; `update` redraws from the full row list. */
class GenerationChart {
  private readonly plot: uPlot;
  constructor(
    readonly container: HTMLElement,
    private readonly specs: SeriesSpec[],
    axes: { left: string; right?: string; leftPercent?: boolean },
    xRange: () => uPlot.Range.MinMax,
    private readonly forked = false,
  ) {
    const scales: uPlot.Scales = { x: { time: false, range: xRange } };
    if (axes.leftPercent)
      scales.y = { range: (_u, min, max) => [Math.max(0, min - 0.05), Math.min(1, max + 0.05)] };
    const yAxes: uPlot.Axis[] = [
      {
        scale: specs[0].scale ?? 'y',
        label: axes.left,
        size: 56,
        values: axes.leftPercent ? percentTicks : undefined,
      },
    ];
    if (axes.right) {
      yAxes.push({ scale: 'y2', side: 1, label: axes.right, grid: { show: false }, size: 56 });
    }
    this.plot = new uPlot(
      {
        width: widthOf(container),
        height: HEIGHT,
        scales,
        legend: { live: true },
        // One cursor across the run's charts: hovering a generation shows it in every legend.
        cursor: { drag: { x: true, y: false }, sync: { key: 'wann-generations' } },
        series: [
          { label: 'generation', value: (_u, v) => (v == null ? '–' : String(v)) },
          ...specs.map(
            (s): uPlot.Series => ({
              label: s.label,
              stroke: s.stroke,
              width: s.sparse ? 1 : 1.5,
              dash: s.dash,
              scale: s.scale ?? 'y',
              spanGaps: s.sparse === true,
              value: s.percent ? percentValue : (_u, v) => (v == null ? '–' : v.toFixed(s.digits ?? 3)),
              points: s.sparse ? { show: true, size: 6, fill: s.stroke } : { show: false },
            }),
          ),
          // A fork's parent history before the fork point: the same series, thin and dashed.
          ...(forked ? specs.map((s) => inheritedSeries(s)) : []),
        ],
        axes: [{ label: 'generation' }, ...yAxes],
        hooks: {
          // When the cursor leaves the charts, the legends go back to the latest generation.
          setCursor: [
            (u) => {
              const last = u.data[0].length - 1;
              if (u.cursor.idx == null && last >= 0) queueMicrotask(() => u.setLegend({ idx: last }));
            },
          ],
        },
      },
      [[], ...specs.map(() => []), ...(forked ? specs.map(() => []) : [])],
      container,
    );
  }

  /** Redraw from the run's rows, after `inherited` (a fork's parent history, drawn dashed). */
  update(rows: readonly Row[], inherited: readonly Row[] = []): void {
    const before = this.forked ? inherited.filter((r) => !rows.length || r.gen < rows[0].gen) : [];
    const xs = [...before.map((r) => r.gen), ...rows.map((r) => r.gen)];
    const own = this.specs.map((s) => [...before.map(() => null), ...rows.map((r) => s.pick(r))]);
    // Each parent line runs on to the fork's first point, so the two join at the fork.
    const parent = this.forked
      ? this.specs.map((s) => [
          ...before.map((r) => s.pick(r)),
          ...rows.map((r, i) => (i === 0 && before.length ? s.pick(r) : null)),
        ])
      : [];
    this.plot.setData([xs, ...own, ...parent]);
    this.container.dataset.points = String(rows.length);
    this.container.dataset.inheritedPoints = String(before.length);
    // Without a cursor on the chart, the legend shows the latest generation's values.
    if (xs.length && this.plot.cursor.idx == null) this.plot.setLegend({ idx: xs.length - 1 });
  }

  resize(): void {
    this.plot.setSize({ width: widthOf(this.container), height: HEIGHT });
  }

  get points(): number {
    return this.plot.data[0].length;
  }
}

/** The dashed twin of a series, for a fork's parent history. */
function inheritedSeries(s: SeriesSpec): uPlot.Series {
  return {
    label: `${s.label} (parent)`,
    stroke: s.stroke,
    width: 1,
    dash: [3, 4],
    scale: s.scale ?? 'y',
    spanGaps: s.sparse === true,
    value: s.percent ? percentValue : (_u, v) => (v == null ? '–' : v.toFixed(s.digits ?? 3)),
    points: s.sparse ? { show: true, size: 4, stroke: s.stroke, fill: '#fff' } : { show: false },
  };
}

export interface ChartContainers {
  fitness: HTMLElement;
  accuracy: HTMLElement;
  size: HTMLElement;
  speed: HTMLElement;
}

export class SearchCharts {
  private readonly charts: GenerationChart[];
  /** The x range of every chart: the generations recorded (one generation wide at least). */
  private xRange: uPlot.Range.MinMax = [0, 1];
  /** A fork's parent history (before the fork point), drawn dashed on every chart. */
  private inherited: readonly Row[] = [];
  constructor(
    private readonly at: ChartContainers,
    /** Whether the run is a fork: its charts get the dashed parent series. */
    forked = false,
  ) {
    const x = () => this.xRange;
    this.charts = [
      new GenerationChart(
        at.fitness,
        [
          { label: 'population mean', stroke: '#0072b2', pick: (g) => g.fitnessMean },
          { label: 'median', stroke: '#56b4e9', pick: (g) => g.fitnessMedian, dash: [4, 3] },
          { label: 'best this generation', stroke: '#009e73', pick: (g) => g.fitnessMax },
          { label: 'champion', stroke: '#d55e00', pick: (g) => g.bestEverFitness },
        ],
        { left: 'fitness' },
        x,
        forked,
      ),
      new GenerationChart(
        at.accuracy,
        [
          {
            label: 'best of generation (training batch)',
            stroke: '#cc79a7',
            pick: (g) => g.championAccuracy,
            percent: true,
          },
          {
            label: 'champion (test subset)',
            stroke: '#000000',
            pick: (g) => g.testAccuracy ?? null,
            percent: true,
            sparse: true,
          },
        ],
        { left: 'accuracy', leftPercent: true },
        x,
        forked,
      ),
      new GenerationChart(
        at.size,
        [
          { label: 'mean connections', stroke: '#e69f00', pick: (g) => g.meanConnections, digits: 1 },
          {
            label: 'mean hidden nodes',
            stroke: '#0072b2',
            pick: (g) => g.meanNodes - FIXED_NODES,
            scale: 'y2',
            digits: 1,
          },
        ],
        { left: 'connections', right: 'hidden nodes' },
        x,
        forked,
      ),
      new GenerationChart(
        at.speed,
        [
          { label: 's / generation', stroke: '#6d4c41', pick: (g) => g.durationMs / 1000, digits: 2 },
          {
            label: 'mean connections',
            stroke: '#e69f00',
            pick: (g) => g.meanConnections,
            scale: 'y2',
            dash: [4, 3],
            digits: 1,
          },
        ],
        { left: 'seconds', right: 'connections' },
        x,
        forked,
      ),
    ];
    const observer = new ResizeObserver(() => {
      for (const c of this.charts) c.resize();
    });
    observer.observe(at.fitness);
  }

  /** A fork's parent history: drawn from the next `update` on. */
  setInherited(rows: readonly Row[]): void {
    this.inherited = rows;
  }

  update(rows: readonly Row[]): void {
    const before = this.inherited.length ? this.inherited[0].gen : null;
    const first = before ?? (rows.length ? rows[0].gen : 0);
    const last = rows.length ? rows[rows.length - 1].gen : (this.inherited.at(-1)?.gen ?? 1);
    this.xRange = [first, Math.max(last, first + 1)];
    for (const c of this.charts) c.update(rows, this.inherited);
    this.at.accuracy.dataset.testPoints = String(rows.filter((r) => r.testAccuracy != null).length);
  }
}

const VERSION_COLOURS = ['#0072b2', '#d55e00', '#009e73', '#cc79a7', '#e69f00', '#56b4e9', '#6d4c41'];

/**
 * Test accuracy (10,000 test images) against the shared weight, one set of markers per published
 * version (latest few): markers only at the weights that were tested (nothing is drawn between
 * them), the ensemble's accuracy as a dashed level, the tuned weight as a large ring. A version with
 * trained per-connection weights has no shared weight: its accuracy is a dotted level. This is the
 * WANN signature: a good weight-agnostic network keeps its accuracy across the weights.
 */
export function signatureChart(container: HTMLElement, versions: readonly ModelVersion[]): uPlot | null {
  const shown = [...versions].sort((a, b) => a.version - b.version).slice(-VERSION_COLOURS.length);
  if (shown.length === 0) return null;
  const shared = shown.filter((v) => v.weights.length > 0);
  const weights = [...new Set(shared.flatMap((v) => [...v.weights, v.tunedWeight]))].sort((a, b) => a - b);
  if (weights.length === 0) weights.push(-2, 2);
  const series: uPlot.Series[] = [
    { label: 'shared weight', value: (_u, v) => (v == null ? '–' : String(v)) },
  ];
  const data: (number | null)[][] = [weights];
  const none = () => null;
  let tunedMarkers = 0;
  shown.forEach((v, k) => {
    const colour = VERSION_COLOURS[k % VERSION_COLOURS.length];
    if (v.weights.length === 0) {
      series.push({
        label: `v${v.version} trained weights${v.trainedFrom ? ` (from v${v.trainedFrom})` : ''}`,
        stroke: colour,
        width: 1.5,
        dash: [2, 3],
        value: percentValue,
        points: { show: false },
      });
      data.push(weights.map(() => v.ensembleTestAccuracy));
      return;
    }
    series.push({
      label: `v${v.version} (gen ${v.generation})`,
      stroke: colour,
      width: 0,
      paths: none,
      value: percentValue,
      points: { show: true, size: 8, fill: colour, stroke: colour },
    });
    data.push(
      weights.map((w) => {
        const i = v.weights.indexOf(w);
        return i < 0 ? null : v.testAccuracy[i];
      }),
    );
    series.push({
      label: `v${v.version} tuned weight ${v.tunedWeight}`,
      stroke: colour,
      width: 0,
      paths: none,
      value: percentValue,
      points: { show: true, size: 15, width: 2, fill: 'rgba(255,255,255,0)', stroke: colour },
    });
    data.push(weights.map((w) => (w === v.tunedWeight ? v.tunedTestAccuracy : null)));
    tunedMarkers++;
    series.push({
      label: `v${v.version} ensemble`,
      stroke: colour,
      width: 1,
      dash: [5, 4],
      value: percentValue,
      points: { show: false },
    });
    data.push(weights.map(() => v.ensembleTestAccuracy));
  });
  container.replaceChildren();
  container.dataset.versions = String(shown.length);
  container.dataset.tunedMarkers = String(tunedMarkers);
  container.dataset.weights = weights.join(',');
  return new uPlot(
    {
      width: widthOf(container),
      height: 240,
      legend: { live: true },
      cursor: { points: { size: 10 } },
      scales: {
        x: {
          time: false,
          range: (_u, min, max) => {
            const pad = Math.max(0.1, (max - min) * 0.06);
            return [min - pad, max + pad];
          },
        },
        y: { range: (_u, min, max) => [Math.max(0, Math.min(min, 0.5) - 0.05), Math.min(1, max + 0.05)] },
      },
      series,
      axes: [
        { label: 'shared weight (tested values only)' },
        { label: 'test accuracy', size: 56, values: percentTicks },
      ],
    },
    data as uPlot.AlignedData,
    container,
  );
}
