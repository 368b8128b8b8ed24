/**
 * The real `wann` binary (bin/wann.mjs) run as a child process against `url` with `token`, as the
 * CLI tests drive it: exit code and both output streams; and a loopback stub of the API for it.
 */
import { execFile } from 'node:child_process';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface WannOutcome {
  code: number;
  stdout: string;
  stderr: string;
}

export function runWann(args: string[], url: string, token: string): Promise<WannOutcome> {
  return new Promise((done) => {
    execFile(
      process.execPath,
      ['bin/wann.mjs', ...args],
      { env: { ...process.env, WANN_URL: url, WANN_TOKEN: token }, timeout: 60_000 },
      (error, stdout, stderr) => done({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
    );
  });
}

export interface StubApi {
  origin: string;
  close(): Promise<void>;
}

/** A server on 127.0.0.1 (a free port) that reads each request's whole body, then calls `answer`. */
export async function listenStubApi(
  answer: (req: IncomingMessage, body: Uint8Array, res: ServerResponse) => void,
): Promise<StubApi> {
  const server = createServer((req, res) => {
    const chunks: Uint8Array[] = [];
    req.on('data', (c: Uint8Array) => chunks.push(c));
    req.on('end', () => {
      const body = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
      let at = 0;
      for (const c of chunks) {
        body.set(c, at);
        at += c.length;
      }
      answer(req, body, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
