/**
 * The champion genome as an SVG: inputs as the 16×16 pixel grid they come from (pixels with an
 * enabled connection highlighted), hidden nodes in layers left to right (layer = longest path from
 * the inputs over enabled connections), outputs 0–9 on the right, nodes coloured by activation.
 */
import { ACTIVATION_IDS } from '../../src/wann/activation-ids';
import { layerNodes } from '../../src/wann/layout';
import type { GenomeJson } from './api';
import { el, svg } from './dom';

const ACT_NAMES: Record<number, string> = Object.fromEntries(
  Object.entries(ACTIVATION_IDS).map(([name, id]) => [id, name]),
);

/** One colour per activation id (colour-blind-friendly categorical palette). */
const ACT_COLOURS: Record<number, string> = {
  1: '#9e9e9e', // linear
  2: '#6d4c41', // step
  3: '#e69f00', // sin
  4: '#56b4e9', // gaussian
  5: '#009e73', // tanh
  6: '#f0e442', // sigmoid
  7: '#0072b2', // inverse
  8: '#d55e00', // abs
  9: '#cc79a7', // relu
  10: '#8c564b', // cos
  11: '#17becf', // squared
};

export function activationName(id: number): string {
  return ACT_NAMES[id] ?? `#${id}`;
}

export interface NetworkStats {
  hidden: number;
  enabled: number;
  layers: number;
  usedInputs: number;
}

export function renderNetwork(genome: GenomeJson): {
  svg: SVGSVGElement;
  legend: HTMLElement;
  stats: NetworkStats;
} {
  const { layer, depth } = layerNodes(genome);
  const side = Math.round(Math.sqrt(genome.inputs));
  const gridded = side * side === genome.inputs;
  const cell = 11;
  const gridX = 24;
  const columns = new Map<number, number[]>();
  for (const n of genome.nodes) {
    if (n.kind !== 'hidden' && n.kind !== 'output') continue;
    const l = layer.get(n.id) ?? depth;
    const col = columns.get(l) ?? [];
    col.push(n.id);
    columns.set(l, col);
  }
  const tallest = Math.max(0, ...[...columns.values()].map((c) => c.length));
  const gridH = gridded ? side * cell : 0;
  const height = Math.max(gridH + 80, Math.min(1400, tallest * 16 + 60));
  const width = 960;
  const gridTop = (height - gridH) / 2;
  const firstColX = gridX + (gridded ? side * cell : 0) + 40;
  const lastColX = width - 60;
  const pos = new Map<number, [number, number]>();

  // Inputs (ids 1..inputs) row-major in the grid, bias just above it.
  for (let i = 0; i < genome.inputs; i++) {
    const x = gridX + (i % side) * cell + cell / 2;
    const y = gridTop + Math.floor(i / side) * cell + cell / 2;
    pos.set(i + 1, [x, y]);
  }
  pos.set(0, [gridX + cell / 2, gridTop - 22]);
  for (const [l, ids] of columns) {
    // Columns spread evenly between the input grid and the outputs (outputs at layer `depth`).
    const x = firstColX + ((lastColX - firstColX) * l) / depth;
    const gap = Math.min(28, (height - 40) / ids.length);
    const top = height / 2 - (gap * (ids.length - 1)) / 2;
    ids.sort((a, b) => a - b);
    for (let k = 0; k < ids.length; k++) pos.set(ids[k], [x, top + k * gap]);
  }

  const used = new Set<number>();
  const touched = new Set<number>();
  const edges: SVGElement[] = [];
  let enabled = 0;
  for (const c of genome.conns) {
    if (!c.enabled) continue;
    enabled++;
    used.add(c.src);
    touched.add(c.src);
    touched.add(c.dst);
    const a = pos.get(c.src);
    const b = pos.get(c.dst);
    if (!a || !b) continue;
    edges.push(
      svg('line', {
        x1: a[0].toFixed(1),
        y1: a[1].toFixed(1),
        x2: b[0].toFixed(1),
        y2: b[1].toFixed(1),
        class: 'edge',
      }),
    );
  }

  const root = svg('svg', {
    viewBox: `0 0 ${width} ${height}`,
    role: 'img',
    'aria-label': `Champion network: ${enabled} enabled connections`,
    class: 'network-svg',
  });
  const grid = svg('g', { class: 'inputs' });
  if (gridded) {
    grid.append(
      svg('text', { x: gridX, y: gridTop + gridH + 18, class: 'caption' }, `inputs: ${side}×${side} pixels`),
    );
  }
  for (let i = 0; i < genome.inputs; i++) {
    const [x, y] = pos.get(i + 1)!;
    const on = used.has(i + 1);
    const rect = svg('rect', {
      x: (x - cell / 2 + 0.5).toFixed(1),
      y: (y - cell / 2 + 0.5).toFixed(1),
      width: cell - 1,
      height: cell - 1,
      class: on ? 'pixel on' : 'pixel',
    });
    rect.append(svg('title', {}, `input ${i + 1} (row ${Math.floor(i / side)}, column ${i % side})`));
    grid.append(rect);
  }
  const nodes = svg('g', { class: 'nodes' });
  const [bx, by] = pos.get(0)!;
  const bias = svg('circle', { cx: bx, cy: by, r: 5, class: used.has(0) ? 'bias on' : 'bias' });
  bias.append(svg('title', {}, 'bias (constant 1)'));
  nodes.append(bias, svg('text', { x: bx + 10, y: by + 4, class: 'caption' }, 'bias'));
  const present = new Set<number>();
  let hidden = 0;
  for (const n of genome.nodes) {
    if (n.kind !== 'hidden' && n.kind !== 'output') continue;
    const p = pos.get(n.id);
    if (!p) continue;
    if (n.kind === 'hidden') hidden++;
    present.add(n.act);
    const circle = svg('circle', {
      cx: p[0].toFixed(1),
      cy: p[1].toFixed(1),
      r: n.kind === 'output' ? 7 : 5,
      fill: ACT_COLOURS[n.act] ?? '#333',
      class: `${n.kind}${touched.has(n.id) ? '' : ' idle'}`,
    });
    const label = n.kind === 'output' ? `output ${n.id - genome.inputs - 1}` : `hidden node ${n.id}`;
    circle.append(svg('title', {}, `${label}: ${activationName(n.act)}, layer ${layer.get(n.id)}`));
    nodes.append(circle);
    if (n.kind === 'output') {
      nodes.append(
        svg('text', { x: p[0] + 12, y: p[1] + 4, class: 'digit-label' }, String(n.id - genome.inputs - 1)),
      );
    }
  }
  root.append(svg('g', { class: 'edges' }, ...edges), grid, nodes);

  const legend = el('ul', { class: 'legend-list' });
  for (const id of [...present].sort((a, b) => a - b)) {
    legend.append(
      el(
        'li',
        {},
        el('span', { class: 'swatch', style: `background:${ACT_COLOURS[id] ?? '#333'}` }),
        activationName(id),
      ),
    );
  }
  legend.append(el('li', {}, el('span', { class: 'swatch pixel-on' }), 'input pixel in use'));
  return {
    svg: root,
    legend,
    stats: {
      hidden,
      enabled,
      layers: depth + 1,
      usedInputs: [...used].filter((id) => id >= 1 && id <= genome.inputs).length,
    },
  };
}
