/**
 * A run page whose stream ended because its credential did (a share link revoked or expired, the
 * owner's session ended): say so and why, and take back what no longer works (the ETA, downloads).
 */
import type { StreamEnd } from '../../src/api/stream-events';
import { byId, el } from './dom';

/** Stream end codes that mean this page's access is over (a reload would be refused too). */
const ACCESS_ENDED: Record<string, string> = {
  share_link_revoked: 'Access ended: the owner revoked this share link.',
  share_link_expired: 'Access ended: this share link expired.',
  session_ended: 'Access ended: the owner session ended.',
  token_rotated: 'Access ended: the API token changed.',
};

/** Whether `end` means access is over (rather than a stream to reconnect, e.g. `reader_behind`). */
export function accessEnded(end: StreamEnd): boolean {
  return end.code in ACCESS_ENDED;
}

/** Parse an `end` event's data; null when it is not one (a connection error has no data). */
export function parseStreamEnd(data: unknown): StreamEnd | null {
  if (typeof data !== 'string' || !data) return null;
  try {
    const end = JSON.parse(data) as Partial<StreamEnd>;
    return typeof end.code === 'string' && typeof end.message === 'string'
      ? { code: end.code, message: end.message }
      : null;
  } catch {
    return null;
  }
}

/**
 * The notice at the top of the page (the server's own words after the short reason), the mode
 * badge, and every download button disabled: their requests would be refused now.
 */
export function showAccessEnded(end: StreamEnd): void {
  const notice = byId('access-ended');
  notice.replaceChildren(
    el('strong', {}, ACCESS_ENDED[end.code] ?? 'Access ended.'),
    ` ${end.message}. What is shown is as it was then; reload to see whether access is back.`,
  );
  notice.dataset.code = end.code;
  notice.hidden = false;
  const badge = byId('mode');
  badge.textContent = end.code === 'share_link_revoked' ? 'shared view, revoked' : 'access ended';
  badge.classList.add('ended');
  disableDownloads();
}

/** Downloads (and anything else that asks the server for the run's data) can no longer work. */
export function disableDownloads(): void {
  for (const b of document.querySelectorAll<HTMLButtonElement>(
    '#downloads button, #models-body button, #digit button[data-ask-server]',
  )) {
    b.disabled = true;
    b.title = 'access to this run has ended';
  }
}
