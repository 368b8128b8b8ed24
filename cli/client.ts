/**
 * The CLI's HTTP client: base URL and token, the API's error shape turned into one clear message,
 * and a Server-Sent Events reader over fetch streaming (Node has no EventSource).
 */
import type { ApiErrorBody, V2ErrorBody } from '../src/api/types';

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

export class Client {
  readonly base: string;
  constructor(private readonly options: ClientOptions) {
    this.base = trimSlash(options.url);
  }

  withBase(base: string): Client {
    return new Client({ ...this.options, url: base });
  }

  async fetch(
    path: string,
    init: {
      method?: string;
      json?: unknown;
      body?: Uint8Array;
      contentType?: string;
      accept?: string;
      auth?: 'required' | 'optional';
    } = {},
  ): Promise<Response> {
    const method = init.method ?? 'GET';
    const headers: Record<string, string> = { Accept: init.accept ?? 'application/json' };
    const { token } = this.options;
    if (init.auth === 'required' && !token) {
      throw new CliError(
        `${method} ${path} needs the API token: pass --token or set WANN_TOKEN (npm start prints it)`,
        2,
      );
    }
    if (token && init.auth) headers.Authorization = `Bearer ${token}`;
    let body: string | Uint8Array | undefined;
    if (init.json !== undefined) {
      headers['Content-Type'] = 'application/json';
      body = JSON.stringify(init.json);
    } else if (init.body) {
      headers['Content-Type'] = init.contentType ?? 'application/octet-stream';
      body = init.body;
    }
    let res: Response;
    try {
      res = await fetch(`${this.base}${path}`, { method, headers, body });
    } catch (e) {
      const cause = (e as { cause?: { code?: string; message?: string } }).cause;
      throw new CliError(
        `cannot reach ${this.base} (${cause?.code ?? cause?.message ?? (e as Error).message}): is \`npm start\` running? Set --url or WANN_URL`,
      );
    }
    if (!res.ok) throw await httpError(method, path, res, Boolean(token));
    return res;
  }

  async json<T>(path: string, init: Parameters<Client['fetch']>[1] = {}): Promise<T> {
    return (await this.fetch(path, init)).json() as Promise<T>;
  }
}

async function httpError(method: string, path: string, res: Response, hadToken: boolean): Promise<CliError> {
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
  if (res.status === 401) {
    hint = hadToken
      ? ' (check --token / WANN_TOKEN: it must be the API token printed by npm start, or a share token for this run)'
      : ' (pass --token or set WANN_TOKEN; without the API token a run is readable only through a share link URL)';
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
