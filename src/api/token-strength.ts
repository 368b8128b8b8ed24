/**
 * How strong a configured API token is. The token is the owner's only secret (writes, the session
 * key), so the server refuses to use one an attacker could guess: at least 128 bits, estimated as
 * length × log2(alphabet), where the alphabet is the union of the character classes the token uses
 * (a-z, A-Z, 0-9, other printable ASCII, anything else). A token of fewer than 12 distinct
 * characters counts as guessable whatever its length (`aaaa…`, `1212…`).
 */
export const MIN_API_TOKEN_BITS = 128;
const MIN_DISTINCT_CHARACTERS = 12;

/** The estimated strength of `token` in bits (0 for a token of too few distinct characters). */
export function apiTokenBits(token: string): number {
  const chars = [...token];
  if (new Set(chars).size < MIN_DISTINCT_CHARACTERS) return 0;
  let alphabet = 0;
  if (/[a-z]/.test(token)) alphabet += 26;
  if (/[A-Z]/.test(token)) alphabet += 26;
  if (/[0-9]/.test(token)) alphabet += 10;
  if (/[!-/:-@[-`{-~]/.test(token)) alphabet += 32;
  if (/[^!-~]/.test(token)) alphabet += 64;
  return chars.length * Math.log2(alphabet);
}

/** Why `token` may not be the API token, in words for the person configuring it; null if it may. */
export function weakApiTokenReason(token: string): string | null {
  const bits = apiTokenBits(token);
  if (bits >= MIN_API_TOKEN_BITS) return null;
  const estimate =
    new Set(token).size < MIN_DISTINCT_CHARACTERS
      ? `fewer than ${MIN_DISTINCT_CHARACTERS} distinct characters`
      : `about ${Math.floor(bits)} bits`;
  return `the configured API_TOKEN is too weak (${estimate}; at least ${MIN_API_TOKEN_BITS} bits are needed, e.g. 32 random hex digits or 22 random base64url characters: \`node -e "console.log(require('crypto').randomBytes(24).toString('base64url'))"\`)`;
}
