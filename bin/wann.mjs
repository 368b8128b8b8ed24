#!/usr/bin/env node
// `wann` CLI entry: runs the TypeScript source (cli/wann.ts) through tsx, so it works with plain
// `node` right after `npm ci` (`npx wann …`, `npm run wann -- …`).
import { register } from 'tsx/esm/api';

register();
await import('../cli/wann.ts');
