import { describe, expect, it } from 'vitest';
import { apiTokenBits, MIN_API_TOKEN_BITS, weakApiTokenReason } from '../../src/api/token-strength';

describe('API token strength', () => {
  it.each([
    ['what npm start creates: 24 random bytes, base64url', 'q3V8pX0-LrT9sYc2KdWmZ7bN1uEfGhJa'],
    ['32 random hex digits', '9f86d081884c7d659a2feaa0c55ad015'],
    ['22 random base64url characters', 'Xk7_pQ2rT9sVb4LmN8cWzA'],
  ])('accepts %s', (_what, token) => {
    expect(apiTokenBits(token)).toBeGreaterThanOrEqual(MIN_API_TOKEN_BITS);
    expect(weakApiTokenReason(token)).toBeNull();
  });

  it.each([
    ['a word', 'test-token'],
    ['a short mixed password', 'Tr0ub4dor&3'],
    ['one repeated character, however long', 'a'.repeat(200)],
    ['a short repeated pattern', '12ab'.repeat(20)],
    ['16 hex digits (64 bits)', '9f86d081884c7d65'],
  ])('refuses %s, saying how to make a strong one', (_what, token) => {
    const reason = weakApiTokenReason(token);
    expect(reason).toMatch(
      /too weak \((about \d+ bits|fewer than 12 distinct characters); at least 128 bits/,
    );
    expect(reason).toContain('randomBytes(24)');
  });
});
