/**
 * `npm start`'s front door (scripts/front-door.ts) against a stand-in for `wrangler dev`: it passes
 * requests and answers through as they come, ends the upstream request when its client leaves,
 * and gets a held request going again the way the dev runtime needs (another request reaching it).
 */
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { type FrontDoor, startFrontDoor } from '../../scripts/front-door';

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (closers.length) await closers.pop()!();
});

async function upstream(handler: Handler): Promise<number> {
  const server = http.createServer(handler);
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  closers.push(
    () =>
      new Promise<void>((ok) => {
        server.closeAllConnections();
        server.close(() => ok());
      }),
  );
  return (server.address() as AddressInfo).port;
}

async function door(upstreamPort: number): Promise<FrontDoor> {
  const d = await startFrontDoor({ port: 0, upstreamPort });
  closers.push(() => d.close());
  return d;
}

describe('the front door', () => {
  it('passes a request through and its answer back: method, path, headers (Host too), body', async () => {
    const seen: { method?: string; url?: string; host?: string; custom?: string; body?: string }[] = [];
    const port = await upstream((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        seen.push({
          method: req.method,
          url: req.url,
          host: req.headers.host,
          custom: req.headers['x-wann'] as string,
          body,
        });
        res.writeHead(201, { 'Content-Type': 'application/json', 'X-Answer': 'yes' });
        res.end('{"ok":true}');
      });
    });
    const d = await door(port);
    const res = await new Promise<{ status: number; answer: string; body: string }>((ok, fail) => {
      const req = http.request(
        {
          host: '127.0.0.1',
          port: d.port,
          method: 'POST',
          path: '/api/runs?x=1',
          headers: { 'X-Wann': 'token', 'Content-Type': 'application/json' },
        },
        (r) => {
          let body = '';
          r.on('data', (c) => (body += c));
          r.on('end', () => ok({ status: r.statusCode ?? 0, answer: String(r.headers['x-answer']), body }));
        },
      );
      req.on('error', fail);
      req.end('{"population":32}');
    });
    expect(res).toEqual({ status: 201, answer: 'yes', body: '{"ok":true}' });
    expect(seen).toEqual([
      {
        method: 'POST',
        url: '/api/runs?x=1',
        host: `127.0.0.1:${d.port}`,
        custom: 'token',
        body: '{"population":32}',
      },
    ]);
  });

  it('streams an answer: each event reaches the client before the stream ends', async () => {
    let send: ((text: string) => void) | undefined;
    let end: (() => void) | undefined;
    const port = await upstream((_req, res) => {
      res.writeHead(200, { 'Content-Type': 'text/event-stream' });
      send = (text) => res.write(text);
      end = () => res.end();
      send('event: generation\ndata: 0\n\n');
    });
    const d = await door(port);
    const res = await fetch(`http://127.0.0.1:${d.port}/api/runs/x/events`);
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    expect(decoder.decode((await reader.read()).value)).toBe('event: generation\ndata: 0\n\n');
    send!('event: generation\ndata: 1\n\n');
    expect(decoder.decode((await reader.read()).value)).toBe('event: generation\ndata: 1\n\n');
    end!();
    expect((await reader.read()).done).toBe(true);
  });

  it('ends the upstream request when its client leaves', async () => {
    let upstreamClosed: () => void = () => {};
    const closed = new Promise<void>((ok) => (upstreamClosed = ok));
    const port = await upstream((req, res) => {
      res.writeHead(200, { 'Content-Type': 'text/event-stream' });
      res.write(': open\n\n');
      req.on('close', upstreamClosed);
    });
    const d = await door(port);
    const client = new AbortController();
    const res = await fetch(`http://127.0.0.1:${d.port}/api/runs/x/events`, { signal: client.signal });
    await res.body!.getReader().read();
    client.abort();
    await closed; // the test times out if the upstream request is never ended
  });

  it('gets a held request going: while one waits, the platform is sent another request', async () => {
    // The dev runtime's fault, imitated: a request is taken in and answered only once some other
    // request reaches the server.
    let release: (() => void) | undefined;
    const port = await upstream((req, res) => {
      if (req.url === '/held') {
        release = () => res.end('released');
        return;
      }
      release?.();
      res.end('other');
    });
    const d = await door(port);
    const res = await fetch(`http://127.0.0.1:${d.port}/held`);
    expect(await res.text()).toBe('released');
  });

  it('answers 502 in the API’s error shape when the platform does not answer', async () => {
    const port = await upstream(() => {});
    const d = await door(port);
    await closers.shift()!(); // the upstream is gone
    const res = await fetch(`http://127.0.0.1:${d.port}/api/health`);
    expect(res.status).toBe(502);
    const body = (await res.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe('platform_unreachable');
    expect(body.error.message).toContain(String(port));
  });
});
