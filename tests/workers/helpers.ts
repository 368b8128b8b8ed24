/** Helpers for driving the API inside workerd, as a client would. */
import { env, exports } from 'cloudflare:workers';
import { drizzle } from 'drizzle-orm/d1';
import { runs } from '../../schema/schema';
import type { RunResource } from '../../src/api/types';
import { TERMINAL_RUN_STATUSES } from '../../src/api/vocabulary';
import { SHARED_WEIGHTS } from '../../src/wann/activation-ids';
import type { GenerationRecord } from '../../src/wann/record';
import { publishModel } from '../../workers/models/publish';
import { grownGenome } from '../unit/onnx-fixture';

export const TOKEN = 'wann-test-token-7f3c9a2e5b8d41c6';
const ORIGIN = 'http://wann.test';

export function request(path: string, init: RequestInit & { token?: string | null } = {}): Promise<Response> {
  const { token = TOKEN, ...rest } = init;
  const headers = new Headers(rest.headers);
  if (token !== null) headers.set('Authorization', `Bearer ${token}`);
  return exports.default.fetch(new Request(`${ORIGIN}${path}`, { ...rest, headers }));
}

/**
 * Starts an owner session (`POST /api/session` with the API token) and returns the `Cookie` header
 * value a browser would send back (`wann_session=…`).
 */
export async function sessionCookie(token: string = TOKEN): Promise<string> {
  const res = await request('/api/session', { method: 'POST', token });
  if (res.status !== 204) throw new Error(`POST /api/session → ${res.status} ${await res.text()}`);
  const setCookie = new Headers(res.headers).get('Set-Cookie') ?? '';
  const pair = setCookie.split(';')[0];
  if (!pair.startsWith('wann_session=')) throw new Error(`no session cookie in '${setCookie}'`);
  return pair;
}

export function post(path: string, body?: unknown, init: RequestInit & { token?: string | null } = {}) {
  return request(path, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
    ...init,
  });
}

// Answer shapes: the API's own (src/api/types.ts).
export type { ApiErrorBody as ErrorBody, RunList, RunListEntry, RunResource } from '../../src/api/types';

export function patch(path: string, body?: unknown, init: RequestInit & { token?: string | null } = {}) {
  return request(path, {
    method: 'PATCH',
    headers: { 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
    ...init,
  });
}

/** Test R2 holds training shards 0 and 1 only (setup.ts), so runs draw from those two. */
export async function startRun(config: Record<string, unknown>): Promise<RunResource> {
  const res = await post('/api/runs', { trainShards: 2, ...config });
  if (res.status !== 202) throw new Error(`POST /api/runs → ${res.status} ${await res.text()}`);
  return res.json();
}

export async function getRun(id: string): Promise<RunResource> {
  const res = await request(`/api/runs/${id}`);
  if (res.status !== 200) throw new Error(`GET run → ${res.status}`);
  return res.json();
}

const TERMINAL: ReadonlySet<string> = new Set(TERMINAL_RUN_STATUSES);

/** Polls until the run reaches a terminal status (or `until` holds). */
export async function waitFor(
  id: string,
  until: (run: RunResource) => boolean = (r) => TERMINAL.has(r.status),
  timeoutMs = 45_000,
): Promise<RunResource> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const run = await getRun(id);
    if (until(run)) return run;
    if (Date.now() > deadline) throw new Error(`timed out waiting for run ${id}: ${JSON.stringify(run)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export async function generationRows(id: string): Promise<GenerationRecord[]> {
  const res = await request(`/api/runs/${id}/generations`);
  const body = (await res.json()) as { generations: GenerationRecord[] };
  return body.generations;
}

/** What must not depend on slicing, retries or restarts: every statistic but the timing. */
export function comparable(rows: GenerationRecord[]) {
  return rows.map(({ durationMs: _d, ...rest }) => rest);
}

export async function championOf(id: string): Promise<unknown> {
  const res = await request(`/api/runs/${id}/champion`);
  if (res.status !== 200) throw new Error(`champion → ${res.status} ${await res.text()}`);
  return res.json();
}

/** A response header. (Node's and Workers' global `Headers` types clash in this tsconfig.) */
export function header(res: Response, name: string): string | null {
  return new Headers(res.headers).get(name);
}

/**
 * A grown genome (hidden nodes of every MNIST activation) published as version 1 of a fresh run
 * (its stored config: a small one, with `config`'s fields on top).
 */
export async function publishGrown(config: Record<string, unknown> = {}): Promise<{ runId: string }> {
  const runId = crypto.randomUUID();
  const now = Date.now();
  await drizzle(env.DB)
    .insert(runs)
    .values({
      id: runId,
      status: 'completed',
      config: { population: 4, generations: 1, seed: 1, weights: [...SHARED_WEIGHTS], ...config },
      seed: 1,
      createdAt: now,
      updatedAt: now,
    });
  await publishModel(env, {
    runId,
    version: 1,
    generation: 1,
    genome: grownGenome(),
    weights: [...SHARED_WEIGHTS],
    trainShards: 2,
  });
  return { runId };
}
