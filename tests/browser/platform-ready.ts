/**
 * Setup file of every browser test file: waits until the platform that the global setup started in
 * the background answers (global-setup.ts), or fails the file with the reason it did not start.
 */
import { existsSync, readFileSync } from 'node:fs';
import { inject } from 'vitest';

/** Longer than the global setup's own start limit, which writes the failure when it passes. */
const READY_WITHIN_MS = 240_000;

const url = inject('wannUrl');
const failure = inject('wannStartFailure');
const deadline = Date.now() + READY_WITHIN_MS;
for (;;) {
  if (existsSync(failure)) throw new Error(`the platform did not start: ${readFileSync(failure, 'utf8')}`);
  const healthy = await fetch(`${url}/api/health`, { signal: AbortSignal.timeout(5_000) }).then(
    (res) => res.ok,
    () => false,
  );
  if (healthy) break;
  if (Date.now() > deadline)
    throw new Error(`the platform at ${url} did not answer within ${READY_WITHIN_MS / 1000} s`);
  await new Promise((r) => setTimeout(r, 250));
}
