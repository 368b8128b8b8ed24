import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import {
  createServer,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { terminalText } from '../../cli/client';
import { runWann, type WannOutcome } from './wann-process';

const TOKEN = 'cli-credentials-test-token-0123456789abcdef';
const RUN = '0b7e7a2e-3c1d-4f6a-9e2b-5d8c1a0f4e93';
const SHARE = 'AbCdEfGhIjKlMnOpQrStUv';

interface Seen {
  method: string;
  path: string;
  authorization: string | undefined;
}

class Recorder {
  readonly seen: Seen[] = [];
  private server: Server | null = null;
  origin = '';

  constructor(private readonly respond: (req: IncomingMessage, res: ServerResponse) => void) {}

  async listen(): Promise<void> {
    this.server = createServer((req, res) => {
      this.seen.push({
        method: req.method ?? '',
        path: req.url ?? '',
        authorization: req.headers.authorization,
      });
      req.resume();
      req.on('end', () => this.respond(req, res));
    });
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', resolve));
    this.origin = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  close(): Promise<void> {
    return new Promise((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}

const notFound = (_req: IncomingMessage, res: ServerResponse) => {
  res.writeHead(404, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ error: { code: 'not_found', message: 'no such run' } }));
};

/** A name that clears the screen and reverses the text after it, as a hostile server might send. */
const HOSTILE = 'evil\u001b[2J\u202egnp.exe\u0007';

const configured = new Recorder(notFound);
const hostile = new Recorder((_req, res) => {
  res.writeHead(404, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ error: { code: 'not_found', message: `no run named ${HOSTILE}` } }));
});
const other = new Recorder(notFound);
// The configured origin answering a run URL with a redirect to the other origin.
const redirecting = new Recorder((_req, res) => {
  res.writeHead(302, { location: `${other.origin}/api/runs/${RUN}` });
  res.end();
});

function wann(args: string[], url = configured.origin): Promise<WannOutcome> {
  return runWann(args, url, TOKEN);
}

beforeAll(async () => {
  await Promise.all([configured.listen(), other.listen(), redirecting.listen(), hostile.listen()]);
});
afterAll(async () => {
  await Promise.all([configured.close(), other.close(), redirecting.close(), hostile.close()]);
});
beforeEach(() => {
  for (const r of [configured, other, redirecting]) r.seen.length = 0;
});

describe('the CLI sends the API token to WANN_URL only', () => {
  it.each(['status', 'watch', 'models'])(
    '%s <run URL on another origin> sends no token there',
    async (command) => {
      const r = await wann([command, `${other.origin}/runs/${RUN}`]);
      expect(r.code).not.toBe(0);
      expect(other.seen.length).toBeGreaterThan(0);
      for (const s of other.seen) expect(s.authorization, `${s.method} ${s.path}`).toBeUndefined();
      expect(configured.seen).toEqual([]);
      expect(r.stderr).toContain(`sending no credential to ${other.origin}`);
      expect(r.stderr).toContain(`goes only to WANN_URL / --url (${configured.origin})`);
    },
  );

  it('a share link on another origin is its own credential: no token goes with it', async () => {
    const r = await wann(['status', `${other.origin}/s/${SHARE}`]);
    expect(r.code).not.toBe(0);
    expect(other.seen.map((s) => s.path)).toEqual([`/s/${SHARE}/api/run`]);
    expect(other.seen[0].authorization).toBeUndefined();
    expect(r.stderr).toContain('using the share link as the credential');
  });

  it('a share link on the configured origin is used as the capability too, without the token', async () => {
    const r = await wann(['models', `${configured.origin}/s/${SHARE}`]);
    expect(r.code).not.toBe(0);
    expect(configured.seen.map((s) => s.path)).toEqual([`/s/${SHARE}/api/run/models`]);
    expect(configured.seen[0].authorization).toBeUndefined();
  });

  it('a run id or a run URL on WANN_URL gets the token', async () => {
    const byId = await wann(['status', RUN]);
    const byUrl = await wann(['status', `${configured.origin}/runs/${RUN}`]);
    expect(byId.code).not.toBe(0);
    expect(byUrl.code).not.toBe(0);
    expect(configured.seen.map((s) => s.authorization)).toEqual([`Bearer ${TOKEN}`, `Bearer ${TOKEN}`]);
    expect(byUrl.stderr).toContain(`using the API token (WANN_TOKEN / --token) for ${configured.origin}`);
  });

  it('an owner command on another origin is refused before the token could leave', async () => {
    const r = await wann(['train', `${other.origin}/runs/${RUN}`, '--version', '1']);
    expect(r.code).toBe(2);
    expect(other.seen).toEqual([]);
    expect(r.stderr).toContain(
      `is sent only to WANN_URL / --url (${configured.origin}), not to ${other.origin}`,
    );
  });

  it('a redirect from WANN_URL to another origin is not followed', async () => {
    const r = await wann(['status', RUN], redirecting.origin);
    expect(r.code).not.toBe(0);
    expect(redirecting.seen.map((s) => s.authorization)).toEqual([`Bearer ${TOKEN}`]);
    expect(other.seen).toEqual([]);
    expect(r.stderr).toContain('302');
  });
});

describe('server text reaches the terminal escaped', () => {
  it('escapes control and bidirectional characters, keeping newlines, tabs and ordinary text', () => {
    expect(terminalText(HOSTILE)).toBe('evil\\u{1b}[2J\\u{202e}gnp.exe\\u{7}');
    expect(terminalText('a\tb\nc, ünïcödé 7 %')).toBe('a\tb\nc, ünïcödé 7 %');
    expect(terminalText('\u2066x\u2069\u200f\u0085')).toBe('\\u{2066}x\\u{2069}\\u{200f}\\u{85}');
  });

  it('an error message from the server is printed escaped', async () => {
    const r = await wann(['status', RUN], hostile.origin);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('no run named evil\\u{1b}[2J\\u{202e}gnp.exe\\u{7}');
    for (const raw of ['\u001b', '\u202e', '\u0007']) expect(r.stderr).not.toContain(raw);
  });
});

describe('every share link at once (wann share --list-all / --revoke-all)', () => {
  const LINK = {
    id: 'b1c2d3e4-0000-4000-8000-000000000001',
    runId: RUN,
    scope: 'view+predict',
    status: 'active',
    createdAt: '2026-01-01T00:00:00.000Z',
    expiresAt: '2026-02-01T00:00:00.000Z',
    revokedAt: null,
  };
  const links = new Recorder((req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(req.method === 'DELETE' ? { revoked: 3 } : { links: [LINK] }));
  });
  beforeAll(() => links.listen());
  afterAll(() => links.close());
  beforeEach(() => {
    links.seen.length = 0;
  });

  it("--list-all lists every run's links from WANN_URL with the API token", async () => {
    const r = await wann(['share', '--list-all'], links.origin);
    expect(r.code).toBe(0);
    expect(links.seen).toEqual([
      { method: 'GET', path: '/api/share-links', authorization: `Bearer ${TOKEN}` },
    ]);
    for (const cell of [LINK.id, RUN, 'active', 'view+predict', LINK.expiresAt])
      expect(r.stdout).toContain(cell);
  });

  it('--revoke-all revokes them and says how many', async () => {
    const r = await wann(['share', '--revoke-all'], links.origin);
    expect(r.code).toBe(0);
    expect(links.seen).toEqual([
      { method: 'DELETE', path: '/api/share-links', authorization: `Bearer ${TOKEN}` },
    ]);
    expect(r.stdout).toContain('revoked 3 share links');
  });

  it('refuses a run with them, and share without a run or either flag', async () => {
    expect((await wann(['share', RUN, '--revoke-all'], links.origin)).code).toBe(2);
    expect((await wann(['share'], links.origin)).code).toBe(2);
    expect(links.seen).toEqual([]);
  });
});

describe('datasets in the CLI', () => {
  /** Records each request with its body, answering 404 (the CLI then exits non-zero: enough here). */
  const requests: { method: string; path: string; body: string; authorization?: string }[] = [];
  const requestHeaders: IncomingHttpHeaders[] = [];
  let origin = '';
  let server: Server;
  beforeAll(async () => {
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk) => {
        body += chunk;
      });
      req.on('end', () => {
        requests.push({
          method: req.method ?? '',
          path: req.url ?? '',
          body,
          authorization: req.headers.authorization,
        });
        requestHeaders.push(req.headers);
        notFound(req, res);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));
  beforeEach(() => {
    requests.length = 0;
    requestHeaders.length = 0;
  });

  it('wann start --dataset NAME sends it in the config', async () => {
    await wann(['start', '--dataset', 'fashion-mnist', '--population', '16'], origin);
    expect(requests).toHaveLength(1);
    expect(requests[0]).toMatchObject({
      method: 'POST',
      path: '/api/runs',
      authorization: `Bearer ${TOKEN}`,
    });
    expect(JSON.parse(requests[0].body)).toEqual({ dataset: 'fashion-mnist', population: 16 });
  });

  it('wann start --patience N sends it in the config; a negative one is refused before any request', async () => {
    await wann(['start', '--patience', '200', '--population', '16'], origin);
    expect(requests).toHaveLength(1);
    expect(JSON.parse(requests[0].body)).toEqual({ patience: 200, population: 16 });
    const bad = await wann(['start', '--patience', '-1'], origin);
    expect(bad.code).not.toBe(0);
    expect(requests).toHaveLength(1);
  });

  it('wann datasets upload streams the file with its length and the options in the query', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'wann-cli-'));
    const file = join(dir, 'iris.csv');
    const text = 'a,b,species\n1,2,setosa\n3,4,versicolor\n';
    writeFileSync(file, text);
    const r = await wann(
      ['datasets', 'upload', 'iris', file, '--label', 'species', '--test-fraction', '0.2'],
      origin,
    );
    rmSync(dir, { recursive: true });
    expect(r.code).not.toBe(0); // the recorder answers 404
    expect(requests).toEqual([
      {
        method: 'POST',
        path: '/api/datasets?name=iris&label=species&testFraction=0.2',
        body: text,
        authorization: `Bearer ${TOKEN}`,
      },
    ]);
    expect(requestHeaders[0]).toMatchObject({
      'content-type': 'text/csv',
      'content-length': String(text.length),
    });
  });

  it('wann datasets upload refuses a test fraction outside (0, 1)', async () => {
    const r = await wann(['datasets', 'upload', 'iris', 'x.csv', '--test-fraction', '1.5'], origin);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('a fraction between 0 and 1');
    expect(requests).toEqual([]);
  });

  it.each([
    [['datasets', 'list'], '/api/datasets'],
    [['datasets', 'show', 'fashion-mnist'], '/api/datasets/fashion-mnist'],
  ])('wann %j reads %s with the token', async (args, path) => {
    const r = await wann(args, origin);
    expect(r.code).not.toBe(0);
    expect(requests).toEqual([{ method: 'GET', path, body: '', authorization: `Bearer ${TOKEN}` }]);
  });
});
