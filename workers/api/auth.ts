/**
 * Bearer-token check for writes. The token is a Worker secret (`API_TOKEN`); comparison is
 * constant-time over SHA-256 digests so neither timing nor length leaks it.
 */
import { createMiddleware } from 'hono/factory';
import type { Env } from './env';
import { ApiError } from './errors';

const encoder = new TextEncoder();

async function digest(text: string): Promise<ArrayBuffer> {
  return crypto.subtle.digest('SHA-256', encoder.encode(text));
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
  const [a, b] = await Promise.all([digest(match[1]), digest(expected)]);
  if (!crypto.subtle.timingSafeEqual(a, b)) {
    throw new ApiError(401, 'unauthorized', 'the API token is not valid', challenge);
  }
  await next();
});
