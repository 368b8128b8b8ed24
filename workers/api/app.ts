/**
 * The main Worker's HTTP app: JSON API under /api, one error shape, a body-size limit, security
 * and caching headers on every answer. A share link's routes are the run's own, mounted again
 * under `/s/:token/api` (where the run is addressed as `run`) behind the middleware that resolves
 * the link once; the guards on the routes decide what it allows (auth.ts).
 */
import { Hono } from 'hono';
import { sessionApp, sessionsApp } from './auth';
import { drainUnreadBody, limitBody } from './body-limit';
import { datasetsApp } from './datasets';
import type { Env } from './env';
import { errorBody, handleError } from './errors';
import { inferenceProxyApp, modelsApp } from './models';
import { runPage } from './pages';
import { runsApp } from './runs';
import { runsFeedApp } from './runs-feed';
import { securityHeaders } from './security-headers';
import { shareAdminApp, shareHolderApp, shareLinkAccess, shareLinksApp } from './share';

/** Configs and edits are a few hundred bytes; anything near this is not a config. */
export const MAX_BODY_BYTES = 64 * 1024;

const configBodyLimit = limitBody(MAX_BODY_BYTES);
/** Prediction bodies (pixels, PNGs) are larger: limited by their route (models.ts). */
const PREDICT_PATH = /^\/api\/runs\/[^/]+\/predict$/;
/** Dataset uploads stream into R2 and are limited there (workers/api/datasets.ts). */
const isUpload = (method: string, path: string) =>
  (method === 'POST' && path === '/api/datasets') ||
  (method === 'PUT' && /^\/api\/datasets\/[^/]+\/files\/[^/]+$/.test(path));

export const app = new Hono<{ Bindings: Env }>()
  .use(securityHeaders)
  .use(drainUnreadBody) // every early answer still reads what the client sends (body-limit.ts)
  .use('/api/*', (c, next) =>
    PREDICT_PATH.test(c.req.path) || isUpload(c.req.method, c.req.path) ? next() : configBodyLimit(c, next),
  )
  .route('/api/session', sessionApp)
  .route('/api/sessions', sessionsApp)
  .route('/api/runs/:id/share', shareAdminApp)
  .route('/api/share-links', shareLinksApp)
  .route('/api/runs/events', runsFeedApp) // before `/api/runs/:id`
  .route('/api/runs', runsApp)
  .route('/api/runs', modelsApp)
  .route('/api/datasets', datasetsApp)
  .route('/v2', inferenceProxyApp)
  // Pages (public, no data: they read the API with the visitor's credentials): the dashboard and
  // scripts are static assets; the run page and share links go through here.
  .get('/runs/:id', runPage)
  .use('/s/:token/*', shareLinkAccess)
  .route('/s', shareHolderApp)
  .route('/s/:token/api/:id/share', shareAdminApp)
  .route('/s/:token/api', runsApp)
  .route('/s/:token/api', modelsApp)
  .get('/api/health', (c) => c.json({ ok: true }));

app.notFound((c) => c.json(errorBody('not_found', `no route for ${c.req.method} ${c.req.path}`), 404));
app.onError(handleError);
