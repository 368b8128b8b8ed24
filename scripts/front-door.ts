/**
 * The local platform's front door: a small Node HTTP proxy on the public port (127.0.0.1) in front
 * of `wrangler dev`, which `npm start` runs on a private port behind it.
 *
 * Why (issue 21 item 5, the suite's 90-second page loads): under `wrangler dev` a request can be
 * taken in and then not handed to our Worker until some other request reaches the runtime. Measured
 * with a run page whose champion read was held back 5 s (then the page was quiet but for its event
 * stream): Miniflare's entry Worker logged the request at once, our Worker's first middleware ran
 * 25 s later, the moment another request arrived (the browser closing, or a `curl` from elsewhere);
 * 2 to 3 times in 3, and never at 2.5 s or 10 s. A dashboard's 2 KB script chunk waited 90 s the
 * same way in the suite, and the 503 "Your worker restarted mid-request" the soak saw may be its
 * kin. It is inside the dev runtime (wrangler 4.86, workerd 1.20260426; the deployed platform has no
 * such path), so the door works around it: a request it forwarded that has no answer after
 * `NUDGE_AFTER_MS` makes it send the runtime a cheap `GET /api/health`, every `NUDGE_AFTER_MS / 2`
 * while one waits, and the held request then goes on (measured: answered within 1.5 s, every time).
 * Each forwarded request also gets a connection of its own to `wrangler dev` (which closes idle
 * ones after 5 s): no request is ever sent on a connection the runtime is closing.
 *
 * It passes everything through as it comes, both ways: request bodies (uploads) and response
 * bodies (event streams) stream, headers are kept (Host included, so the Worker sees the URL the
 * browser used and its same-origin checks hold), and a client that leaves ends its upstream request
 * (the Worker sees the disconnect, as it would directly).
 */
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** Hop-by-hop headers (RFC 9110 §7.6.1): they describe one connection and are not forwarded. */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'te',
  'trailer',
  'upgrade',
  // Answered here (`checkContinue` below): the client's body then comes to the door, which
  // streams it on.
  'expect',
]);

function endToEnd(headers: http.IncomingHttpHeaders): http.OutgoingHttpHeaders {
  const out: http.OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined && !HOP_BY_HOP.has(name)) out[name] = value;
  }
  return out;
}

/** A request unanswered this long gets the platform a nudge (see the module comment). */
const NUDGE_AFTER_MS = 500;

export interface FrontDoor {
  port: number;
  close(): Promise<void>;
}

/**
 * Listens on `host:port` (0: any free port) and forwards every request to `upstreamPort` on
 * 127.0.0.1, one upstream connection per request.
 */
export function startFrontDoor(options: {
  port: number;
  host?: string;
  upstreamPort: number;
}): Promise<FrontDoor> {
  const { port, host = '127.0.0.1', upstreamPort } = options;
  /** Requests forwarded and not yet answered (no response headers), by when they were sent. */
  const waiting = new Map<http.ClientRequest, number>();
  const nudge = setInterval(() => {
    const now = Date.now();
    if (![...waiting.values()].some((since) => now - since >= NUDGE_AFTER_MS)) return;
    const ping = http.request({ host: '127.0.0.1', port: upstreamPort, path: '/api/health', agent: false });
    ping.on('response', (r) => r.resume());
    ping.on('error', () => {});
    ping.end();
  }, NUDGE_AFTER_MS / 2);
  nudge.unref();
  const forward = (req: IncomingMessage, res: ServerResponse) => {
    const upstream = http.request({
      host: '127.0.0.1',
      port: upstreamPort,
      method: req.method,
      path: req.url,
      headers: endToEnd(req.headers),
      agent: false, // a connection of its own: see the module comment
    });
    waiting.set(upstream, Date.now());
    upstream.on('close', () => waiting.delete(upstream));
    upstream.on('response', (answer) => {
      waiting.delete(upstream);
      res.writeHead(answer.statusCode ?? 502, answer.statusMessage, endToEnd(answer.headers));
      // Event streams: every chunk goes out as it arrives.
      res.flushHeaders();
      answer.pipe(res);
      answer.on('error', () => res.destroy());
    });
    upstream.on('error', (e) => {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      res.writeHead(502, { 'Content-Type': 'application/json' });
      res.end(
        JSON.stringify({
          error: {
            code: 'platform_unreachable',
            message: `the local platform (wrangler dev on port ${upstreamPort}) did not answer: ${e.message}`,
          },
        }),
      );
    });
    // The client left (a closed tab, an aborted fetch, an event stream closed): so does the request.
    res.on('close', () => {
      if (!res.writableFinished) upstream.destroy();
    });
    req.pipe(upstream);
  };
  const server = http.createServer(forward);
  // `Expect: 100-continue` (curl sends it with bodies over 1 MiB): go on at once, the body streams
  // on to the platform, which answers for it.
  server.on('checkContinue', (req, res) => {
    res.writeContinue();
    forward(req, res);
  });
  // Browsers keep their connections here; idle ones are closed after this long (Node's own
  // closing is race-free for clients: an unread request on a closing connection is sent again).
  server.keepAliveTimeout = 30_000;
  server.headersTimeout = 35_000;
  // Event streams and long uploads: no time limit on a request as a whole.
  server.requestTimeout = 0;
  // No WebSockets on this platform.
  server.on('upgrade', (_req, socket) => socket.destroy());
  return new Promise((ok, fail) => {
    server.once('error', fail);
    server.listen(port, host, () => {
      server.off('error', fail);
      ok({
        port: (server.address() as AddressInfo).port,
        close: () =>
          new Promise<void>((done) => {
            clearInterval(nudge);
            server.close(() => done());
            server.closeAllConnections();
          }),
      });
    });
  });
}
