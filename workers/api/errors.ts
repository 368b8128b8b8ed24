/**
 * The API's one error type and its one JSON shape: `{"error": {"code", "message"}}`.
 */
import type { Context } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { z } from 'zod';

export class ApiError extends HTTPException {
  constructor(
    status: ContentfulStatusCode,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(status, { message });
  }
}

export function errorBody(code: string, message: string) {
  return { error: { code, message } };
}

/**
 * A path as it may be logged: a share link's token is its capability (`/s/<token>/…`), and logs are
 * read by more people than hold the link.
 */
export function loggablePath(path: string): string {
  return path.replace(/^\/s\/[^/]+/, '/s/<redacted>');
}

/** `onError`: ApiError and hono's own HTTPExceptions as JSON; anything else is a logged 500. */
export function handleError(err: Error, c: Context): Response {
  if (err instanceof ApiError) {
    return c.json(errorBody(err.code, err.message), err.status, err.headers);
  }
  if (err instanceof HTTPException) {
    const code = err.status === 413 ? 'payload_too_large' : `http_${err.status}`;
    return c.json(errorBody(code, err.message || 'request failed'), err.status);
  }
  console.error(`unhandled error on ${c.req.method} ${loggablePath(c.req.path)}:`, err);
  return c.json(errorBody('internal', 'internal error'), 500);
}

/** Zod issues as one message naming each offending field, e.g. `population: Too big: …`. */
export function describeIssues(error: z.ZodError, prefix = ''): string {
  return error.issues
    .slice(0, 5)
    .map((issue) => {
      if (issue.code === 'unrecognized_keys') {
        return issue.keys.map((k) => `${prefix}${[...issue.path, k].join('.')}: unknown field`).join('; ');
      }
      const path = issue.path.length ? issue.path.join('.') : '(body)';
      return `${prefix}${path}: ${issue.message}`;
    })
    .join('; ');
}
