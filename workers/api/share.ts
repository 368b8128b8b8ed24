/**
 * Share links: capabilities that let a collaborator see one run without the API token.
 *
 * Owner API (`requireOwner`): `POST /api/runs/:id/share` mints a link, `GET …/share` lists them,
 * `DELETE …/share/:linkId` revokes one. Across runs: `GET /api/share-links` lists every link,
 * `DELETE /api/share-links` revokes them all (links do not depend on the API token, so rotating
 * the token leaves them working; this is how to end them all at once).
 *
 * Holder side, everything under the token's path, so a link is one URL that needs no header:
 * - `GET /s/{token}`: the run page, read-only (the page reads its data from the routes below).
 * - `/s/{token}/api/run[/…]`: the run's own routes (`/api/runs/{runId}[/…]`, the same handlers,
 *   mounted again in app.ts) read with the link's rights: the run, its generations (JSON, or CSV
 *   with `Accept: text/csv`), the SSE event stream, the champion genome, published models and
 *   their downloads, and `POST …/predict` when the scope is `view+predict`. `shareLinkAccess`
 *   resolves the token once; the routes' guards (auth.ts) decide from it, so writes are refused
 *   (403) and the answers' links point under the token and offer no owner actions.
 * API clients may instead send the share token as `Authorization: Bearer` to the per-run routes
 * (`/api/runs/{runId}/…` reads, predictions, KServe v2), which all use `requireRunAccess`.
 *
 * The answers show the run id, but an id alone grants nothing: every per-run read needs the API
 * token, the owner's session or a live share token for that run, so a revoked or expired link
 * leaves its holder with nothing that still works.
 *
 * An unknown or malformed token is a 404 that says nothing more (the same answer for every wrong
 * token); a revoked or expired one is a 410.
 */
import { eq } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/d1';
import { type Context, Hono } from 'hono';
import { createMiddleware } from 'hono/factory';
import { z } from 'zod';
import { runs } from '../../schema/schema';
import type { AllShareLinks, RevokedShareLinks } from '../../src/api/types';
import { SHARE_SCOPES } from '../../src/api/vocabulary';
import { DEFAULT_SHARE_TTL_MS, parseShareTtl } from '../../src/share';
import { requireOwner } from './auth';
import type { Env } from './env';
import { ApiError, describeIssues } from './errors';
import { htmlPage, runPageHtml } from './pages';
import { readJsonObject } from './runs';
import {
  createShareLink,
  listAllShareLinks,
  listShareLinks,
  type ResolvedShareLink,
  resolveShareToken,
  revokeAllShareLinks,
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
  .use(requireOwner)
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

/** Mounted at `/api/share-links`: every run's links at once (owner only). */
export const shareLinksApp = new Hono<{ Bindings: Env }>()
  .use(requireOwner)
  .get('/', async (c) => {
    const now = Date.now();
    const links = (await listAllShareLinks(c.env.DB)).map((l) => shareLinkResource(l, now));
    return c.json({ links } satisfies AllShareLinks, 200, { 'Cache-Control': 'no-store' });
  })
  .delete('/', async (c) =>
    c.json({ revoked: await revokeAllShareLinks(c.env.DB) } satisfies RevokedShareLinks),
  );

// ------------------------------------------------------------------------------------------------
// Holder side

const NOT_FOUND_MESSAGE = 'there is no share link here; check that the URL was copied completely';

function goneMessage(resolved: ResolvedShareLink): string {
  return resolved.status === 'revoked'
    ? 'this share link has been revoked by the owner of the run'
    : `this share link expired on ${new Date(resolved.link.expiresAt).toISOString()}`;
}

/**
 * `/s/:token/*`: resolves the link once, for the page and for every API route under it. An unknown
 * or malformed token is the same 404 for every wrong token (HTML for the page, JSON below it), a
 * revoked or expired one a 410; a live one becomes the request's only credential
 * (`c.var.access`, which the guards on the shared routes read): the Authorization header and
 * cookies are not consulted under a link.
 */
export const shareLinkAccess = createMiddleware<{ Bindings: Env }>(async function shareLinkAccess(c, next) {
  const token = c.req.param('token') ?? '';
  const page = c.req.path === `/s/${token}`;
  const resolved = await resolveShareToken(c.env.DB, token);
  if (!resolved) {
    if (page) return htmlPage(404, 'Link not found', NOT_FOUND_MESSAGE);
    throw new ApiError(404, 'not_found', NOT_FOUND_MESSAGE);
  }
  if (resolved.status !== 'active') {
    if (page) {
      const title = resolved.status === 'revoked' ? 'Link revoked' : 'Link expired';
      return htmlPage(410, title, `${goneMessage(resolved)}. Ask the person who sent it for a new one`);
    }
    throw new ApiError(410, `share_link_${resolved.status}`, goneMessage(resolved));
  }
  c.set('access', { kind: 'share', via: 'path', link: resolved.link, token });
  await next();
});

/** Mounted at `/s`: the run page of a link (the middleware above has checked it). */
export const shareHolderApp = new Hono<{ Bindings: Env }>().get('/:token', (c) => runPageHtml(c));
