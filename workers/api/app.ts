/** The main Worker's HTTP app: JSON API under /api, one error shape, a body-size limit. */
import { Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { sessionApp } from './auth';
import type { Env } from './env';
import { ApiError, errorBody, handleError } from './errors';
import { inferenceProxyApp, modelsApp } from './models';
import { runPage } from './pages';
import { runsApp } from './runs';
import { shareAdminApp, shareHolderApp } from './share';

/** Configs and edits are a few hundred bytes; anything near this is not a config. */
export const MAX_BODY_BYTES = 64 * 1024;

const configBodyLimit = bodyLimit({
  maxSize: MAX_BODY_BYTES,
  onError: () => {
    throw new ApiError(413, 'payload_too_large', `request bodies are limited to ${MAX_BODY_BYTES} bytes`);
  },
});
/** Prediction bodies (pixels, PNGs) are larger; the inference Worker enforces their limits. */
const PREDICT_PATH = /^\/api\/runs\/[^/]+\/predict$/;

export const app = new Hono<{ Bindings: Env }>()
  .use('/api/*', (c, next) => (PREDICT_PATH.test(c.req.path) ? next() : configBodyLimit(c, next)))
  .route('/api/session', sessionApp)
  .route('/api/runs/:id/share', shareAdminApp)
  .route('/api/runs', runsApp)
  .route('/api/runs', modelsApp)
  .route('/v2', inferenceProxyApp)
  // Pages (public, no data: they read the API with the visitor's credentials): the dashboard and
  // scripts are static assets; the run page and share links go through here.
  .get('/runs/:id', runPage)
  .route('/s', shareHolderApp)
  .get('/api/health', (c) => c.json({ ok: true }));

app.notFound((c) => c.json(errorBody('not_found', `no route for ${c.req.method} ${c.req.path}`), 404));
app.onError(handleError);
