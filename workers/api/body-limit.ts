/**
 * Request body limits for the API Worker, each refused with a 413 the client actually receives:
 * the rest of an oversized body is read and thrown away before the answer (workers/http/request-body.ts
 * says why), and so is any body an early answer (401, 404, …) left unread.
 */
import { createMiddleware } from 'hono/factory';
import { BodyTooLargeError, drainBody, readBody } from '../http/request-body';
import type { Env } from './env';
import { ApiError } from './errors';

const tooLarge = (max: number) =>
  new ApiError(413, 'payload_too_large', `request bodies are limited to ${max} bytes`);

/** Outermost: whatever answered, a body nobody read is drained before the answer leaves. */
export const drainUnreadBody = createMiddleware<{ Bindings: Env }>(async function drainUnreadBody(c, next) {
  await next();
  await drainBody(c.req.raw);
});

/** Bodies the handler parses here: buffered, at most `max` bytes (413 beyond, after draining). */
export function limitBody(max: number) {
  return createMiddleware<{ Bindings: Env }>(async function limitBody(c, next) {
    if (!c.req.raw.body) return next();
    let bytes: Uint8Array;
    try {
      bytes = await readBody(c.req.raw.body, c.req.header('Content-Length'), max);
    } catch (e) {
      if (e instanceof BodyTooLargeError) throw tooLarge(max);
      throw e;
    }
    c.req.raw = new Request(c.req.raw, { body: bytes });
    await next();
  });
}

/**
 * Bodies forwarded as a stream to the inference Worker (which counts them as they arrive): a
 * declared length over `max` is refused here, after draining, without forwarding anything.
 */
export function limitForwardedBody(max: number) {
  return createMiddleware<{ Bindings: Env }>(async function limitForwardedBody(c, next) {
    const declared = Number(c.req.header('Content-Length') ?? Number.NaN);
    if (declared > max) {
      await drainBody(c.req.raw);
      throw tooLarge(max);
    }
    await next();
  });
}
