/** The main Worker's HTTP app: JSON API under /api, one error shape, a body-size limit. */
import { Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import type { Env } from './env';
import { ApiError, errorBody, handleError } from './errors';
import { runsApp } from './runs';

/** Configs and edits are a few hundred bytes; anything near this is not a config. */
export const MAX_BODY_BYTES = 64 * 1024;

export const app = new Hono<{ Bindings: Env }>()
  .use(
    '/api/*',
    bodyLimit({
      maxSize: MAX_BODY_BYTES,
      onError: () => {
        throw new ApiError(413, 'payload_too_large', `request bodies are limited to ${MAX_BODY_BYTES} bytes`);
      },
    }),
  )
  .route('/api/runs', runsApp)
  .get('/api/health', (c) => c.json({ ok: true }));

app.notFound((c) => c.json(errorBody('not_found', `no route for ${c.req.method} ${c.req.path}`), 404));
app.onError(handleError);
