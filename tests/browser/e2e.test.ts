/**
 * End to end in Chromium against `npm start`'s servers: the owner starts a search from the
 * dashboard (signing in with the token starts the session cookie the pages read and write with;
 * the browser keeps no token), watches the curves
 * grow and the network appear, draws a digit, and shares the run; a stranger with only the run URL
 * is told it needs the API token and sees nothing; a collaborator opens the link in a fresh
 * browser (no token) and sees the run read-only, draws a digit; the owner revokes the link and it
 * stops working; every page answers with the security headers and runs under its CSP without a
 * violation; ending all sessions signs every browser out. Screenshots land in
 * tests/browser/screenshots/.
 */
import { readFileSync, statSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { SECURITY_HEADERS } from '../../workers/api/security-headers';
import { type Browser, drawSeven, launch, shot, shotOf, shownProbabilities } from './browser';

const URL_ = inject('wannUrl');
const TOKEN = inject('wannToken');
const SKIP = inject('browserSkip');

/** Signing in takes a few requests in a row; the machine may be busy. */
const SIGNED_IN = { timeout: 10_000 };

// Long enough to still be running when the page first draws (a generation of 48 takes ~50 ms).
const RUN = { population: '48', generations: '200', seed: '1' };

/** Page-side values read through locators (the test's tsconfig has no DOM types). */
interface Sized {
  scrollWidth: number;
  clientWidth: number;
}

describe.skipIf(SKIP !== null)('owner and collaborator in the browser', () => {
  let owner: Browser;
  let runUrl = '';
  let shareUrl = '';

  beforeAll(async () => {
    owner = await launch();
  });
  afterAll(async () => {
    await owner?.close();
  });

  it('starts a small search from the dashboard', async () => {
    const { page } = owner;
    await page.goto(`${URL_}/`);
    await expect.poll(() => page.locator('#runs tbody').textContent()).not.toContain('Loading');
    // Without the token the server refuses, and the page says what to do.
    await page.fill('#cfg-population', RUN.population);
    await page.click('#start-submit');
    await expect.poll(() => page.textContent('#start-error')).toContain('API token');

    await page.fill('#token', TOKEN);
    await page.click('#token-form button[type=submit]');
    await expect.poll(() => page.textContent('#token-state'), SIGNED_IN).toContain('Signed in until');
    // The browser keeps no token: not in storage, not in a cookie a script could read, not in the form.
    const kept = (await page.evaluate(
      'JSON.stringify([{ ...localStorage }, { ...sessionStorage }, document.cookie])',
    )) as string;
    expect(kept).not.toContain(TOKEN);
    expect(kept).not.toContain('wann_session');
    expect(await page.inputValue('#token')).toBe('');
    await page.fill('#cfg-population', RUN.population);
    await page.fill('#cfg-generations', RUN.generations);
    await page.fill('#cfg-seed', RUN.seed);
    await shot(page, '01-dashboard');
    await page.click('#start-submit');
    await page.waitForURL(/\/runs\/[0-9a-f-]{36}$/);
    runUrl = page.url();
    expect(owner.errors).toEqual([]);
  });

  it('shows the curves gaining points while the run is running', async () => {
    const { page } = owner;
    const points = async () => Number((await page.getAttribute('#chart-fitness', 'data-points')) ?? '0');
    await expect.poll(points, { timeout: 30_000 }).toBeGreaterThanOrEqual(2);
    const first = await points();
    const status = await page.textContent('#status');
    expect(status).toBe('running');
    await expect.poll(points, { timeout: 30_000 }).toBeGreaterThan(first);
    await expect.poll(() => page.textContent('[data-fact="Generation"]')).toMatch(/^\d+ \/ 200$/);
    await shot(page, '02-run-live');
  });

  it('draws the champion network as SVG with the 16×16 input grid', async () => {
    const { page } = owner;
    const svg = page.locator('#network-svg svg');
    await svg.waitFor({ timeout: 30_000 });
    expect(await svg.locator('rect.pixel').count()).toBe(256);
    expect(await svg.locator('circle.output').count()).toBe(10);
    expect(await svg.locator('rect.pixel.on').count()).toBeGreaterThan(0);
    expect(await svg.locator('line.edge').count()).toBeGreaterThan(0);
    expect(await page.locator('#network-legend li').count()).toBeGreaterThan(1);
  });

  it('finishes, publishes, and runs a drawn digit in the browser (10 probabilities)', async () => {
    const { page } = owner;
    await expect.poll(() => page.textContent('#status'), { timeout: 90_000 }).toBe('completed');
    await page.locator('#model-table').waitFor({ timeout: 60_000 });
    await page.locator('#chart-signature canvas').first().waitFor();
    await expect.poll(() => page.textContent('#digit-state'), { timeout: 60_000 }).toContain('Model ready');
    await drawSeven(page);
    await expect.poll(() => page.locator('#digit-probs li').count(), { timeout: 30_000 }).toBe(10);
    const probabilities = await shownProbabilities(page);
    expect(probabilities).toHaveLength(10);
    expect(probabilities.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 1);
    expect(await page.textContent('#digit-vote')).toMatch(
      /^Vote: \d \(\d of 6 weights\), by v\d+ \(shared weights, ensemble\)$/,
    );
    await shot(page, '03-run-completed');

    // Downloads: generations CSV (one row per generation) and the ONNX model.
    const [csv] = await Promise.all([
      page.waitForEvent('download'),
      page.click('[data-download="Generations (CSV)"]'),
    ]);
    const lines = readFileSync((await csv.path())!, 'utf8')
      .trim()
      .split('\n');
    expect(lines[0]).toMatch(/^gen,/);
    expect(lines).toHaveLength(Number(RUN.generations) + 1);
    const [onnx] = await Promise.all([
      page.waitForEvent('download'),
      page.click('[data-download="Latest model (ONNX)"]'),
    ]);
    expect(onnx.suggestedFilename()).toMatch(/^run-[0-9a-f]{8}-v1\.onnx$/);
    expect(statSync((await onnx.path())!).size).toBeGreaterThan(100);
    expect(owner.errors).toEqual([]);
  });

  it('creates a share link from the run page', async () => {
    const { page } = owner;
    await page.selectOption('#share-scope', 'view+predict');
    await page.selectOption('#share-expires', '7d');
    await page.click('#share-form button[type=submit]');
    await page.locator('#share-url').waitFor();
    shareUrl = await page.inputValue('#share-url');
    expect(shareUrl).toMatch(new RegExp(`^${URL_}/s/[A-Za-z0-9_-]{43}$`));
    await expect.poll(() => page.locator('#share-links li[data-status="active"]').count()).toBe(1);
  });

  it('shows a stranger with only the run URL that it needs the API token, and no data', async () => {
    const stranger = await launch();
    try {
      const { page } = stranger;
      const id = runUrl.split('/').pop()!;
      const response = await page.goto(runUrl);
      expect(response?.status()).toBe(200); // the page is public: it holds no data
      await expect.poll(() => page.textContent('#fatal')).toContain('needs the API token');
      expect(await page.locator('#fatal').isVisible()).toBe(true);
      expect(await page.getAttribute('#fatal a', 'href')).toBe('/');
      expect(await page.textContent('#status')).toBe('needs the API token');
      // Nothing of the run: no facts, points, network, models, downloads or controls.
      expect(await page.locator('#facts dd').count()).toBe(0);
      expect(await page.getAttribute('#chart-fitness', 'data-points')).toBeNull();
      for (const selector of ['#network-svg svg', '#model-table', '[data-download]', '#cancel', '#fork-form'])
        expect(await page.locator(selector).count(), selector).toBe(0);
      expect(await page.textContent('#crumb')).toBe('');
      expect(await page.locator('#curves').isHidden()).toBe(true);
      await shot(page, '04a-run-needs-token');
      // The API itself answers 401 in its JSON shape (asked with this browser's cookies): the run
      // id alone grants nothing.
      for (const path of [`/api/runs/${id}`, `/api/runs/${id}/generations`, '/api/runs']) {
        const api = await stranger.context.request.get(`${URL_}${path}`);
        expect(api.status(), path).toBe(401);
        expect(((await api.json()) as { error: { code: string } }).error.code).toBe('unauthorized');
      }

      // Following the link, entering the token on the dashboard opens the run (session cookie).
      await page.goto(runUrl);
      await page.click('#fatal a');
      await page.waitForURL(`${URL_}/`);
      await expect.poll(() => page.textContent('#runs tbody')).toContain('Enter the API token');
      await page.fill('#token', TOKEN);
      await page.click('#token-form button[type=submit]');
      await expect.poll(() => page.locator(`#runs tbody tr[data-run="${id}"]`).count(), SIGNED_IN).toBe(1);
      await page.goto(runUrl);
      await expect.poll(() => page.textContent('#status')).toBe('completed');
      expect(await page.locator('#fatal').isHidden()).toBe(true);
      // The session is an HttpOnly, SameSite=Strict cookie that is not the token, good for reads only.
      const [session] = (await stranger.context.cookies()).filter((c) => c.name === 'wann_session');
      expect(session).toMatchObject({ httpOnly: true, sameSite: 'Strict', path: '/' });
      expect(session.value).not.toContain(TOKEN);
      expect((await stranger.context.request.get(`${URL_}/api/runs/${id}`)).status()).toBe(200);
      // Writes with the cookie must come from this site's pages: without an Origin, or from
      // another site, they are refused (403); the page's own fetch is let through.
      for (const headers of [{}, { Origin: 'http://evil.test' }] as Record<string, string>[]) {
        const fork = await stranger.context.request.post(`${URL_}/api/runs/${id}/fork`, {
          data: {},
          headers,
        });
        expect(fork.status()).toBe(403);
        expect(((await fork.json()) as { error: { code: string } }).error.code).toBe('cross_origin');
      }
      const cancel = await page.evaluate(
        `fetch('/api/runs/${id}/cancel', { method: 'POST' }).then((r) => r.status)`,
      );
      expect(cancel).toBe(409); // authorised; the run has already finished
      // The only console errors are the browser reporting the refused (401) and finished (409) requests.
      expect(stranger.errors.filter((e) => !/status of (401|409)/.test(e))).toEqual([]);
    } finally {
      await stranger.close();
    }
  });

  it('shows the run to a collaborator without the token, with no write controls', async () => {
    const guest = await launch();
    try {
      const { page } = guest;
      await page.goto(shareUrl);
      await expect.poll(() => page.textContent('#status')).toBe('completed');
      expect(await page.textContent('#title')).toBe(`Run ${runUrl.split('/').pop()!.slice(0, 8)}`);
      expect(await page.textContent('#mode')).toContain('shared view');
      await expect
        .poll(async () => Number(await page.getAttribute('#chart-fitness', 'data-points')))
        .toBe(Number(RUN.generations));
      await page.locator('#network-svg svg').waitFor({ timeout: 30_000 });
      // Not hidden: absent. No write buttons, forms, token fields or links back to the dashboard.
      for (const selector of ['#cancel', '#publish', '#fork-form', '#share-form', '#token', 'a[href="/"]']) {
        expect(await page.locator(selector).count(), selector).toBe(0);
      }
      expect(await page.locator('#share').isHidden()).toBe(true);
      const text = (await page.textContent('body')) ?? '';
      for (const word of ['Cancel run', 'Fork with', 'Publish the', 'Create share link'])
        expect(text).not.toContain(word);

      await expect.poll(() => page.textContent('#digit-state'), { timeout: 60_000 }).toContain('Model ready');
      await drawSeven(page);
      await expect.poll(() => page.locator('#digit-probs li').count(), { timeout: 30_000 }).toBe(10);
      await shot(page, '04-shared-view');

      // Phone width: the page fits without sideways scrolling.
      await page.setViewportSize({ width: 390, height: 844 });
      await page.reload();
      await expect.poll(() => page.textContent('#status')).toBe('completed');
      await page.locator('#network-svg svg').waitFor({ timeout: 30_000 });
      const size = await page
        .locator('html')
        .evaluate((el: Sized) => ({ scrollWidth: el.scrollWidth, clientWidth: el.clientWidth }));
      expect(size.scrollWidth).toBeLessThanOrEqual(size.clientWidth);
      await shot(page, '05-shared-view-phone');
      await shotOf(page.locator('#network'), '05b-phone-network');
      await shotOf(page.locator('#curves'), '05c-phone-curves');
      expect(guest.errors).toEqual([]);
    } finally {
      await guest.close();
    }
  });

  it('asks the server for predictions through a link whose scope allows it', async () => {
    const guest = await launch();
    try {
      const { page } = guest;
      await page.goto(shareUrl);
      await expect.poll(() => page.textContent('#digit-state'), { timeout: 60_000 }).toContain('Model ready');
      await drawSeven(page);
      await expect.poll(() => page.locator('#digit-probs li').count(), { timeout: 30_000 }).toBe(10);
      await page.click('text=Ask the server too');
      await expect
        .poll(() => page.textContent('#digit-server'), { timeout: 30_000 })
        .toMatch(/^Server: \d \(/);
      expect(guest.errors).toEqual([]);
    } finally {
      await guest.close();
    }
  });

  it('stops working once the owner revokes the link (410 page)', async () => {
    const { page } = owner;
    await page.click('#share-links li[data-status="active"] button[data-revoke]');
    await page.click('#confirm-yes'); // the run page asks first
    await expect
      .poll(() => page.locator('#share-links li[data-status="revoked"]').count(), { timeout: 15_000 })
      .toBe(1);

    const guest = await launch();
    try {
      const response = await guest.page.goto(shareUrl);
      expect(response?.status()).toBe(410);
      expect(await guest.page.textContent('h1')).toBe('Link revoked');
      await shot(guest.page, '06-revoked-link');
      const json = await guest.page.goto(`${shareUrl}/api/run`);
      expect(json?.status()).toBe(410);
      // A made-up token: 404, and nothing about any run.
      const wrong = await guest.page.goto(`${URL_}/s/${'A'.repeat(43)}`);
      expect(wrong?.status()).toBe(404);
      expect(await guest.page.textContent('body')).not.toContain(runUrl.split('/').pop()!);
      // The only console errors are the browser reporting those 410/404 documents.
      expect(guest.errors.filter((e) => !/status of (404|410)/.test(e))).toEqual([]);
    } finally {
      await guest.close();
    }
    expect(owner.errors).toEqual([]);
  });

  it('forks the run with changes from its page', async () => {
    const { page } = owner;
    await page.goto(runUrl);
    await page.click('#fork summary');
    await page.fill('#fork-form [name="generations"]', '208');
    expect(await page.locator('#fork-form [name="population"]').isDisabled()).toBe(true);
    await page.click('#fork-form button[type=submit]');
    await page.waitForURL((u) => /\/runs\/[0-9a-f-]{36}$/.test(u.pathname) && u.href !== runUrl);
    await expect.poll(() => page.textContent('#config-facts')).toContain('forked from');
    expect(await page.getAttribute('#config-facts a', 'href')).toBe(new URL(runUrl).pathname);
    await expect.poll(() => page.textContent('#status'), { timeout: 60_000 }).toBe('completed');
    expect(await page.textContent('[data-fact="Generation"]')).toBe('208 / 208');
    expect(owner.errors).toEqual([]);
  });

  it('lays the dashboard out at phone width', async () => {
    const phone = await launch({ width: 390, height: 844 });
    try {
      await phone.page.goto(`${URL_}/`);
      // The list is the owner's: a fresh browser enters the token first.
      await phone.page.fill('#token', TOKEN);
      await phone.page.click('#token-form button[type=submit]');
      await expect
        .poll(() => phone.page.locator('#runs tbody tr[data-run]').count(), SIGNED_IN)
        .toBeGreaterThan(0);
      const size = await phone.page
        .locator('html')
        .evaluate((el: Sized) => ({ scrollWidth: el.scrollWidth, clientWidth: el.clientWidth }));
      expect(size.scrollWidth).toBeLessThanOrEqual(size.clientWidth);
      await shot(phone.page, '07-dashboard-phone');
      expect(phone.errors).toEqual([]);
    } finally {
      await phone.close();
    }
  });

  it('answers pages, scripts and API alike with the security headers', async () => {
    const link = `${URL_}/s/${'A'.repeat(43)}`;
    for (const path of [
      '/',
      '/build/dashboard.js',
      '/build/run.js',
      '/style.css',
      new URL(runUrl).pathname,
      link,
    ]) {
      const res = await owner.context.request.get(path.startsWith('http') ? path : `${URL_}${path}`);
      const headers = res.headers();
      for (const [name, value] of Object.entries(SECURITY_HEADERS)) {
        expect(headers[name.toLowerCase()], `${name} on ${path}`).toBe(value);
      }
    }
  });

  it('ends every session from the dashboard: other browsers are signed out too', async () => {
    const other = await launch();
    try {
      await other.page.goto(`${URL_}/`);
      await other.page.fill('#token', TOKEN);
      await other.page.click('#token-form button[type=submit]');
      await expect
        .poll(() => other.page.locator('#runs tbody tr[data-run]').count(), SIGNED_IN)
        .toBeGreaterThan(0);

      const { page } = owner;
      await page.goto(`${URL_}/`);
      await expect.poll(() => page.locator('#runs tbody tr[data-run]').count(), SIGNED_IN).toBeGreaterThan(0);
      await page.click('#sign-out-everywhere');
      await expect.poll(() => page.textContent('#token-state')).toMatch(/^Ended \d+ sessions?/);
      await expect.poll(() => page.textContent('#runs tbody')).toContain('Enter the API token');

      // The other browser's cookie is still there, but the server no longer honours it.
      await other.page.goto(runUrl);
      await expect.poll(() => other.page.textContent('#fatal')).toContain('needs the API token');
      await other.page.goto(`${URL_}/`);
      await expect.poll(() => other.page.textContent('#runs tbody')).toContain('Enter the API token');
      expect(other.errors.filter((e) => !/status of 401/.test(e))).toEqual([]);
    } finally {
      await other.close();
    }
    expect(owner.errors.filter((e) => !/status of 401/.test(e))).toEqual([]);
  });
});
