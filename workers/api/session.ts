/**
 * The owner's browser session: an HttpOnly cookie that stands in for the API token on the owner's
 * pages, so the token itself is never kept by the browser (a script injected into a page could
 * read localStorage, but not an HttpOnly cookie, and could not take the token away with it).
 * The routes are `sessionApp` and `sessionsApp` in auth.ts.
 *
 * The cookie is `v1.<random session id>.<expiry, unix s>.<HMAC-SHA-256>`, keyed by a key derived
 * (HKDF) from `API_TOKEN`: the MAC refuses forged or altered cookies without a database read, and
 * rotating the API token ends every session. A cookie is good only while its row in D1
 * (`owner_sessions`) is neither revoked nor expired, so the owner can end one session (sign out) or
 * all of them (`DELETE /api/sessions`) at once, and every later request sees it.
 */
import { and, eq, gt, isNull, lt } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/d1';
import type { Context } from 'hono';
import { getCookie } from 'hono/cookie';
import { ownerSessions } from '../../schema/schema';
import type { Env } from './env';

export const SESSION_COOKIE = 'wann_session';

/**
 * The cookie's name: over https it carries the `__Host-` prefix, so a browser takes it only with
 * Secure, Path=/ and no Domain (no sibling subdomain or plain-http page can set or shadow it).
 * Local `http://127.0.0.1` cannot use the prefix (it needs Secure), so there the name is plain.
 */
export function sessionCookieName(https: boolean): string {
  return https ? `__Host-${SESSION_COOKIE}` : SESSION_COOKIE;
}
/** How long a session lasts: a working day. Signing in again (the API token) starts a new one. */
export const SESSION_TTL_S = 12 * 3600;

const encoder = new TextEncoder();
const COOKIE_VALUE = /^v1\.([A-Za-z0-9_-]{22})\.(\d{1,12})\.([A-Za-z0-9_-]{43})$/;

function base64url(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

function fromBase64url(text: string): Uint8Array {
  const s = atob(text.replace(/-/g, '+').replace(/_/g, '/'));
  return Uint8Array.from(s, (ch) => ch.charCodeAt(0));
}

/** The HMAC key, derived once per isolate (and again if the secret changes). */
let cachedKey: { token: string; key: Promise<CryptoKey> } | undefined;
function sessionKey(token: string): Promise<CryptoKey> {
  if (cachedKey?.token !== token) {
    const key = (async () => {
      const material = await crypto.subtle.importKey('raw', encoder.encode(token), 'HKDF', false, [
        'deriveKey',
      ]);
      return crypto.subtle.deriveKey(
        {
          name: 'HKDF',
          hash: 'SHA-256',
          salt: encoder.encode('wann-edge'),
          info: encoder.encode('wann owner session cookie v1'),
        },
        material,
        { name: 'HMAC', hash: 'SHA-256', length: 256 },
        false,
        ['sign', 'verify'],
      );
    })();
    cachedKey = { token, key };
  }
  return cachedKey.key;
}

/** A session as the server knows it. */
export interface OwnerSession {
  id: string;
  /** Milliseconds since the epoch. */
  expiresAt: number;
}

/** A new signed cookie value for `API_TOKEN`, valid until `nowMs + ttlS` (no row: see startSession). */
export async function createSessionValue(apiToken: string, nowMs = Date.now(), ttlS = SESSION_TTL_S) {
  const id = base64url(crypto.getRandomValues(new Uint8Array(16)));
  const exp = Math.floor(nowMs / 1000) + ttlS;
  const payload = `v1.${id}.${exp}`;
  const mac = await crypto.subtle.sign('HMAC', await sessionKey(apiToken), encoder.encode(payload));
  return { value: `${payload}.${base64url(new Uint8Array(mac))}`, id, expiresAt: exp * 1000 };
}

/** The session `value` names, if this server signed it (with the current API token) and it has not expired. */
export async function verifySessionValue(
  apiToken: string | undefined,
  value: string | undefined,
  nowMs = Date.now(),
): Promise<OwnerSession | null> {
  if (!apiToken || !value) return null;
  const match = COOKIE_VALUE.exec(value);
  if (!match) return null;
  const [, id, exp, mac] = match;
  const signature = fromBase64url(mac);
  // Only the canonical spelling: base64's unused low bits of the last character must be zero.
  if (signature.byteLength !== 32 || base64url(signature) !== mac) return null;
  const ok = await crypto.subtle.verify(
    'HMAC',
    await sessionKey(apiToken),
    signature,
    encoder.encode(`v1.${id}.${exp}`),
  );
  const expiresAt = Number(exp) * 1000;
  return ok && expiresAt > nowMs ? { id, expiresAt } : null;
}

/** Signs a new session and records it (deleting rows that have expired); returns the cookie value. */
export async function startSession(env: Env, nowMs = Date.now(), ttlS = SESSION_TTL_S) {
  if (!env.API_TOKEN) throw new Error('API_TOKEN is not configured');
  const session = await createSessionValue(env.API_TOKEN, nowMs, ttlS);
  const db = drizzle(env.DB);
  await db.batch([
    db.delete(ownerSessions).where(lt(ownerSessions.expiresAt, nowMs)),
    db.insert(ownerSessions).values({ id: session.id, createdAt: nowMs, expiresAt: session.expiresAt }),
  ]);
  return session;
}

/**
 * The owner session the request's cookie names, if it is valid now: signed by this server, not
 * expired, not revoked. Reads D1 every call, so a long-lived request (an event stream) can ask
 * again and learn of a revocation.
 */
export async function ownerSession(c: Context<{ Bindings: Env }>): Promise<OwnerSession | null> {
  const now = Date.now();
  const session = await verifySessionValue(
    c.env.API_TOKEN,
    getCookie(c, sessionCookieName(new URL(c.req.url).protocol === 'https:')),
    now,
  );
  if (!session) return null;
  const row = await drizzle(c.env.DB)
    .select({ id: ownerSessions.id })
    .from(ownerSessions)
    .where(
      and(
        eq(ownerSessions.id, session.id),
        isNull(ownerSessions.revokedAt),
        gt(ownerSessions.expiresAt, now),
      ),
    )
    .get();
  return row ? session : null;
}

/** Whether the request carries a valid, unrevoked owner session cookie (callers decide what it may do). */
export async function hasOwnerSession(c: Context<{ Bindings: Env }>): Promise<boolean> {
  return (await ownerSession(c)) !== null;
}

/** Ends one session (signing out); idempotent. */
export async function endSession(env: Env, id: string, nowMs = Date.now()): Promise<void> {
  await drizzle(env.DB)
    .update(ownerSessions)
    .set({ revokedAt: nowMs })
    .where(and(eq(ownerSessions.id, id), isNull(ownerSessions.revokedAt)));
}

/** Ends every session that is still live; returns how many there were. */
export async function endAllSessions(env: Env, nowMs = Date.now()): Promise<number> {
  const ended = await drizzle(env.DB)
    .update(ownerSessions)
    .set({ revokedAt: nowMs })
    .where(and(isNull(ownerSessions.revokedAt), gt(ownerSessions.expiresAt, nowMs)))
    .returning({ id: ownerSessions.id });
  return ended.length;
}
