/**
 * Headers on everything the Worker answers (API, KServe, the run and share pages, errors). The
 * static assets (dashboard, scripts, styles) get the same security headers from `public/_headers`,
 * which the browser tests check against these.
 */
import { createMiddleware } from 'hono/factory';
import type { Env } from './env';

/**
 * The pages load only their own bundled scripts and styles (no inline script, no inline style
 * attribute: scripts set styles through the CSSOM), talk only to this origin, may compile
 * WebAssembly (onnxruntime-web's draw-a-digit panel), and may not be framed.
 */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self' 'wasm-unsafe-eval'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

/** Sent on every answer over https (browsers ignore it over http, where local development runs). */
export const HSTS = 'max-age=31536000; includeSubDomains';

export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'Content-Security-Policy': CONTENT_SECURITY_POLICY,
  'X-Content-Type-Options': 'nosniff',
  'X-Frame-Options': 'DENY',
  // Share links carry their token in the URL: never send any URL of this site as a Referer.
  'Referrer-Policy': 'no-referrer',
};

/**
 * The security headers, and the caching rule: what the Worker answers is read with a credential
 * (API token, session cookie, share token) or says something about one (a 401, a 410), so no
 * cache may keep it: a revoked link or an ended session must leave nothing behind. Every answer is
 * `no-store` (`no-transform` is kept where the handler asked for it: event streams).
 */
export const securityHeaders = createMiddleware<{ Bindings: Env }>(async function securityHeaders(c, next) {
  await next();
  // A service binding's response has immutable headers: answer with a copy.
  const res = new Response(c.res.body, c.res);
  for (const [name, value] of Object.entries(SECURITY_HEADERS)) res.headers.set(name, value);
  res.headers.set('X-Robots-Tag', 'noindex');
  // Over https, browsers remember to use nothing else (cookies and share tokens never go in clear).
  if (new URL(c.req.url).protocol === 'https:') res.headers.set('Strict-Transport-Security', HSTS);
  const cacheControl = res.headers.get('Cache-Control') ?? '';
  if (!/(^|[\s,])no-store([\s,]|$)/.test(cacheControl)) {
    res.headers.set(
      'Cache-Control',
      /no-transform/.test(cacheControl) ? 'no-store, no-transform' : 'no-store',
    );
  }
  c.res = undefined;
  c.res = res;
});
