/**
 * An open event stream outlives the request check that admitted it, so the API re-checks the
 * credential while the stream is open: `guardEventStream` passes the coordinator's stream through
 * and asks `check` again every `STREAM_RECHECK_MS`; once the answer is no (a share link revoked or
 * expired, an owner session ended or expired, the API token rotated), it sends a last `end` event
 * saying why, closes the stream and tells the coordinator to forget the subscriber. Revocation thus reaches every open
 * stream within `STREAM_RECHECK_MS` plus one check (a D1 read), well under 1 s, without the revoke
 * path having to know which streams a credential opened.
 *
 * A client that leaves must free its stream slot (the coordinator's per-run and per-link counts,
 * event-hub.ts) at once. Under `wrangler dev` (Miniflare, behind its proxy Worker) the Worker is
 * not reliably told: the request's `signal` and the body's `cancel` are not seen while the response
 * waits for its next chunk; the runtime notices a gone client when a write to it fails. A quiet
 * run (no generation finished) used to write nothing but the coordinator's heartbeat, every 25 s,
 * so a left stream held its slot up to 25 s and clients reconnecting within that time were refused
 * (the soak's 429s). So the guard writes its own heartbeat, an SSE comment, every
 * `STREAM_HEARTBEAT_MS`: the write after the client left fails, the runtime cancels the body, and
 * the guard tells the coordinator. Worst-case hold: two heartbeats per hop (the first write to a
 * closed socket may still succeed) plus the coordinator call, about 0.5 s direct and 1 s through
 * `wrangler dev`'s proxy, shorter than the 0.5–2 s a reconnecting client is away.
 */

import type { Context } from 'hono';
import type { Subscription } from '../coordinator/event-hub';
import { bearerToken, isApiToken } from './auth';
import type { Env } from './env';
import { hasOwnerSession } from './session';
import { resolveShareToken } from './share-links';

/** How often an open event stream re-checks the credential that opened it. */
export const STREAM_RECHECK_MS = 500;

/**
 * How often a stream with nothing else to send writes a comment, so that a client that left is
 * noticed (the write fails) within two of these per hop. 3 bytes each: cheap next to the re-check.
 */
export const STREAM_HEARTBEAT_MS = 250;

/** Why access ended (the API error the same request would now get), or null while it holds. */
export type AccessDenial = { code: string; message: string };
export type AccessCheck = () => Promise<AccessDenial | null>;

const encoder = new TextEncoder();
/** An SSE comment: every client ignores it; writing it is what finds a gone client. */
const HEARTBEAT = encoder.encode(':\n\n');
const NEWLINE = 10;

/** The last event of a stream whose credential is no longer valid: `event: end`, data {code, message}. */
export function endEvent(denial: AccessDenial): Uint8Array {
  return encoder.encode(`event: end\ndata: ${JSON.stringify(denial)}\n\n`);
}

/**
 * The credential that admitted `c` (what its route guard put in `c.var.access`, auth.ts), asked
 * again: a share link must still be active (D1), an owner session still valid and unrevoked
 * (session.ts, D1), and the API token a stream was opened with must still be the configured one
 * (`env.API_TOKEN`, compared in constant time). The API token is revoked by rotating it: a new
 * secret (`wrangler secret put API_TOKEN`, a new deployment) or a new `.dev.vars` and a restart of
 * `npm start` locally. Either way the Workers and their coordinator objects start again with the
 * new value, so the streams the old token opened end (their source is gone), and a reconnect with
 * the old token is a 401; an isolate that does see `env.API_TOKEN` change ends them at the next
 * check.
 */
export function credentialCheck(c: Context<{ Bindings: Env }>): AccessCheck {
  return async () => {
    const access = c.get('access');
    if (!access) return { code: 'unauthorized', message: 'this stream was opened without a credential' };
    if (access.kind === 'owner') {
      if (access.via === 'token') {
        const token = bearerToken(c);
        if (token !== undefined && (await isApiToken(c.env, token))) return null;
        return {
          code: 'token_rotated',
          message: "the API token this stream was opened with is no longer the server's: use the new one",
        };
      }
      if (await hasOwnerSession(c)) return null;
      return {
        code: 'session_ended',
        message: 'the owner session has ended (signed out, ended everywhere, or expired): sign in again',
      };
    }
    const resolved = await resolveShareToken(c.env.DB, access.token);
    if (resolved?.status === 'active' && resolved.link.id === access.link.id) return null;
    const status = resolved?.status ?? 'revoked';
    return {
      code: `share_link_${status}`,
      message:
        status === 'expired'
          ? `this share link expired on ${new Date(access.link.expiresAt).toISOString()}`
          : 'this share link has been revoked by the owner of the run',
    };
  };
}

/** The 429 message for a stream the coordinator refused: which limit, and what to do. */
export function streamRefusalMessage(runId: string, refused: Extract<Subscription, { ok: false }>): string {
  switch (refused.reason) {
    case 'too_many_link_streams':
      return `this share link already has ${refused.limit} open event streams on run ${runId}, the most one link may hold; close one (another tab or watcher) and try again`;
    case 'too_many_share_streams':
      return `share links already hold ${refused.limit} open event streams on run ${runId}, the most all links together may hold (the rest are kept for the run's owner); try again later`;
    case 'too_many_subscribers':
      return `run ${runId} already has ${refused.limit} open event streams, the most one run serves; close one and try again`;
  }
}

export interface GuardOptions {
  intervalMs?: number;
  /** How often a comment is written while nothing else is (default STREAM_HEARTBEAT_MS). */
  heartbeatMs?: number;
  /** Called once when the stream ends for any reason (client gone, access ended, source done). */
  onEnd?: () => void;
  /** The request's signal: aborted when the client disconnects. */
  signal?: AbortSignal;
}

/**
 * `source` as long as `check` keeps passing (checked every `intervalMs`, never two at once). A check
 * that throws (D1 unreachable) ends the stream too: access that cannot be confirmed is not kept;
 * EventSource reconnects after its retry delay and is checked afresh. Reads stay pull-driven, so
 * the coordinator's replay keeps its backpressure.
 */
export function guardEventStream(
  source: ReadableStream<Uint8Array>,
  check: AccessCheck,
  { intervalMs = STREAM_RECHECK_MS, heartbeatMs = STREAM_HEARTBEAT_MS, onEnd, signal }: GuardOptions = {},
): ReadableStream<Uint8Array> {
  const reader = source.getReader();
  let out: ReadableStreamDefaultController<Uint8Array> | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let heartbeat: ReturnType<typeof setInterval> | undefined;
  let ended = false;
  /**
   * Whether what was forwarded so far ends with a whole event (a blank line): the coordinator's
   * bytes cross an RPC pipe that may split an event, and a comment must never land inside one.
   */
  let lastByte = NEWLINE;
  let atEventEnd = true;

  const stop = () => {
    if (ended) return false;
    ended = true;
    clearTimeout(timer);
    clearInterval(heartbeat);
    onEnd?.();
    return true;
  };

  /**
   * End ours (the last event first, once) and close it, even after an earlier end: a pull that
   * returned without enqueueing or closing, with a read waiting, is called again at once; after an
   * abort the source answers "done" at once, so that was a loop that never yielded, and it held
   * `npm start`'s one thread (every page and API request) for good.
   */
  const finish = (last?: Uint8Array) => {
    const first = stop();
    try {
      if (first && last) out?.enqueue(last);
      out?.close();
    } catch {
      // already closed, or the client is already gone
    }
    if (first) reader.cancel().catch(() => {});
  };

  const schedule = () => {
    timer = setTimeout(async () => {
      let denial: AccessDenial | null;
      try {
        denial = await check();
      } catch (e) {
        denial = { code: 'access_check_failed', message: `access could not be re-checked: ${String(e)}` };
      }
      if (ended) return;
      if (denial) finish(endEvent(denial));
      else schedule();
    }, intervalMs);
  };

  // The client left: close ours too, so a read the runtime has waiting ends now.
  signal?.addEventListener('abort', () => finish());

  return new ReadableStream<Uint8Array>({
    start(controller) {
      out = controller;
      schedule();
      heartbeat = setInterval(() => {
        // Only when the client has taken everything (a slow reader is not buried in comments).
        if (ended || !atEventEnd || (controller.desiredSize ?? 0) <= 0) return;
        try {
          controller.enqueue(HEARTBEAT);
        } catch {
          // already closed
        }
      }, heartbeatMs);
    },
    async pull(controller) {
      let next: ReadableStreamReadResult<Uint8Array>;
      try {
        next = await reader.read();
      } catch {
        finish(); // the coordinator's stream broke: end ours; the client reconnects
        return;
      }
      if (ended || next.done) {
        finish();
        return;
      }
      const chunk = next.value;
      if (chunk.length > 0) {
        const last = chunk[chunk.length - 1];
        const beforeLast = chunk.length > 1 ? chunk[chunk.length - 2] : lastByte;
        atEventEnd = last === NEWLINE && beforeLast === NEWLINE;
        lastByte = last;
      }
      controller.enqueue(chunk);
    },
    cancel() {
      // The client went away.
      if (stop()) reader.cancel().catch(() => {});
    },
  });
}
