/**
 * The CLI's HTTP client: base URL and token, the API's error shape turned into one clear message,
 * and a Server-Sent Events reader over fetch streaming (Node has no EventSource).
 */
import type { ApiErrorBody, V2ErrorBody } from '../src/api/types';

/**
 * Text from a server, made safe to print on a terminal: control characters (escape sequences could
 * rewrite the screen or the title) and bidirectional controls (they reorder what a person reads, so
 * a run name can pose as another) are shown as `\u{…}` escapes. Newlines and tabs stay.
 */
export function terminalText(text: string): string {
  return text.replace(
    // biome-ignore lint/suspicious/noControlCharactersInRegex: these are exactly what is escaped
    /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g,
    (c) => `\\u{${c.codePointAt(0)?.toString(16)}}`,
  );
}

export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
  }
}

export interface ClientOptions {
  url: string;
  token?: string;
}

/** Where a run's API lives: `/api/runs/{id}` for the owner, `/s/{token}/api/run` for a share link. */
export interface RunTarget {
  base: string;
  api: string;
  /** The run id, when known from the argument. */
  id: string | null;
  share: boolean;
}

/**
 * What a client sends to prove who it is. The API token goes to the configured `--url` / `WANN_URL`
 * origin and nowhere else: a pasted URL on another origin gets no credential (it could be anyone's
 * server, and over `http://` anyone on the path could read it), and a share link is its own
 * capability (the token in its path), so nothing else is sent with it.
 */
export type Credential =
  | { kind: 'token'; origin: string }
  | { kind: 'share'; origin: string }
  | { kind: 'none'; origin: string; reason: 'no-token' | 'other-origin'; tokenOrigin: string };

const RUN_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * A run argument: a run id, a run page URL (`…/runs/{id}`), or a share link (`…/s/{token}`), whose
 * origin then replaces the base URL.
 */
export function runTarget(arg: string, baseUrl: string): RunTarget {
  if (RUN_ID.test(arg)) return { base: trimSlash(baseUrl), api: `/api/runs/${arg}`, id: arg, share: false };
  let url: URL;
  try {
    url = new URL(arg);
  } catch {
    throw new CliError(`'${arg}' is neither a run id nor a run or share link URL`, 2);
  }
  const share = /^\/s\/([A-Za-z0-9_-]+)\/?$/.exec(url.pathname);
  if (share) return { base: url.origin, api: `/s/${share[1]}/api/run`, id: null, share: true };
  const page = /^\/(?:api\/)?runs\/([0-9a-f-]{36})\/?$/.exec(url.pathname);
  if (page && RUN_ID.test(page[1]))
    return { base: url.origin, api: `/api/runs/${page[1]}`, id: page[1], share: false };
  throw new CliError(`'${arg}' is neither a run id nor a run or share link URL`, 2);
}

function trimSlash(url: string): string {
  return url.replace(/\/+$/, '');
}

function originOf(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    throw new CliError(`'${url}' is not a URL: set --url or WANN_URL to the platform's base URL`, 2);
  }
}

const LOOPBACK = /^(localhost|127(?:\.\d{1,3}){3}|\[::1\])$/;

/** Plain `http://` to a host off this machine: a token sent there crosses the network readable. */
export function cleartextRemote(origin: string): boolean {
  const url = new URL(origin);
  return url.protocol === 'http:' && !LOOPBACK.test(url.hostname);
}

/** One line for a person: which credential the CLI uses for `origin`, and why. */
export function describeCredential(c: Credential): string {
  switch (c.kind) {
    case 'token':
      return `using the API token (WANN_TOKEN / --token) for ${c.origin}`;
    case 'share':
      return `using the share link as the credential; the API token is not sent to ${c.origin}`;
    case 'none':
      return c.reason === 'other-origin'
        ? `sending no credential to ${c.origin}: the API token goes only to WANN_URL / --url (${c.tokenOrigin})`
        : `sending no credential to ${c.origin} (no API token: pass --token or set WANN_TOKEN)`;
  }
}

export class Client {
  readonly base: string;
  /** The origin of the configured `--url` / `WANN_URL`: the only one the API token is sent to. */
  private readonly tokenOrigin: string;
  readonly credential: Credential;

  constructor(
    private readonly options: ClientOptions,
    tokenOrigin?: string,
    share = false,
  ) {
    this.base = trimSlash(options.url);
    this.tokenOrigin = tokenOrigin ?? originOf(options.url);
    const origin = originOf(this.base);
    if (share) this.credential = { kind: 'share', origin };
    else if (!options.token)
      this.credential = { kind: 'none', origin, reason: 'no-token', tokenOrigin: this.tokenOrigin };
    else if (origin !== this.tokenOrigin)
      this.credential = { kind: 'none', origin, reason: 'other-origin', tokenOrigin: this.tokenOrigin };
    else this.credential = { kind: 'token', origin };
  }

  /** A client for a run argument: its origin, with the credential that origin may receive. */
  forRun(run: RunTarget): Client {
    return new Client({ ...this.options, url: run.base }, this.tokenOrigin, run.share);
  }

  async fetch(
    path: string,
    init: {
      method?: string;
      json?: unknown;
      body?: Uint8Array;
      /** A body streamed as it is read (a file upload): its exact length is sent as Content-Length. */
      stream?: { body: ReadableStream<Uint8Array>; length: number };
      contentType?: string;
      accept?: string;
      auth?: 'required' | 'optional';
    } = {},
  ): Promise<Response> {
    const method = init.method ?? 'GET';
    const headers: Record<string, string> = { Accept: init.accept ?? 'application/json' };
    const { token } = this.options;
    const c = this.credential;
    if (init.auth === 'required' && c.kind !== 'token') {
      throw new CliError(
        c.kind === 'none' && c.reason === 'other-origin'
          ? `${method} ${path} needs the API token, which is sent only to WANN_URL / --url (${c.tokenOrigin}), not to ${c.origin}: pass --url ${c.origin} if that is your platform`
          : c.kind === 'share'
            ? `${method} ${path} needs the run id and the API token, not a share link`
            : `${method} ${path} needs the API token: pass --token or set WANN_TOKEN (npm start prints it)`,
        2,
      );
    }
    // The credential was decided for this client's origin; the URL actually fetched is checked too,
    // so no path handed to this method can carry the token to another origin.
    if (token && init.auth && c.kind === 'token' && originOf(`${this.base}${path}`) === this.tokenOrigin)
      headers.Authorization = `Bearer ${token}`;
    let body: string | Uint8Array | ReadableStream<Uint8Array> | undefined;
    if (init.stream) {
      headers['Content-Type'] = init.contentType ?? 'application/octet-stream';
      headers['Content-Length'] = String(init.stream.length);
      body = init.stream.body;
    } else if (init.json !== undefined) {
      headers['Content-Type'] = 'application/json';
      body = JSON.stringify(init.json);
    } else if (init.body) {
      headers['Content-Type'] = init.contentType ?? 'application/octet-stream';
      body = init.body;
    }
    let res: Response;
    try {
      // Redirects are not followed: a 3xx to another origin must not receive the Authorization header.
      // duplex 'half': how Node's fetch sends a stream body (the request is written as it is read).
      const duplex = init.stream ? { duplex: 'half' } : {};
      res = await fetch(`${this.base}${path}`, {
        method,
        headers,
        body,
        redirect: 'manual',
        ...duplex,
      } as RequestInit);
    } catch (e) {
      const cause = (e as { cause?: { code?: string; message?: string } }).cause;
      throw new CliError(
        `cannot reach ${this.base} (${cause?.code ?? cause?.message ?? (e as Error).message}): is \`npm start\` running? Set --url or WANN_URL`,
      );
    }
    if (!res.ok) throw await httpError(method, path, res, c);
    return res;
  }

  async json<T>(path: string, init: Parameters<Client['fetch']>[1] = {}): Promise<T> {
    return (await this.fetch(path, init)).json() as Promise<T>;
  }
}

async function httpError(method: string, path: string, res: Response, c: Credential): Promise<CliError> {
  let detail = res.statusText;
  let code = '';
  const text = await res.text();
  try {
    // The API's error shape, or the Open Inference Protocol's (`/v2`).
    const body = JSON.parse(text) as Partial<ApiErrorBody | V2ErrorBody>;
    if (typeof body.error === 'string') detail = body.error;
    else if (body.error?.message) {
      detail = body.error.message;
      code = body.error.code ?? '';
    }
  } catch {
    if (text.trim()) detail = text.trim().slice(0, 200);
  }
  let hint = '';
  if (res.status >= 300 && res.status < 400) {
    hint =
      ' (a redirect: the CLI does not follow redirects, so no credential leaves for another URL; use the final URL)';
  } else if (res.status === 401) {
    hint =
      c.kind === 'token'
        ? ' (check --token / WANN_TOKEN: it must be the API token printed by npm start, or a share token for this run)'
        : ` (${describeCredential(c)}; without the API token a run is readable only through a share link URL)`;
  }
  const label = code ? `${res.status} ${code}` : String(res.status);
  return new CliError(`${method} ${path} failed: ${label}: ${detail}${hint}`);
}

export interface SseEvent {
  event: string;
  data: string;
  id: string | null;
}

/** Reads a `text/event-stream` body event by event (comments and `retry:` are skipped). */
export async function* readSse(body: ReadableStream<Uint8Array>): AsyncGenerator<SseEvent> {
  const decoder = new TextDecoder();
  let buffer = '';
  let event = 'message';
  let data: string[] = [];
  let id: string | null = null;
  const reader = body.getReader();
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let nl = buffer.indexOf('\n');
      while (nl >= 0) {
        const line = buffer.slice(0, nl).replace(/\r$/, '');
        buffer = buffer.slice(nl + 1);
        nl = buffer.indexOf('\n');
        if (line === '') {
          if (data.length) yield { event, data: data.join('\n'), id };
          event = 'message';
          data = [];
          continue;
        }
        if (line.startsWith(':')) continue;
        const colon = line.indexOf(':');
        const field = colon < 0 ? line : line.slice(0, colon);
        const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
        if (field === 'event') event = value;
        else if (field === 'data') data.push(value);
        else if (field === 'id') id = value;
      }
    }
  } finally {
    reader.releaseLock();
  }
}
