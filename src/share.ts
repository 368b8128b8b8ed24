/**
 * Share-link capabilities, platform-free (Web Crypto only: Node ≥ 20, workerd, browsers).
 *
 * A share token is 32 random bytes (256 bits) in base64url: unguessable, and URL-safe so it can sit
 * in a path (`/s/{token}`). The server keeps only its SHA-256 (hex): a leaked database row cannot be
 * turned back into a working link. Plain SHA-256 is enough (no salt, no slow hash) because the
 * input is a uniformly random 256-bit string, not a password.
 */

/** Random bytes per token (≥ 16 required; 32 leaves a wide margin). */
export const SHARE_TOKEN_BYTES = 32;
/** Length of the base64url text of a token (no padding). */
export const SHARE_TOKEN_LENGTH = Math.ceil((SHARE_TOKEN_BYTES * 4) / 3);

const TOKEN_PATTERN = new RegExp(`^[A-Za-z0-9_-]{${SHARE_TOKEN_LENGTH}}$`);

export const DAY_MS = 86_400_000;
/** Expiry when the owner does not choose one. */
export const DEFAULT_SHARE_TTL_MS = 30 * DAY_MS;
/** Longest expiry allowed: a capability should not outlive the reason it was handed out. */
export const MAX_SHARE_TTL_MS = 365 * DAY_MS;
/** Shortest expiry allowed. */
export const MIN_SHARE_TTL_MS = 60_000;

export type ShareLinkStatus = 'active' | 'expired' | 'revoked';

const BASE64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

function base64url(bytes: Uint8Array): string {
  let out = '';
  for (let i = 0; i < bytes.length; i += 3) {
    const n = (bytes[i] << 16) | ((bytes[i + 1] ?? 0) << 8) | (bytes[i + 2] ?? 0);
    const chars = Math.min(4, Math.ceil(((bytes.length - i) * 4) / 3));
    for (let k = 0; k < chars; k++) out += BASE64URL[(n >> (18 - 6 * k)) & 63];
  }
  return out;
}

/** A new share token: `SHARE_TOKEN_BYTES` bytes from the platform's CSPRNG, base64url. */
export function newShareToken(): string {
  return base64url(crypto.getRandomValues(new Uint8Array(SHARE_TOKEN_BYTES)));
}

/** Whether `text` has the shape of a token this module issues (checked before any lookup). */
export function isShareTokenFormat(text: string): boolean {
  return TOKEN_PATTERN.test(text);
}

/** SHA-256 of the token's UTF-8 text, lower-case hex: what `share_links.token_hash` stores. */
export async function hashShareToken(token: string): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(token)));
  let hex = '';
  for (const b of digest) hex += b.toString(16).padStart(2, '0');
  return hex;
}

/** Revocation wins over expiry; a link is active strictly before its `expiresAt`. */
export function shareLinkStatus(
  link: { expiresAt: number; revokedAt: number | null },
  now: number,
): ShareLinkStatus {
  if (link.revokedAt !== null) return 'revoked';
  return now < link.expiresAt ? 'active' : 'expired';
}

const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: DAY_MS, w: 7 * DAY_MS };

/**
 * A link lifetime such as `30d`, `12h`, `90m`, `2w` or `3600s` (or a bare number of seconds) in
 * milliseconds; throws a RangeError saying what is accepted, including for lifetimes outside
 * [1 minute, 365 days].
 */
export function parseShareTtl(text: string | number): number {
  let ms: number;
  if (typeof text === 'number') {
    ms = text * 1000;
  } else {
    const match = /^\s*(\d{1,7})\s*([smhdw]?)\s*$/i.exec(text);
    if (!match) {
      throw new RangeError(`'${text}' is not a duration: use a number with a unit s, m, h, d or w (e.g. 7d)`);
    }
    ms = Number(match[1]) * UNIT_MS[(match[2] || 's').toLowerCase()];
  }
  if (!Number.isFinite(ms) || ms < MIN_SHARE_TTL_MS || ms > MAX_SHARE_TTL_MS) {
    throw new RangeError('a share link must live between 1 minute and 365 days');
  }
  return ms;
}
