import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ensureApiToken, readApiToken } from '../../scripts/local-platform';
import { weakApiTokenReason } from '../../src/api/token-strength';

// `npm start`'s token step, which the browser tests' setup now runs before the platform is up.
describe('ensureApiToken', () => {
  let dir = '';
  let file = '';
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'wann-dev-vars-'));
    file = join(dir, '.dev.vars');
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('creates a strong token in a new file, readable by the owner only, and keeps it after', () => {
    const first = ensureApiToken(file);
    expect(first.created).toBe(true);
    expect(weakApiTokenReason(first.token)).toBeNull();
    expect(readApiToken(file)).toBe(first.token);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(ensureApiToken(file)).toEqual({ token: first.token, created: false });
  });

  it('adds the token to a file with other lines, leaving them as they were', () => {
    writeFileSync(file, 'INFERENCE_KEY="k"');
    const { token } = ensureApiToken(file);
    expect(readFileSync(file, 'utf8')).toBe(`INFERENCE_KEY="k"\nAPI_TOKEN="${token}"\n`);
  });

  it('refuses a weak token there, saying which file to edit', () => {
    writeFileSync(file, 'API_TOKEN="secret"\n');
    expect(() => ensureApiToken(file)).toThrow(/too weak.*\n.*Replace the API_TOKEN line in .*\.dev\.vars/);
    expect(readFileSync(file, 'utf8')).toBe('API_TOKEN="secret"\n');
  });
});
