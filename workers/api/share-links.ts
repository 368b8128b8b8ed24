/**
 * Share links in D1 (`share_links`): mint, list, revoke, and resolve a presented token. Only the
 * token's SHA-256 is stored; the token itself exists once, in the response to its creation.
 */
import { and, desc, eq, isNull } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/d1';
import { type ShareLinkRow, shareLinks } from '../../schema/schema';
import type { ShareLinkResource } from '../../src/api/types';
import type { ShareScope } from '../../src/api/vocabulary';
import {
  hashShareToken,
  isShareTokenFormat,
  newShareToken,
  type ShareLinkStatus,
  shareLinkStatus,
} from '../../src/share';

export interface ResolvedShareLink {
  link: ShareLinkRow;
  status: ShareLinkStatus;
}

/** The link a token names (with its status now), or null for anything that is not a live row. */
export async function resolveShareToken(db: D1Database, token: string): Promise<ResolvedShareLink | null> {
  if (!isShareTokenFormat(token)) return null;
  const hash = await hashShareToken(token);
  const link = await drizzle(db).select().from(shareLinks).where(eq(shareLinks.tokenHash, hash)).get();
  return link ? { link, status: shareLinkStatus(link, Date.now()) } : null;
}

export async function createShareLink(
  db: D1Database,
  runId: string,
  scope: ShareScope,
  ttlMs: number,
): Promise<{ token: string; link: ShareLinkRow }> {
  const token = newShareToken();
  const now = Date.now();
  const link: ShareLinkRow = {
    id: crypto.randomUUID(),
    runId,
    tokenHash: await hashShareToken(token),
    scope,
    expiresAt: now + ttlMs,
    revokedAt: null,
    createdAt: now,
  };
  await drizzle(db).insert(shareLinks).values(link);
  return { token, link };
}

export function listShareLinks(db: D1Database, runId: string): Promise<ShareLinkRow[]> {
  return drizzle(db)
    .select()
    .from(shareLinks)
    .where(eq(shareLinks.runId, runId))
    .orderBy(desc(shareLinks.createdAt), desc(shareLinks.id));
}

/** Every link of every run, newest first (the owner's overview: `GET /api/share-links`). */
export function listAllShareLinks(db: D1Database): Promise<ShareLinkRow[]> {
  return drizzle(db).select().from(shareLinks).orderBy(desc(shareLinks.createdAt), desc(shareLinks.id));
}

/**
 * Revoke every link not yet revoked, of every run, in one statement (`DELETE /api/share-links`);
 * answers how many it revoked. Their open event streams end at their next credential check.
 */
export async function revokeAllShareLinks(db: D1Database): Promise<number> {
  const revoked = await drizzle(db)
    .update(shareLinks)
    .set({ revokedAt: Date.now() })
    .where(isNull(shareLinks.revokedAt))
    .returning({ id: shareLinks.id });
  return revoked.length;
}

/** Revoke (idempotent: the first revocation time is kept); null when the run has no such link. */
export async function revokeShareLink(
  db: D1Database,
  runId: string,
  linkId: string,
): Promise<ShareLinkRow | null> {
  const d = drizzle(db);
  const where = and(eq(shareLinks.id, linkId), eq(shareLinks.runId, runId));
  await d
    .update(shareLinks)
    .set({ revokedAt: Date.now() })
    .where(and(where, isNull(shareLinks.revokedAt)));
  return (await d.select().from(shareLinks).where(where).get()) ?? null;
}

/** A link as the owner's API shows it: never the hash, never the token. */
export function shareLinkResource(link: ShareLinkRow, now = Date.now()): ShareLinkResource {
  return {
    id: link.id,
    runId: link.runId,
    scope: link.scope,
    status: shareLinkStatus(link, now),
    createdAt: new Date(link.createdAt).toISOString(),
    expiresAt: new Date(link.expiresAt).toISOString(),
    revokedAt: link.revokedAt === null ? null : new Date(link.revokedAt).toISOString(),
  };
}
