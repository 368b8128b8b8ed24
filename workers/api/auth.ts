/**
 * Bearer-token check for writes. The token is a Worker secret (`API_TOKEN`); comparison is
 * constant-time over SHA-256 digests so neither timing nor length leaks it.
 */
import { createMiddleware } from 'hono/factory';
import type { Env } from './env';
import { ApiError } from './errors';
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

export const requireApiToken = createMiddleware<{ Bindings: Env }>(async function requireApiToken(c, next) {
  const expected = c.env.API_TOKEN;
  if (!expected) {
    throw new ApiError(503, 'not_configured', 'the API token is not configured on this server');
  }
  const header = c.req.header('Authorization') ?? '';
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  const challenge = { 'WWW-Authenticate': 'Bearer realm="wann"' };
  if (!match) {
    throw new ApiError(
      401,
      'unauthorized',
      'this request needs `Authorization: Bearer <API token>`',
      challenge,
    );
  }
  const [a, b] = await Promise.all([digest(match[1]), digestOfExpected(expected)]);
  if (!crypto.subtle.timingSafeEqual(a, b)) {
    throw new ApiError(401, 'unauthorized', 'the API token is not valid', challenge);
  }
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
 * - No credentials: `view` is allowed (run reads are public, like `GET /api/runs/:id`); `predict`
 *   is a 401.
 */
export function requireRunAccess(need: RunAccess, runParam = 'id') {
  return createMiddleware<{ Bindings: Env }>(async function requireRunAccess(c, next) {
    const header = c.req.header('Authorization');
    const challenge = { 'WWW-Authenticate': 'Bearer realm="wann"' };
    if (header === undefined) {
      if (need === 'view') return next();
      throw new ApiError(
        401,
        'unauthorized',
        'predictions need `Authorization: Bearer <API token or share token with predict scope>`',
        challenge,
      );
    }
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (!match) {
      throw new ApiError(401, 'unauthorized', 'the Authorization header must be `Bearer <token>`', challenge);
    }
    const token = match[1];
    if (await isApiToken(c.env, token)) return next();
    const resolved = await resolveShareToken(c.env.DB, token);
    if (!resolved || resolved.link.runId !== c.req.param(runParam)) {
      throw new ApiError(401, 'unauthorized', 'the token is not valid for this run', challenge);
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
