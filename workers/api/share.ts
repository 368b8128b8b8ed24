/**
 * Share links: capabilities that let a collaborator see one run without the API token.
 *
 * Owner API (API token): `POST /api/runs/:id/share` mints a link, `GET …/share` lists them,
 * `DELETE …/share/:linkId` revokes one.
 *
 * Holder side, everything under the token's path, so a link is one URL that needs no header:
 * - `GET /s/{token}`: the run page, read-only (the page reads its data from the routes below).
 * - `/s/{token}/api/run[/…]`: a read-only mirror of `/api/runs/{runId}[/…]`: the run, its
 *   generations (JSON, or CSV with `Accept: text/csv`), the SSE event stream, the champion genome,
 *   published models and their downloads, and `POST …/predict` when the scope is `view+predict`.
 *   Links in the JSON answers are rewritten to the mirror; write actions are left out.
 * API clients may instead send the share token as `Authorization: Bearer` to the per-run routes
 * (`/api/runs/{runId}/…` reads, predictions, KServe v2), which all use `requireRunAccess`.
 *
 * The mirror's answers show the run id, but an id alone grants nothing: every per-run read needs
 * the API token, the owner's session or a live share token for that run, so a revoked or expired
 * link leaves its holder with nothing that still works.
 *
 * An unknown or malformed token is a 404 that says nothing more (the same answer for every wrong
 * token); a revoked or expired one is a 410.
 */
import { eq } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/d1';
import { type Context, Hono } from 'hono';
import { z } from 'zod';
import { runs, SHARE_SCOPES } from '../../schema/schema';
import { DEFAULT_SHARE_TTL_MS, parseShareTtl } from '../../src/share';
import { app } from './app';
import { requireApiToken } from './auth';
import type { Env } from './env';
import { ApiError, describeIssues, errorBody } from './errors';
import { htmlPage, runPageHtml } from './pages';
import { readJsonObject } from './runs';
import {
  createShareLink,
  listShareLinks,
  type ResolvedShareLink,
  resolveShareToken,
  revokeShareLink,
  shareLinkResource,
} from './share-links';

type AppContext = Context<{ Bindings: Env }>;

const createBody = z.strictObject({
  scope: z.enum(SHARE_SCOPES).default('view'),
  /** Lifetime: `30d`, `12h`, `90m`, `2w`, or seconds as a number. Default 30 days. */
  expiresIn: z.union([z.string().max(20), z.number().int()]).optional(),
});

async function requireRunRow(c: AppContext): Promise<string> {
  const id = c.req.param('id') ?? '';
  const row = await drizzle(c.env.DB).select({ id: runs.id }).from(runs).where(eq(runs.id, id)).get();
  if (!row) throw new ApiError(404, 'run_not_found', `no run with id '${id}'`);
  return row.id;
}

/** Mounted at `/api/runs/:id/share`. */
export const shareAdminApp = new Hono<{ Bindings: Env }>()
  .use(requireApiToken)
  .post('/', async (c) => {
    const runId = await requireRunRow(c);
    const parsed = createBody.safeParse(await readJsonObject(c));
    if (!parsed.success) throw new ApiError(400, 'invalid_share', describeIssues(parsed.error));
    let ttlMs = DEFAULT_SHARE_TTL_MS;
    if (parsed.data.expiresIn !== undefined) {
      try {
        ttlMs = parseShareTtl(parsed.data.expiresIn);
      } catch (e) {
        throw new ApiError(400, 'invalid_share', `expiresIn: ${(e as Error).message}`);
      }
    }
    const { token, link } = await createShareLink(c.env.DB, runId, parsed.data.scope, ttlMs);
    const url = `${new URL(c.req.url).origin}/s/${token}`;
    // The token is shown this once; only its hash is kept.
    return c.json({ ...shareLinkResource(link), url, token }, 201, { 'Cache-Control': 'no-store' });
  })
  .get('/', async (c) => {
    const runId = await requireRunRow(c);
    const links = await listShareLinks(c.env.DB, runId);
    const now = Date.now();
    return c.json({ runId, links: links.map((l) => shareLinkResource(l, now)) });
  })
  .delete('/:linkId', async (c) => {
    const runId = await requireRunRow(c);
    const link = await revokeShareLink(c.env.DB, runId, c.req.param('linkId'));
    if (!link)
      throw new ApiError(404, 'link_not_found', `run ${runId} has no share link '${c.req.param('linkId')}'`);
    return c.json(shareLinkResource(link));
  });

// ------------------------------------------------------------------------------------------------
// Holder side

export const HOLDER_HEADERS = {
  // The token is in the URL: keep it out of Referer headers, caches and search indexes.
  'Referrer-Policy': 'no-referrer',
  'Cache-Control': 'no-store',
  'X-Robots-Tag': 'noindex',
};

const NOT_FOUND_MESSAGE = 'there is no share link here; check that the URL was copied completely';

function goneMessage(resolved: ResolvedShareLink): string {
  return resolved.status === 'revoked'
    ? 'this share link has been revoked by the owner of the run'
    : `this share link expired on ${new Date(resolved.link.expiresAt).toISOString()}`;
}

/** Paths below `/api/runs/{id}` a link holder may read. */
const READABLE =
  /^(|\/generations|\/events|\/champion|\/models|\/models\/[^/]+\/(model\.onnx|genome\.json))$/;
/** Write actions whose links are removed from mirrored JSON. */
const WRITE_LINKS = new Set(['cancel', 'fork', 'publish', 'share']);

/** Rewrites links into the run's API to the mirror under the token, and drops write links. */
function rewriteLinks(value: unknown, from: string, to: string, pageFrom: string, pageTo: string): unknown {
  if (typeof value === 'string') {
    if (value === pageFrom) return pageTo;
    return value === from || value.startsWith(`${from}/`) || value.startsWith(`${from}?`)
      ? to + value.slice(from.length)
      : value;
  }
  if (Array.isArray(value)) return value.map((v) => rewriteLinks(v, from, to, pageFrom, pageTo));
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      if (WRITE_LINKS.has(k) && typeof v === 'string') continue;
      out[k] = rewriteLinks(v, from, to, pageFrom, pageTo);
    }
    return out;
  }
  return value;
}

async function mirror(
  c: AppContext,
  token: string,
  resolved: ResolvedShareLink,
  rest: string,
): Promise<Response> {
  const method = c.req.method;
  const runId = resolved.link.runId;
  const isRead = method === 'GET' || method === 'HEAD';
  if (!(isRead && READABLE.test(rest))) {
    if (rest === '/predict' && method === 'POST') {
      if (resolved.link.scope !== 'view+predict') {
        throw new ApiError(403, 'forbidden', 'this share link allows viewing the run, not predictions');
      }
    } else if (!isRead) {
      throw new ApiError(
        403,
        'read_only',
        'share links are read-only: starting, cancelling, forking and publishing need the API token',
      );
    } else {
      throw new ApiError(404, 'not_found', `no route for ${method} ${c.req.path}`);
    }
  }
  const url = new URL(c.req.url);
  const origin = url.origin;
  const headers = new Headers(c.req.raw.headers);
  headers.set('Authorization', `Bearer ${token}`);
  headers.delete('Cookie'); // the link alone decides what this request may see
  const inner = new Request(`${origin}/api/runs/${runId}${rest}${url.search}`, {
    method,
    headers,
    body: isRead ? undefined : c.req.raw.body,
  });
  let ctx: ExecutionContext | undefined;
  try {
    ctx = c.executionCtx;
  } catch {
    ctx = undefined; // no execution context (e.g. app.request in tests)
  }
  const res: Response = await app.fetch(inner, c.env, ctx);
  const type = new Headers(res.headers).get('Content-Type') ?? '';
  if (!type.includes('application/json')) {
    const out = new Response(res.body, res);
    for (const [k, v] of Object.entries(HOLDER_HEADERS)) {
      if (k !== 'Cache-Control' || !type.includes('text/event-stream')) out.headers.set(k, v);
    }
    return out;
  }
  const json = (await res.json()) as Record<string, unknown>;
  if (rest === '' && res.ok) {
    // The run itself: tell the page what this link allows.
    const { scope, expiresAt } = resolved.link;
    json.access = { kind: 'share', scope, expiresAt: new Date(expiresAt).toISOString() };
  }
  const body = rewriteLinks(
    json,
    `${origin}/api/runs/${runId}`,
    `${origin}/s/${token}/api/run`,
    `${origin}/runs/${runId}`,
    `${origin}/s/${token}`,
  );
  const out = new Response(JSON.stringify(body), res);
  out.headers.delete('Content-Length');
  out.headers.delete('Location');
  for (const [k, v] of Object.entries(HOLDER_HEADERS)) out.headers.set(k, v);
  return out;
}

/** Mounted at `/s`. */
export const shareHolderApp = new Hono<{ Bindings: Env }>()
  .get('/:token', async (c) => {
    const resolved = await resolveShareToken(c.env.DB, c.req.param('token'));
    if (!resolved) return htmlPage(404, 'Link not found', NOT_FOUND_MESSAGE, HOLDER_HEADERS);
    if (resolved.status !== 'active') {
      const title = resolved.status === 'revoked' ? 'Link revoked' : 'Link expired';
      const message = `${goneMessage(resolved)}. Ask the person who sent it for a new one`;
      return htmlPage(410, title, message, HOLDER_HEADERS);
    }
    return runPageHtml(c, HOLDER_HEADERS);
  })
  .all('/:token/*', async (c) => {
    const token = c.req.param('token');
    const resolved = await resolveShareToken(c.env.DB, token);
    if (!resolved) {
      return c.json(errorBody('not_found', NOT_FOUND_MESSAGE), 404, HOLDER_HEADERS);
    }
    if (resolved.status !== 'active') {
      return c.json(errorBody(`share_link_${resolved.status}`, goneMessage(resolved)), 410, HOLDER_HEADERS);
    }
    const prefix = `/s/${token}/api/run`;
    const path = c.req.path;
    if (path !== prefix && !path.startsWith(`${prefix}/`)) {
      throw new ApiError(404, 'not_found', `no route for ${c.req.method} ${path}`);
    }
    return mirror(c, token, resolved, path.slice(prefix.length));
  });
