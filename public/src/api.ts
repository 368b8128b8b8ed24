/**
 * The pages' HTTP client. The browser never keeps the API token: signing in on the dashboard sends
 * it once (`POST /api/session`) and the server answers with an HttpOnly session cookie that no
 * script can read. From then on the owner's reads and writes go with that cookie (same-origin
 * `fetch`, which sends this site's `Origin`: the server's CSRF check for writes), including what
 * cannot send headers (EventSource, downloads). A link holder's page reads the routes under its
 * share token. Errors carry `{error: {code, message}}`.
 */

import type { ChampionRecord } from '../../src/wann/record';

/** Where earlier versions of the pages kept the API token; removed wherever it is still found. */
const LEGACY_TOKEN_KEY = 'wann.apiToken';

export function forgetLegacyToken(): void {
  try {
    localStorage.removeItem(LEGACY_TOKEN_KEY);
  } catch {
    // storage disabled: nothing was kept either
  }
}

/** Signs this browser in with the API token (used for this request only, never stored). */
export async function signIn(token: string): Promise<void> {
  const res = await fetch('/api/session', {
    method: 'POST',
    headers: { Authorization: `Bearer ${token}`, Accept: 'application/json' },
  });
  if (!res.ok) throw await errorOf(res);
}

/** Signs this browser out (the server ends its session and clears the cookie). */
export async function signOut(): Promise<void> {
  await fetch('/api/session', { method: 'DELETE' }).catch(() => undefined);
}

/** Ends every session of the owner, in every browser, this one included. */
export async function endAllSessions(): Promise<number> {
  const { ended } = await requestJson<{ ended: number }>('/api/sessions', { method: 'DELETE' });
  return ended;
}

/** Until when this browser is signed in, or null when it is not. */
export async function sessionExpiry(): Promise<Date | null> {
  const { expiresAt } = await requestJson<{ signedIn: boolean; expiresAt: string | null }>('/api/session');
  return expiresAt === null ? null : new Date(expiresAt);
}

export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export interface RequestOptions {
  method?: string;
  body?: unknown;
  accept?: string;
}

async function errorOf(res: Response): Promise<HttpError> {
  let code = `http_${res.status}`;
  let message = `${res.status} ${res.statusText}`;
  const text = await res.text().catch(() => '');
  try {
    const body = JSON.parse(text) as { error?: { code?: string; message?: string } | string };
    if (typeof body.error === 'string') message = body.error;
    else if (body.error?.message) message = body.error.message;
    if (typeof body.error === 'object' && body.error?.code) code = body.error.code;
  } catch {
    // not JSON: the status line, and the start of a plain-text body
    if (text.trim() && !text.trimStart().startsWith('<'))
      message = `${message}: ${text.trim().slice(0, 160)}`;
  }
  if (res.status === 401 && code === 'unauthorized') {
    message = `${message} (sign in on the dashboard with the API token printed by \`npm start\`)`;
  }
  return new HttpError(res.status, code, message);
}

export async function request(path: string, options: RequestOptions = {}): Promise<Response> {
  const headers: Record<string, string> = { Accept: options.accept ?? 'application/json' };
  if (options.body !== undefined) headers['Content-Type'] = 'application/json';
  const res = await fetch(path, {
    method: options.method ?? 'GET',
    headers,
    body: options.body === undefined ? undefined : JSON.stringify(options.body),
  });
  if (!res.ok) throw await errorOf(res);
  return res;
}

export async function requestJson<T>(path: string, options: RequestOptions = {}): Promise<T> {
  return (await request(path, options)).json() as Promise<T>;
}

/** Saves a response body as a file (works for links that need headers, e.g. CSV via Accept). */
export async function download(path: string, filename: string, options: RequestOptions = {}): Promise<void> {
  const res = await request(path, { ...options, accept: options.accept ?? '*/*' });
  const url = URL.createObjectURL(await res.blob());
  const a = document.createElement('a');
  a.href = url;
  a.download = filename;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

// Shapes of the API's answers the pages read. Generation statistics (REST pages and SSE events)
// are `GenerationRecord`s, typed from src/wann/record.ts (a type-only import: no zod in the pages).

/** The run's champion; `index` is null for runs recorded before champions had one. */
export type Champion = Omit<ChampionRecord, 'index'> & { index: number | null };

export interface Run {
  id: string;
  status: 'queued' | 'running' | 'completed' | 'cancelled' | 'failed';
  config: Record<string, unknown> & {
    seed: number;
    population: number;
    generations: number;
    weights: number[];
  };
  generation: number;
  generations: number;
  bestFitness: number | null;
  champion: Champion | null;
  error: string | null;
  forkOf: { runId: string; generation: number } | null;
  timings: {
    createdAt: string;
    startedAt: string | null;
    updatedAt: string;
    finishedAt: string | null;
    elapsedMs: number | null;
  };
  urls: Record<string, string>;
  /** Present on share-link answers. */
  access?: { kind: 'share'; scope: 'view' | 'view+predict'; expiresAt: string };
}

export interface ModelVersion {
  version: number;
  generation: number;
  createdAt: string;
  weights: number[];
  testAccuracy: number[];
  meanTestAccuracy: number;
  ensembleTestAccuracy: number;
  tunedWeight: number;
  tunedTestAccuracy: number;
  connections: number;
  hiddenNodes: number;
  urls: { onnx: string; genome: string };
}

export interface GenomeJson {
  format: 'wann-genome/1';
  inputs: number;
  outputs: number;
  nodes: { id: number; kind: 'bias' | 'input' | 'output' | 'hidden'; act: number }[];
  conns: { innov: number; src: number; dst: number; enabled: boolean }[];
}

export const TERMINAL = new Set(['completed', 'cancelled', 'failed']);
