import { describe, expect, it } from 'vitest';
import { type LayoutGenome, layerNodes } from '../../src/wann/layout';

/** Bias 0, inputs 1–2, outputs 3–4, hidden from 5; `conns` as [src, dst, enabled?]. */
function genome(hidden: number, conns: [number, number, boolean?][]): LayoutGenome {
  const nodes: LayoutGenome['nodes'][number][] = [
    { id: 0, kind: 'bias' },
    { id: 1, kind: 'input' },
    { id: 2, kind: 'input' },
    { id: 3, kind: 'output' },
    { id: 4, kind: 'output' },
  ];
  for (let i = 0; i < hidden; i++) nodes.push({ id: 5 + i, kind: 'hidden' });
  return { nodes, conns: conns.map(([src, dst, enabled = true]) => ({ src, dst, enabled })) };
}

describe('layerNodes (longest path from the inputs)', () => {
  it('puts outputs right after the inputs when there are no hidden nodes', () => {
    const { layer, depth } = layerNodes(genome(0, [[1, 3]]));
    expect(depth).toBe(1);
    expect([0, 1, 2, 3, 4].map((id) => layer.get(id))).toEqual([0, 0, 0, 1, 1]);
  });

  it('uses the longest enabled path, and outputs share the last layer', () => {
    // 1 → 5 → 6 → 7 → 3, and a shortcut 1 → 7: 7 stays at layer 3.
    const g = genome(3, [
      [1, 5],
      [5, 6],
      [6, 7],
      [1, 7],
      [7, 3],
      [2, 4],
    ]);
    const { layer, depth } = layerNodes(g);
    expect([5, 6, 7].map((id) => layer.get(id))).toEqual([1, 2, 3]);
    expect(depth).toBe(4);
    expect(layer.get(3)).toBe(4);
    expect(layer.get(4)).toBe(4);
  });

  it('ignores disabled connections and keeps unconnected hidden nodes at layer 1', () => {
    const g = genome(3, [
      [1, 5],
      [5, 6, false],
      [6, 3],
    ]);
    const { layer, depth } = layerNodes(g);
    expect(layer.get(5)).toBe(1);
    expect(layer.get(6)).toBe(1); // its only source link is disabled
    expect(layer.get(7)).toBe(1);
    expect(depth).toBe(2);
  });

  it('handles a deep chain without recursion limits', () => {
    const n = 20_000;
    const conns: [number, number][] = [[1, 5]];
    for (let i = 0; i < n - 1; i++) conns.push([5 + i, 6 + i]);
    const { layer, depth } = layerNodes(genome(n, conns));
    expect(layer.get(5 + n - 1)).toBe(n);
    expect(depth).toBe(n + 1);
  });
});
