/**
 * Who may do what:
 * - writes (start, cancel, fork, publish, share links, sessions): `Authorization: Bearer <API
 *   token>` only (`requireApiToken`). The API token is a Worker secret (`API_TOKEN`); comparison is
 *   constant-time over SHA-256 digests so neither timing nor length leaks it.
 * - the run list: the API token, or the owner's session cookie for GET (`requireOwnerRead`).
 * - one run's reads and predictions: `requireRunAccess` (API token, a share token for that run, or
 *   for reads the owner's session cookie).
 * Nothing about a run is readable without one of these: a run id alone grants nothing.
 */
import { type Context, Hono } from 'hono';
import { createMiddleware } from 'hono/factory';
import type { Env } from './env';
import { ApiError } from './errors';
import { createSessionValue, hasOwnerSession, SESSION_COOKIE, SESSION_TTL_S } from './session';
import { resolveShareToken } from './share-links';

const encoder = new TextEncoder();

async function digest(text: string): Promise<ArrayBuffer> {
  return crypto.subtle.digest('SHA-256', encoder.encode(text));
}

/**
 * The configured token's digest, computed once per isolate (and again if the secret changes): it
 * is needed on every authorised request, predictions included. Only the presented token is
 * hashed per request; the comparison stays constant-time.
 */
let expectedDigest: { token: string; digest: Promise<ArrayBuffer> } | undefined;
function digestOfExpected(token: string): Promise<ArrayBuffer> {
  if (expectedDigest?.token !== token) expectedDigest = { token, digest: digest(token) };
  return expectedDigest.digest;
}

const CHALLENGE = { 'WWW-Authenticate': 'Bearer realm="wann"' };

/** Throws unless the request's `Authorization` header holds the API token. */
async function checkApiTokenHeader(c: Context<{ Bindings: Env }>, missing: string): Promise<void> {
  const expected = c.env.API_TOKEN;
  if (!expected) {
    throw new ApiError(503, 'not_configured', 'the API token is not configured on this server');
  }
  const header = c.req.header('Authorization') ?? '';
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (!match) throw new ApiError(401, 'unauthorized', missing, CHALLENGE);
  const [a, b] = await Promise.all([digest(match[1]), digestOfExpected(expected)]);
  if (!crypto.subtle.timingSafeEqual(a, b)) {
    throw new ApiError(401, 'unauthorized', 'the API token is not valid', CHALLENGE);
  }
}

/** Reads are GET and HEAD; only they may be authorised by the session cookie. */
function isRead(c: Context): boolean {
  return c.req.method === 'GET' || c.req.method === 'HEAD';
}

/** Writes: the API token as a Bearer header, nothing else (never the session cookie). */
export const requireApiToken = createMiddleware<{ Bindings: Env }>(async function requireApiToken(c, next) {
  await checkApiTokenHeader(c, 'this request needs `Authorization: Bearer <API token>`');
  await next();
});

/**
 * Owner-only reads (the run list): the API token as a Bearer header, or, without any
 * `Authorization` header, a valid owner session cookie on a GET/HEAD.
 */
export const requireOwnerRead = createMiddleware<{ Bindings: Env }>(async function requireOwnerRead(c, next) {
  if (c.req.header('Authorization') === undefined && isRead(c) && (await hasOwnerSession(c))) {
    return next();
  }
  await checkApiTokenHeader(
    c,
    'listing runs needs `Authorization: Bearer <API token>` (or the owner session of the pages)',
  );
  await next();
});

/** What a request may do with one run: read it, or also ask its published model for predictions. */
export type RunAccess = 'view' | 'predict';

/** Whether `token` is this server's API token (constant-time; false when none is configured). */
export async function isApiToken(env: Env, token: string): Promise<boolean> {
  if (!env.API_TOKEN) return false;
  const [a, b] = await Promise.all([digest(token), digestOfExpected(env.API_TOKEN)]);
  return crypto.subtle.timingSafeEqual(a, b);
}

/**
 * The one authorisation check for per-run reads and predictions (`/api/runs/:id/…`,
 * `/v2/models/:model/…`). `runParam` names the path parameter that holds the run id.
 *
 * - `Authorization: Bearer <API token>`: the owner, allowed everything.
 * - `Authorization: Bearer <share token>`: allowed when the link belongs to this run, is neither
 *   revoked nor expired (410), and its scope covers `need` (`predict` needs `view+predict`, 403).
 *   A token that is unknown or belongs to another run is a plain 401: it reveals nothing.
 * - No `Authorization` header: `view` on a GET/HEAD is allowed with a valid owner session cookie
 *   (the owner's pages: EventSource and downloads cannot send headers); anything else is a 401.
 *   Predictions never accept the cookie.
 */
export function requireRunAccess(need: RunAccess, runParam = 'id') {
  return createMiddleware<{ Bindings: Env }>(async function requireRunAccess(c, next) {
    const header = c.req.header('Authorization');
    if (header === undefined) {
      if (need === 'view' && isRead(c) && (await hasOwnerSession(c))) return next();
      throw new ApiError(
        401,
        'unauthorized',
        need === 'view'
          ? 'reading this run needs the API token or a share link for it (`Authorization: Bearer <API token or share token>`)'
          : 'predictions need `Authorization: Bearer <API token or share token with predict scope>`',
        CHALLENGE,
      );
    }
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (!match) {
      throw new ApiError(401, 'unauthorized', 'the Authorization header must be `Bearer <token>`', CHALLENGE);
    }
    const token = match[1];
    if (await isApiToken(c.env, token)) return next();
    const resolved = await resolveShareToken(c.env.DB, token);
    if (!resolved || resolved.link.runId !== c.req.param(runParam)) {
      throw new ApiError(401, 'unauthorized', 'the token is not valid for this run', CHALLENGE);
    }
    if (resolved.status !== 'active') {
      throw new ApiError(410, `share_link_${resolved.status}`, `this share link has been ${resolved.status}`);
    }
    if (need === 'predict' && resolved.link.scope !== 'view+predict') {
      throw new ApiError(403, 'forbidden', 'this share link allows viewing the run, not predictions');
    }
    return next();
  });
}

// ------------------------------------------------------------------------------------------------
// The owner's session cookie (see session.ts): set with the API token, cleared by anyone.

function sessionCookie(c: Context, value: string, maxAge: number): string {
  const secure = new URL(c.req.url).protocol === 'https:' ? '; Secure' : '';
  return `${SESSION_COOKIE}=${value}; Max-Age=${maxAge}; Path=/; HttpOnly; SameSite=Strict${secure}`;
}

/** Mounted at `/api/session`: `POST` (Bearer API token) starts a session, `DELETE` ends it. */
export const sessionApp = new Hono<{ Bindings: Env }>()
  .post('/', requireApiToken, async (c) => {
    const { value } = await createSessionValue(c.env.API_TOKEN!);
    return c.body(null, 204, {
      'Set-Cookie': sessionCookie(c, value, SESSION_TTL_S),
      'Cache-Control': 'no-store',
    });
  })
  .delete('/', (c) =>
    c.body(null, 204, { 'Set-Cookie': sessionCookie(c, '', 0), 'Cache-Control': 'no-store' }),
  );
