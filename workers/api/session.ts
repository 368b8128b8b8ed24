/**
 * The owner's browser session: a cookie that lets the owner's pages READ (the run list, run pages'
 * JSON, the SSE stream, `<a href>` downloads), which cannot carry an `Authorization` header.
 * The routes (`sessionApp` in auth.ts):
 *
 * - `POST /api/session` with `Authorization: Bearer <API token>` sets `wann_session` (204).
 * - `DELETE /api/session` clears it (logout; 204, no credentials needed).
 *
 * The cookie is never the token: it is `v1.<random session id>.<expiry, unix s>.<HMAC-SHA-256>`,
 * keyed by a key derived (HKDF) from `API_TOKEN`, verified statelessly. Rotating the API token
 * ends every session. Cookies are HttpOnly and SameSite=Strict, and they never authorise writes:
 * every POST/DELETE still needs the Bearer header (so no CSRF through the cookie).
 */
import type { Context } from 'hono';
import { getCookie } from 'hono/cookie';
import type { Env } from './env';

export const SESSION_COOKIE = 'wann_session';
/** How long a session lasts; the owner's pages renew it whenever they load with the token saved. */
export const SESSION_TTL_S = 30 * 86_400;

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

/** A new signed session value for `API_TOKEN`, valid until `nowMs + ttlS`. */
export async function createSessionValue(apiToken: string, nowMs = Date.now(), ttlS = SESSION_TTL_S) {
  const sid = base64url(crypto.getRandomValues(new Uint8Array(16)));
  const exp = Math.floor(nowMs / 1000) + ttlS;
  const payload = `v1.${sid}.${exp}`;
  const mac = await crypto.subtle.sign('HMAC', await sessionKey(apiToken), encoder.encode(payload));
  return { value: `${payload}.${base64url(new Uint8Array(mac))}`, expiresAt: exp * 1000 };
}

/** Whether `value` is a session this server signed (with the current API token) and not expired. */
export async function verifySessionValue(
  apiToken: string | undefined,
  value: string | undefined,
  nowMs = Date.now(),
): Promise<boolean> {
  if (!apiToken || !value) return false;
  const match = COOKIE_VALUE.exec(value);
  if (!match) return false;
  const [, sid, exp, mac] = match;
  const signature = fromBase64url(mac);
  // Only the canonical spelling: base64's unused low bits of the last character must be zero.
  if (signature.byteLength !== 32 || base64url(signature) !== mac) return false;
  const ok = await crypto.subtle.verify(
    'HMAC',
    await sessionKey(apiToken),
    signature,
    encoder.encode(`v1.${sid}.${exp}`),
  );
  return ok && Number(exp) * 1000 > nowMs;
}

/** Whether the request carries a valid owner session cookie (for reads only: callers check that). */
export function hasOwnerSession(c: Context<{ Bindings: Env }>): Promise<boolean> {
  return verifySessionValue(c.env.API_TOKEN, getCookie(c, SESSION_COOKIE));
}
