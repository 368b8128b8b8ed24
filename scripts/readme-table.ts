/** Replace the text between `<!-- bench:NAME -->` and `<!-- /bench:NAME -->` in README.md. */

import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = fileURLToPath(new URL('.', import.meta.url));

export function updateReadmeTable(name: string, body: string): void {
  const file = join(HERE, '..', 'README.md');
  const text = readFileSync(file, 'utf8');
  const open = `<!-- bench:${name} -->`;
  const close = `<!-- /bench:${name} -->`;
  const a = text.indexOf(open);
  const b = text.indexOf(close);
  if (a < 0 || b < a) {
    console.log(`README has no ${open} … ${close} block; table not written there`);
    return;
  }
  writeFileSync(file, `${text.slice(0, a + open.length)}\n${body}\n${text.slice(b)}`);
}
