/**
 * An open event stream outlives the request check that admitted it, so the API re-checks the
 * credential while the stream is open: `guardEventStream` passes the coordinator's stream through
 * and asks `check` again every `STREAM_RECHECK_MS`; once the answer is no (a share link revoked or
 * expired, an owner session ended or expired, the API token rotated), it sends a last `end` event
 * saying why, closes the stream and tells the coordinator to forget the subscriber. Revocation thus reaches every open
 * stream within `STREAM_RECHECK_MS` plus one check (a D1 read), well under 1 s, without the revoke
 * path having to know which streams a credential opened.
 */

import type { Context } from 'hono';
import type { Subscription } from '../coordinator/event-hub';
import { bearerToken, isApiToken } from './auth';
import type { Env } from './env';
import { hasOwnerSession } from './session';
import { resolveShareToken } from './share-links';

/** How often an open event stream re-checks the credential that opened it. */
export const STREAM_RECHECK_MS = 500;

/** Why access ended (the API error the same request would now get), or null while it holds. */
export type AccessDenial = { code: string; message: string };
export type AccessCheck = () => Promise<AccessDenial | null>;

const encoder = new TextEncoder();

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
  { intervalMs = STREAM_RECHECK_MS, onEnd, signal }: GuardOptions = {},
): ReadableStream<Uint8Array> {
  const reader = source.getReader();
  let out: ReadableStreamDefaultController<Uint8Array> | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let ended = false;

  const stop = () => {
    if (ended) return false;
    ended = true;
    clearTimeout(timer);
    onEnd?.();
    return true;
  };

  const finish = (last?: Uint8Array) => {
    if (!stop()) return;
    try {
      if (last) out?.enqueue(last);
      out?.close();
    } catch {
      // the client is already gone
    }
    reader.cancel().catch(() => {});
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

  signal?.addEventListener('abort', () => {
    if (stop()) reader.cancel().catch(() => {});
  });

  return new ReadableStream<Uint8Array>({
    start(controller) {
      out = controller;
      schedule();
    },
    async pull(controller) {
      let next: ReadableStreamReadResult<Uint8Array>;
      try {
        next = await reader.read();
      } catch {
        finish(); // the coordinator's stream broke: end ours; the client reconnects
        return;
      }
      if (ended) return;
      if (next.done) finish();
      else controller.enqueue(next.value);
    },
    cancel() {
      // The client went away.
      if (stop()) reader.cancel().catch(() => {});
    },
  });
}
