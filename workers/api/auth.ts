/**
 * Who may do what. Each request's credential is resolved once, by the guard on its route (or, for
 * `/s/<token>/…`, by the share-link middleware in share.ts), into `c.var.access`:
 *
 * - the owner, by `Authorization: Bearer <API token>` (a Worker secret, compared in constant time
 *   over SHA-256 digests so neither timing nor length leaks it) or by the owner's session cookie
 *   (session.ts), which the pages use so that the browser never keeps the token;
 * - a share link, by its token in the path (`/s/<token>/…`) or as `Authorization: Bearer`.
 *
 * The guards:
 * - `requireOwner` (writes: start, cancel, fork, publish, share links, ending sessions; and the
 *   owner-only share-link list): the API token, or the session cookie, on anything but a GET/HEAD
 *   only from a request whose `Origin` is this site (the pages' `fetch`; with SameSite=Strict
 *   this is the CSRF defence). A share link is refused (403).
 * - `requireOwnerRead` (the run list): the API token, or the session cookie on a GET/HEAD.
 * - `requireRunAccess` (one run's reads and predictions): the owner, or a share link for that
 *   run whose scope covers the need. The session needs the Origin check for predictions (POST).
 *
 * Nothing about a run is readable without one of these: a run id alone grants nothing.
 */
import { type Context, Hono } from 'hono';
import { createMiddleware } from 'hono/factory';
import type { ShareLinkRow } from '../../schema/schema';
import { weakApiTokenReason } from '../../src/api/token-strength';
import { shareLinkStatus } from '../../src/share';
import type { Env } from './env';
import { ApiError } from './errors';
import {
  endAllSessions,
  endSession,
  ownerSession,
  SESSION_TTL_S,
  sessionCookieName,
  startSession,
} from './session';
import { resolveShareToken } from './share-links';

/** What a request acts as, once its credential has been checked. */
export type Access =
  | { kind: 'owner'; via: 'token' | 'session' }
  /** `path`: under `/s/<token>/`; `bearer`: `Authorization: Bearer <share token>` on `/api/runs/<id>/…`. */
  | { kind: 'share'; via: 'path' | 'bearer'; link: ShareLinkRow; token: string };

declare module 'hono' {
  interface ContextVariableMap {
    access: Access;
    /** Set once a guard has used the link shareLinkAccess resolved (later checks read it anew). */
    shareLinkChecked: boolean;
  }
}

type AppContext = Context<{ Bindings: Env }>;

/** Under `/s/<token>/api/`, a link's run is addressed as `run` (`/s/<token>/api/run/…`). */
export const SHARE_RUN = 'run';

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

/**
 * Whether `token` is this server's API token (constant-time; false when none is configured, or
 * when the configured one is too weak to be used at all: see `checkApiToken`).
 */
export async function isApiToken(env: Env, token: string): Promise<boolean> {
  if (!env.API_TOKEN || weakApiTokenReason(env.API_TOKEN)) return false;
  const [a, b] = await Promise.all([digest(token), digestOfExpected(env.API_TOKEN)]);
  return crypto.subtle.timingSafeEqual(a, b);
}

/** The token of a `Bearer` Authorization header; undefined without the header; 401 if malformed. */
export function bearerToken(c: AppContext): string | undefined {
  const header = c.req.header('Authorization');
  if (header === undefined) return undefined;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (!match) {
    throw new ApiError(401, 'unauthorized', 'the Authorization header must be `Bearer <token>`', CHALLENGE);
  }
  return match[1];
}

/** Throws unless `token` is the API token (503 when the server has none configured). */
async function checkApiToken(c: AppContext, token: string): Promise<void> {
  if (!c.env.API_TOKEN) {
    throw new ApiError(503, 'not_configured', 'the API token is not configured on this server');
  }
  const weak = weakApiTokenReason(c.env.API_TOKEN);
  if (weak) {
    console.error(`wann: ${weak}`);
    throw new ApiError(
      503,
      'not_configured',
      `${weak}: the server accepts no API token until it is replaced`,
    );
  }
  if (!(await isApiToken(c.env, token))) {
    throw new ApiError(401, 'unauthorized', 'the API token is not valid', CHALLENGE);
  }
}

/** Reads are GET and HEAD. */
function isRead(c: Context): boolean {
  return c.req.method === 'GET' || c.req.method === 'HEAD';
}

/**
 * The CSRF defence for anything but reads done with the session cookie: the request must come
 * from this site's own pages. Browsers always send `Origin` on a `fetch` POST/DELETE and scripts
 * cannot forge it; a form or fetch from another site carries that site's origin (or `null`).
 * SameSite=Strict already keeps the cookie off cross-site requests; this also covers other
 * origins of the same site.
 */
function checkSameOrigin(c: AppContext): void {
  const origin = c.req.header('Origin');
  const own = new URL(c.req.url).origin;
  if (origin !== own) {
    throw new ApiError(
      403,
      'cross_origin',
      `a write with the session cookie must come from this site's pages (Origin ${own}, got ${origin ?? 'none'}); API clients send \`Authorization: Bearer <API token>\``,
    );
  }
}

/** Whether the request is under `/s/<token>/` (the link is then its only credential). */
function underShareLink(c: Context): boolean {
  const access = c.get('access');
  return access?.kind === 'share' && access.via === 'path';
}

function refuseShareLink(c: AppContext): void {
  if (underShareLink(c)) {
    throw new ApiError(
      403,
      'read_only',
      'share links are read-only: starting, cancelling, forking, publishing and sharing need the owner',
    );
  }
}

/** Owner actions: the API token, or the owner's session cookie from this site's pages (never a share link). */
export const requireOwner = createMiddleware<{ Bindings: Env }>(async function requireOwner(c, next) {
  refuseShareLink(c);
  const token = bearerToken(c);
  if (token !== undefined) {
    await checkApiToken(c, token);
    c.set('access', { kind: 'owner', via: 'token' });
    return next();
  }
  if (await ownerSession(c)) {
    if (!isRead(c)) checkSameOrigin(c);
    c.set('access', { kind: 'owner', via: 'session' });
    return next();
  }
  throw new ApiError(
    401,
    'unauthorized',
    "this request needs `Authorization: Bearer <API token>` (or the owner's signed-in pages)",
    CHALLENGE,
  );
});

/**
 * Owner-only reads (the run list): the API token as a Bearer header, or, without any
 * `Authorization` header, a valid owner session cookie on a GET/HEAD. A share link has no list.
 */
export const requireOwnerRead = createMiddleware<{ Bindings: Env }>(async function requireOwnerRead(c, next) {
  if (underShareLink(c)) {
    throw new ApiError(404, 'not_found', `no route for ${c.req.method} ${c.req.path}`);
  }
  const token = bearerToken(c);
  if (token === undefined && isRead(c) && (await ownerSession(c))) {
    c.set('access', { kind: 'owner', via: 'session' });
    return next();
  }
  if (token === undefined) {
    throw new ApiError(
      401,
      'unauthorized',
      'listing runs needs `Authorization: Bearer <API token>` (or the owner session of the pages)',
      CHALLENGE,
    );
  }
  await checkApiToken(c, token);
  c.set('access', { kind: 'owner', via: 'token' });
  return next();
});

/** What a request may do with one run: read it, or also ask its published model for predictions. */
export type RunAccess = 'view' | 'predict';

function checkShareLink(resolved: { link: ShareLinkRow; status: string }, need: RunAccess): void {
  if (resolved.status !== 'active') {
    throw new ApiError(410, `share_link_${resolved.status}`, `this share link has been ${resolved.status}`);
  }
  if (need === 'predict' && resolved.link.scope !== 'view+predict') {
    throw new ApiError(403, 'forbidden', 'this share link allows viewing the run, not predictions');
  }
}

/**
 * The one authorisation check for per-run reads and predictions (`/api/runs/:id/…`,
 * `/s/:token/api/run/…`, `/v2/models/:model/…`). `runParam` names the path parameter that holds
 * the run id.
 *
 * - Under `/s/<token>/` the link (already resolved, live) is the only credential: the run must be
 *   `run` (its own), and predictions need the `view+predict` scope (403).
 * - `Authorization: Bearer <API token>`: the owner, allowed everything.
 * - `Authorization: Bearer <share token>`: allowed when the link belongs to this run, is neither
 *   revoked nor expired (410), and its scope covers `need` (403). A token that is unknown or
 *   belongs to another run is a plain 401: it reveals nothing.
 * - No `Authorization` header: the owner's session cookie (reads; predictions also need the
 *   pages' Origin); anything else is a 401.
 */
export function requireRunAccess(need: RunAccess, runParam = 'id') {
  return createMiddleware<{ Bindings: Env }>(async function requireRunAccess(c, next) {
    const access = c.get('access');
    if (access?.kind === 'share' && access.via === 'path') {
      if (c.req.param(runParam) !== SHARE_RUN) {
        throw new ApiError(404, 'not_found', `no route for ${c.req.method} ${c.req.path}`);
      }
      // The first check uses the link shareLinkAccess resolved for this request; asked again (an
      // open event stream re-checks its credential), the link is read anew: revoked means gone.
      let resolved: { link: ShareLinkRow; status: string } | null = {
        link: access.link,
        status: shareLinkStatus(access.link, Date.now()),
      };
      if (c.get('shareLinkChecked')) resolved = await resolveShareToken(c.env.DB, access.token);
      c.set('shareLinkChecked', true);
      if (!resolved) throw new ApiError(410, 'share_link_revoked', 'this share link no longer exists');
      checkShareLink(resolved, need);
      return next();
    }
    const token = bearerToken(c);
    if (token === undefined) {
      if (await ownerSession(c)) {
        if (need === 'predict' || !isRead(c)) checkSameOrigin(c);
        c.set('access', { kind: 'owner', via: 'session' });
        return next();
      }
      throw new ApiError(
        401,
        'unauthorized',
        need === 'view'
          ? 'reading this run needs the API token or a share link for it (`Authorization: Bearer <API token or share token>`)'
          : 'predictions need `Authorization: Bearer <API token or share token with predict scope>`',
        CHALLENGE,
      );
    }
    if (await isApiToken(c.env, token)) {
      c.set('access', { kind: 'owner', via: 'token' });
      return next();
    }
    const resolved = await resolveShareToken(c.env.DB, token);
    if (!resolved || resolved.link.runId !== c.req.param(runParam)) {
      throw new ApiError(401, 'unauthorized', 'the token is not valid for this run', CHALLENGE);
    }
    checkShareLink(resolved, need);
    c.set('access', { kind: 'share', via: 'bearer', link: resolved.link, token });
    return next();
  });
}

/** The run a per-run route addresses: its `:id`, or under `/s/<token>/` (where `:id` is `run`) the link's. */
export function addressedRunId(c: Context, id: string): string {
  const access = c.get('access');
  return access?.kind === 'share' && access.via === 'path' ? access.link.runId : id;
}

/** Where a run's API and page are for this request, and what its answers may offer. */
export interface RunLinks {
  origin: string;
  /** Base of the run's JSON API: `/api/runs/<id>`, or `/s/<token>/api/run` under a link. */
  api: string;
  page: string;
  /** Owner actions (cancel, fork, publish, share) are offered to the owner only. */
  owner: boolean;
  /** Whether predictions are allowed (the owner, or a link with the `view+predict` scope). */
  predict: boolean;
}

export function runLinks(c: Context, runId: string): RunLinks {
  const origin = new URL(c.req.url).origin;
  const access = c.get('access');
  if (access?.kind === 'share') {
    const predict = access.link.scope === 'view+predict';
    if (access.via === 'path') {
      const page = `${origin}/s/${access.token}`;
      return { origin, api: `${page}/api/${SHARE_RUN}`, page, owner: false, predict };
    }
    return {
      origin,
      api: `${origin}/api/runs/${runId}`,
      page: `${origin}/runs/${runId}`,
      owner: false,
      predict,
    };
  }
  return {
    origin,
    api: `${origin}/api/runs/${runId}`,
    page: `${origin}/runs/${runId}`,
    owner: true,
    predict: true,
  };
}

/** What a share link allows, for the pages (absent for the owner). */
export function shareAccessResource(c: Context) {
  const access = c.get('access');
  if (access?.kind !== 'share') return undefined;
  const { scope, expiresAt } = access.link;
  return { kind: 'share' as const, scope, expiresAt: new Date(expiresAt).toISOString() };
}

// ------------------------------------------------------------------------------------------------
// The owner's sessions (see session.ts).

function setSessionCookie(c: AppContext, value: string, maxAge: number): void {
  const https = new URL(c.req.url).protocol === 'https:';
  c.header(
    'Set-Cookie',
    `${sessionCookieName(https)}=${value}; Max-Age=${maxAge}; Path=/; HttpOnly; SameSite=Strict${https ? '; Secure' : ''}`,
  );
}

/**
 * Mounted at `/api/session` (this browser's session): `POST` with the API token as a Bearer header
 * starts one (only the token can: not a session, not a share link), `GET` says whether this
 * browser has one and until when (200 either way: not being signed in is a state, not an error
 * for the pages to log), `DELETE` signs this browser out (ends its session, clears the
 * cookie; needs nothing else, as the worst a stranger could do with it is sign someone out).
 */
export const sessionApp = new Hono<{ Bindings: Env }>()
  .post('/', async (c) => {
    const token = bearerToken(c);
    if (token === undefined) {
      throw new ApiError(
        401,
        'unauthorized',
        'signing in needs `Authorization: Bearer <API token>`',
        CHALLENGE,
      );
    }
    await checkApiToken(c, token);
    const session = await startSession(c.env);
    setSessionCookie(c, session.value, SESSION_TTL_S);
    return c.body(null, 204);
  })
  .get('/', async (c) => {
    const session = await ownerSession(c);
    return c.json({
      signedIn: session !== null,
      expiresAt: session ? new Date(session.expiresAt).toISOString() : null,
    });
  })
  .delete('/', async (c) => {
    const session = await ownerSession(c);
    if (session) await endSession(c.env, session.id);
    setSessionCookie(c, '', 0);
    return c.body(null, 204);
  });

/** Mounted at `/api/sessions`: `DELETE` ends every owner session, everywhere (the owner only). */
export const sessionsApp = new Hono<{ Bindings: Env }>().delete('/', requireOwner, async (c) => {
  const ended = await endAllSessions(c.env);
  setSessionCookie(c, '', 0);
  return c.json({ ended });
});
