import { Hono } from 'hono';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { handleError } from '../../workers/api/errors';

const TOKEN = 'Zs3cr3t-share-link-token_0123456789abcdef';

describe('handleError: the 500 log line', () => {
  const app = new Hono()
    .get('/s/:token', () => {
      throw new Error('page failed');
    })
    .get('/s/:token/api/run/generations', () => {
      throw new Error('query failed');
    })
    .get('/api/runs/:id', () => {
      throw new Error('query failed');
    });
  app.onError(handleError);
  afterEach(() => vi.restoreAllMocks());

  it.each([
    [`/s/${TOKEN}`, '/s/<redacted>'],
    [`/s/${TOKEN}/api/run/generations`, '/s/<redacted>/api/run/generations'],
  ])('redacts a share link token: %s', async (path, logged) => {
    const log = vi.spyOn(console, 'error').mockImplementation(() => {});
    const res = await app.request(path);
    expect(res.status).toBe(500);
    expect(await res.text()).not.toContain(TOKEN);
    expect(log).toHaveBeenCalledTimes(1);
    const line = String(log.mock.calls[0][0]);
    expect(line).toBe(`unhandled error on GET ${logged}:`);
    expect(log.mock.calls.flat().map(String).join(' ')).not.toContain(TOKEN);
  });

  it('logs other paths as they are', async () => {
    const log = vi.spyOn(console, 'error').mockImplementation(() => {});
    expect((await app.request('/api/runs/abc')).status).toBe(500);
    expect(String(log.mock.calls[0][0])).toBe('unhandled error on GET /api/runs/abc:');
  });
});
