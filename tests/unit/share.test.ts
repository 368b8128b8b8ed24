import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  DAY_MS,
  hashShareToken,
  isShareTokenFormat,
  newShareToken,
  parseShareTtl,
  SHARE_TOKEN_BYTES,
  SHARE_TOKEN_LENGTH,
  shareLinkStatus,
} from '../../src/share';

describe('share tokens', () => {
  it('carry at least 128 random bits as URL-safe base64 without padding', () => {
    expect(SHARE_TOKEN_BYTES).toBeGreaterThanOrEqual(16);
    const token = newShareToken();
    expect(token).toHaveLength(SHARE_TOKEN_LENGTH);
    expect(token).toMatch(/^[A-Za-z0-9_-]+$/);
    // Decodes back to exactly SHARE_TOKEN_BYTES bytes.
    expect(Buffer.from(token, 'base64url')).toHaveLength(SHARE_TOKEN_BYTES);
    expect(Buffer.from(token, 'base64url').toString('base64url')).toBe(token);
  });

  it('are all different and use the whole alphabet (no stuck bits)', () => {
    const tokens = new Set(Array.from({ length: 2000 }, newShareToken));
    expect(tokens.size).toBe(2000);
    const seen = new Set([...tokens].join(''));
    expect(seen.size).toBe(64);
  });

  it.each([
    ['a fresh token', newShareToken(), true],
    ['one character short', newShareToken().slice(1), false],
    ['one character long', `${newShareToken()}A`, false],
    ['standard base64 characters', `${newShareToken().slice(2)}+/`, false],
    ['a path traversal', `../${'a'.repeat(SHARE_TOKEN_LENGTH - 3)}`, false],
    ['empty', '', false],
  ])('format check: %s → %s', (_, token, ok) => {
    expect(isShareTokenFormat(token)).toBe(ok);
  });
});

describe('hashShareToken', () => {
  it('is SHA-256 of the UTF-8 text, lower-case hex (known vector)', async () => {
    expect(await hashShareToken('abc')).toBe(
      'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
    );
  });

  it('matches Node crypto on random tokens and never contains the token', async () => {
    for (let i = 0; i < 20; i++) {
      const token = newShareToken();
      const hash = await hashShareToken(token);
      expect(hash).toBe(createHash('sha256').update(token).digest('hex'));
      expect(hash).toMatch(/^[0-9a-f]{64}$/);
      expect(hash).not.toContain(token);
    }
  });
});

describe('shareLinkStatus', () => {
  const now = 1_700_000_000_000;
  it.each([
    ['before expiry', { expiresAt: now + 1, revokedAt: null }, 'active'],
    ['exactly at expiry', { expiresAt: now, revokedAt: null }, 'expired'],
    ['after expiry', { expiresAt: now - DAY_MS, revokedAt: null }, 'expired'],
    ['revoked, not expired', { expiresAt: now + DAY_MS, revokedAt: now - 5 }, 'revoked'],
    ['revoked and expired (revocation wins)', { expiresAt: now - 1, revokedAt: now - 5 }, 'revoked'],
  ] as const)('%s → %s', (_, link, status) => {
    expect(shareLinkStatus(link, now)).toBe(status);
  });
});

describe('parseShareTtl', () => {
  it.each([
    ['7d', 7 * DAY_MS],
    ['30d', 30 * DAY_MS],
    ['12h', 12 * 3_600_000],
    ['90m', 90 * 60_000],
    ['2w', 14 * DAY_MS],
    ['3600s', 3_600_000],
    ['3600', 3_600_000],
    [' 1D ', DAY_MS],
    [86_400, DAY_MS],
  ])('%j → %d ms', (text, ms) => {
    expect(parseShareTtl(text)).toBe(ms);
  });

  it.each(['', 'soon', '7 days', '-1d', '1.5d', '7y', '1e3s'])('rejects %j as not a duration', (text) => {
    expect(() => parseShareTtl(text)).toThrow(/not a duration/);
  });

  it.each(['30s', '59s', '366d', '53w', 0, 10])('rejects %j as out of range', (text) => {
    expect(() => parseShareTtl(text)).toThrow(/between 1 minute and 365 days/);
  });
});
