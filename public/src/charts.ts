/** Live search curves and the WANN signature plot, drawn with uPlot. */
import uPlot from 'uplot';
import type { GenerationRecord } from '../../src/wann/record';
import type { ModelVersion } from './api';

interface SeriesSpec {
  label: string;
  stroke: string;
  pick: (g: GenerationRecord) => number | null;
  scale?: string;
  dash?: number[];
  /** Shown in the legend as a percentage. */
  percent?: boolean;
}

const percent = (_u: uPlot, v: number | null) => (v === null ? '–' : `${(v * 100).toFixed(1)}%`);
const plain = (_u: uPlot, v: number | null) => (v === null ? '–' : v.toFixed(3));
const whole = (_u: uPlot, v: number | null) => (v === null ? '–' : v.toFixed(1));

function widthOf(container: HTMLElement): number {
  return Math.max(260, Math.floor(container.clientWidth || 320));
}

/** One chart over generations; `update` redraws from the full row list. */
class GenerationChart {
  private readonly plot: uPlot;
  constructor(
    readonly container: HTMLElement,
    private readonly specs: SeriesSpec[],
    axes: { left: string; right?: string },
  ) {
    const scales: uPlot.Scales = { x: { time: false } };
    const yAxes: uPlot.Axis[] = [{ scale: specs[0].scale ?? 'y', label: axes.left, size: 56 }];
    if (axes.right) {
      yAxes.push({ scale: 'y2', side: 1, label: axes.right, grid: { show: false }, size: 56 });
    }
    this.plot = new uPlot(
      {
        width: widthOf(container),
        height: 220,
        scales,
        legend: { live: true },
        cursor: { drag: { x: true, y: false } },
        series: [
          { label: 'generation', value: (_u, v) => (v === null ? '–' : String(v)) },
          ...specs.map(
            (s): uPlot.Series => ({
              label: s.label,
              stroke: s.stroke,
              width: 1.5,
              dash: s.dash,
              scale: s.scale ?? 'y',
              spanGaps: false,
              value: s.percent ? percent : s.scale === 'y2' ? whole : plain,
              points: { show: false },
            }),
          ),
        ],
        axes: [{ label: 'generation' }, ...yAxes],
      },
      [[], ...specs.map(() => [])],
      container,
    );
  }

  update(rows: readonly GenerationRecord[]): void {
    const xs = rows.map((r) => r.gen);
    this.plot.setData([xs, ...this.specs.map((s) => rows.map((r) => s.pick(r)))]);
    this.container.dataset.points = String(xs.length);
    // Without a cursor on the chart, the legend shows the latest generation's values.
    if (xs.length && this.plot.cursor.idx == null) this.plot.setLegend({ idx: xs.length - 1 });
  }

  resize(): void {
    this.plot.setSize({ width: widthOf(this.container), height: 220 });
  }

  get points(): number {
    return this.plot.data[0].length;
  }
}

export class SearchCharts {
  private readonly charts: GenerationChart[];
  constructor(fitness: HTMLElement, accuracy: HTMLElement, size: HTMLElement) {
    this.charts = [
      new GenerationChart(
        fitness,
        [
          { label: 'mean', stroke: '#0072b2', pick: (g) => g.fitnessMean },
          { label: 'median', stroke: '#56b4e9', pick: (g) => g.fitnessMedian, dash: [4, 3] },
          { label: 'max', stroke: '#009e73', pick: (g) => g.fitnessMax },
          { label: 'best ever', stroke: '#d55e00', pick: (g) => g.bestEverFitness },
        ],
        { left: 'fitness' },
      ),
      new GenerationChart(
        accuracy,
        [{ label: 'champion accuracy', stroke: '#cc79a7', pick: (g) => g.championAccuracy, percent: true }],
        { left: 'accuracy' },
      ),
      new GenerationChart(
        size,
        [
          { label: 'mean connections', stroke: '#e69f00', pick: (g) => g.meanConnections },
          { label: 'mean nodes', stroke: '#0072b2', pick: (g) => g.meanNodes, scale: 'y2' },
        ],
        { left: 'connections', right: 'nodes' },
      ),
    ];
    const observer = new ResizeObserver(() => {
      for (const c of this.charts) c.resize();
    });
    observer.observe(fitness);
  }

  update(rows: readonly GenerationRecord[]): void {
    for (const c of this.charts) c.update(rows);
  }
}

const VERSION_COLOURS = ['#0072b2', '#d55e00', '#009e73', '#cc79a7', '#e69f00', '#56b4e9', '#6d4c41'];

/**
 * Test accuracy against the shared weight, one line per published version (latest few), with the
 * ensemble's accuracy as a dashed level: the WANN signature (accuracy holds across weights).
 */
export function signatureChart(container: HTMLElement, versions: readonly ModelVersion[]): uPlot | null {
  const shown = [...versions].sort((a, b) => a.version - b.version).slice(-VERSION_COLOURS.length);
  if (shown.length === 0) return null;
  const weights = [...new Set(shown.flatMap((v) => v.weights))].sort((a, b) => a - b);
  const series: uPlot.Series[] = [
    { label: 'shared weight', value: (_u, v) => (v === null ? '–' : String(v)) },
  ];
  const data: (number | null)[][] = [weights];
  shown.forEach((v, k) => {
    const colour = VERSION_COLOURS[k % VERSION_COLOURS.length];
    series.push({
      label: `v${v.version} (gen ${v.generation})`,
      stroke: colour,
      width: 2,
      value: percent,
      points: { show: true, size: 6 },
    });
    data.push(
      weights.map((w) => {
        const i = v.weights.indexOf(w);
        return i < 0 ? null : v.testAccuracy[i];
      }),
    );
    series.push({
      label: `v${v.version} ensemble`,
      stroke: colour,
      width: 1,
      dash: [5, 4],
      value: percent,
      points: { show: false },
    });
    data.push(weights.map(() => v.ensembleTestAccuracy));
  });
  container.replaceChildren();
  return new uPlot(
    {
      width: widthOf(container),
      height: 240,
      legend: { live: false },
      scales: {
        x: { time: false },
        y: { range: (_u, min, max) => [Math.max(0, Math.min(min, 0.5) - 0.05), Math.min(1, max + 0.05)] },
      },
      series,
      axes: [
        { label: 'shared weight' },
        {
          label: 'test accuracy',
          size: 56,
          values: (_u, ticks) => ticks.map((t) => `${Math.round(t * 100)}%`),
        },
      ],
    },
    data as uPlot.AlignedData,
    container,
  );
}
