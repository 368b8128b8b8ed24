/**
 * The pages' HTTP client. The API token lives in this browser's localStorage (entered once on the
 * dashboard); link holders never have one. Writes send it as a Bearer header. Reads send no header:
 * the owner's reads are authorised by the session cookie (`POST /api/session`, HttpOnly, set when
 * the token is saved), which also covers what cannot send headers (EventSource, links); a link
 * holder's reads go to the mirror under the share token. Errors carry `{error: {code, message}}`.
 */

import type { ChampionRecord } from '../../src/wann/record';

const TOKEN_KEY = 'wann.apiToken';

export function getToken(): string | null {
  try {
    return localStorage.getItem(TOKEN_KEY);
  } catch {
    return null;
  }
}

export function setToken(token: string | null): void {
  if (token) localStorage.setItem(TOKEN_KEY, token);
  else localStorage.removeItem(TOKEN_KEY);
}

/**
 * Starts (or renews) the owner's session cookie with `token`; throws an HttpError when the server
 * refuses the token (then nothing is stored).
 */
export async function startSession(token: string): Promise<void> {
  const res = await fetch('/api/session', {
    method: 'POST',
    headers: { Authorization: `Bearer ${token}`, Accept: 'application/json' },
  });
  if (!res.ok) throw await errorOf(res);
}

/** Ends the owner's session (the server clears the cookie). */
export async function endSession(): Promise<void> {
  await fetch('/api/session', { method: 'DELETE' }).catch(() => undefined);
}

/** Saves the token and starts a session with it, or (null) forgets both. */
export async function saveToken(token: string | null): Promise<void> {
  if (token) {
    await startSession(token);
    setToken(token);
  } else {
    setToken(null);
    await endSession();
  }
}

/**
 * With a saved token, renews the session so the pages' reads work. False when there is no token or
 * the server refused it (other failures show up in the reads that follow).
 */
export async function renewSession(): Promise<boolean> {
  const token = getToken();
  if (!token) return false;
  try {
    await startSession(token);
  } catch (e) {
    if (e instanceof HttpError && e.status === 401) return false;
  }
  return true;
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
  /** Send the stored API token (writes). */
  auth?: boolean;
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
    message = `${message} (enter the API token printed by \`npm start\` on the dashboard)`;
  }
  return new HttpError(res.status, code, message);
}

export async function request(path: string, options: RequestOptions = {}): Promise<Response> {
  const headers: Record<string, string> = { Accept: options.accept ?? 'application/json' };
  if (options.body !== undefined) headers['Content-Type'] = 'application/json';
  const token = options.auth ? getToken() : null;
  if (options.auth && !token) {
    throw new HttpError(401, 'no_token', 'this needs the API token: enter it on the dashboard first');
  }
  if (token) headers.Authorization = `Bearer ${token}`;
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
