/**
 * HTML the Worker answers itself: the run page (one static asset for `/runs/:id` and `/s/:token`;
 * the page reads its URL to know which API to use) and the small pages for missing runs and links.
 * Everything else (dashboard, scripts, styles) is served straight from the static assets.
 */
import { eq } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/d1';
import type { Context } from 'hono';
import { runs } from '../../schema/schema';
import type { Env } from './env';

type AppContext = Context<{ Bindings: Env }>;

const RUN_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export function htmlPage(
  status: 404 | 410,
  title: string,
  message: string,
  headers: Record<string, string> = {},
): Response {
  const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
  const html = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex"><link rel="icon" href="data:,"><title>${escapeHtml(title)} · WANN</title>
<link rel="stylesheet" href="/style.css"></head>
<body><main class="narrow"><section class="panel gone" data-status="${status}">
<h1>${escapeHtml(title)}</h1><p>${escapeHtml(message.charAt(0).toUpperCase() + message.slice(1))}.</p>
</section></main></body></html>`;
  return new Response(html, { status, headers: { 'Content-Type': 'text/html; charset=utf-8', ...headers } });
}

/** The run page's HTML from the static assets (`public/run.html`). */
export async function runPageHtml(c: AppContext, headers: Record<string, string> = {}): Promise<Response> {
  const asset = await c.env.ASSETS.fetch(new URL('/run', c.req.url));
  const res = new Response(asset.body, asset);
  res.headers.set('Content-Type', 'text/html; charset=utf-8');
  for (const [k, v] of Object.entries(headers)) res.headers.set(k, v);
  return res;
}

/** `GET /runs/:id`: the owner's view of a run (writes still need the API token the page asks for). */
export async function runPage(c: AppContext): Promise<Response> {
  const id = c.req.param('id') ?? '';
  const row = RUN_ID.test(id)
    ? await drizzle(c.env.DB).select({ id: runs.id }).from(runs).where(eq(runs.id, id)).get()
    : undefined;
  if (!row) return htmlPage(404, 'Run not found', `There is no run with id '${id}'`);
  return runPageHtml(c);
}
