/**
 * The pages' HTTP client. The browser never keeps the API token: signing in on the dashboard sends
 * it once (`POST /api/session`) and the server answers with an HttpOnly session cookie that no
 * script can read. From then on the owner's reads and writes go with that cookie (same-origin
 * `fetch`, which sends this site's `Origin`: the server's CSRF check for writes), including what
 * cannot send headers (EventSource, downloads). A link holder's page reads the routes under its
 * share token. Errors carry `{error: {code, message}}`.
 */

import type {
  CreatedShareLink,
  ModelResource,
  RunChampion,
  RunIdentity,
  RunList,
  RunResource,
  RunStatus,
  ShareLinkResource,
} from '../../src/api/types';
import { TERMINAL_RUN_STATUSES } from '../../src/api/vocabulary';

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

// Shapes of the API's answers the pages read: the API's own (src/api/types.ts), imported as types
// only, so no zod reaches the page bundles. Generation statistics (REST pages and SSE events) are
// `GenerationRecord`s.

export type {
  CreatedShareLink,
  GenerationRecord,
  GenerationsPage,
  GenomeJson,
  ModelList,
  RunIdentity,
  RunList,
  RunListEntry,
  RunStats,
  RunStatus,
  ShareLinkList,
  ShareLinkResource,
} from '../../src/api/types';

/** The run's champion; `index` is null for runs recorded before champions had one. */
export type Champion = RunChampion;
export type Run = RunResource;
export type ModelVersion = ModelResource;
export type ShareLink = ShareLinkResource & Partial<Pick<CreatedShareLink, 'url' | 'token'>>;

/** Edits a run's name, tags or notes (owner only); answers the updated run. */
export function editRun(api: string, edit: Partial<RunIdentity>): Promise<Run> {
  return requestJson<Run>(api, { method: 'PATCH', body: edit });
}

/** One page of the owner's runs list (`query`: limit, status, tag, q, ids, cursor). */
export function listRuns(query: URLSearchParams | string): Promise<RunList> {
  return requestJson<RunList>(`/api/runs?${query}`);
}

/** Statuses a run never leaves (the same list as the API's). */
export const TERMINAL: ReadonlySet<string> = new Set<RunStatus>(TERMINAL_RUN_STATUSES);
