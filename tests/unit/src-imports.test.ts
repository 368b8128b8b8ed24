/**
 * `src/` is the platform-free core (DESIGN.md "Layout"): it imports nothing from the Workers, the D1
 * schema or the `cloudflare:*` modules, so it runs in Node, workerd and a browser alike, and the
 * schema depends on it, never the other way round. Checked on the source itself.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

describe('src/ depends on no platform layer', () => {
  it.each(sources('src'))('%s imports nothing from schema/, workers/ or cloudflare:*', (file) => {
    const specifiers = [...readFileSync(file, 'utf8').matchAll(/(?:from|import)\s*\(?\s*'([^']+)'/g)].map(
      (m) => m[1],
    );
    expect(specifiers.filter((s) => /(^|\/)(schema|workers)\/|^cloudflare:/.test(s))).toEqual([]);
  });
});
