/**
 * The browser for the browser tests, with console capture. By default the headless Chromium that
 * the `@sparticuz/chromium` devDependency ships inside its npm tarball (brotli-packed, x64 Linux),
 * so `npm ci && npm test` needs no system browser: `ensureChromium()` unpacks it once per package
 * version into node_modules/.cache/wann-chromium/<version>/, next to the NSS/expat libraries and the
 * SwiftShader libraries from the same package, with a fontconfig file that uses only the DejaVu
 * fonts of the `dejavu-fonts-ttf` devDependency (screenshots look the same on every machine).
 * `WANN_CHROMIUM=/path/to/chromium` uses another Chromium instead (e.g. Debian's /usr/bin/chromium).
 */
import {
  createReadStream,
  createWriteStream,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, normalize } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { brotliDecompressSync, createBrotliDecompress } from 'node:zlib';
import { type BrowserContext, chromium, type Page, type Request } from 'playwright-core';

export const SCREENSHOTS = fileURLToPath(new URL('./screenshots/', import.meta.url));
mkdirSync(SCREENSHOTS, { recursive: true });

const ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** The environment variable naming another Chromium binary to use instead of the npm-shipped one. */
export const CHROMIUM_ENV = 'WANN_CHROMIUM';
const CACHE = fileURLToPath(new URL('../../node_modules/.cache/wann-chromium/', import.meta.url));
const LAYOUT = 1;

export interface ChromiumSetup {
  executablePath: string;
  /** Environment for the browser process (undefined: this process's own). */
  env: Record<string, string> | undefined;
  /** What it is, for messages. */
  source: string;
}

/** Files of an uncompressed tar archive (regular files and folders only: all these archives hold). */
function untar(archive: Uint8Array, into: string): void {
  const latin1 = new TextDecoder('latin1');
  for (let at = 0; at + 512 <= archive.length; ) {
    const header = archive.subarray(at, at + 512);
    if (header.every((b) => b === 0)) break;
    const text = (from: number, to: number) => {
      const end = header.indexOf(0, from);
      return latin1.decode(header.subarray(from, end === -1 || end > to ? to : end));
    };
    // POSIX ustar keeps a name prefix at 345; GNU tar (magic "ustar  ") keeps other fields there.
    const prefix = text(257, 263) === 'ustar' ? text(345, 500) : '';
    const name = normalize([prefix, text(0, 100)].filter(Boolean).join('/'));
    const size = Number.parseInt(text(124, 136).trim() || '0', 8);
    const type = text(156, 157) || '0';
    const mode = Number.parseInt(text(100, 108).trim() || '644', 8);
    if (name.startsWith('..') || name.startsWith('/'))
      throw new Error(`tar entry outside its folder: ${name}`);
    const target = join(into, name);
    if (type === '5') mkdirSync(target, { recursive: true });
    else if (type === '0') {
      mkdirSync(dirname(target), { recursive: true });
      writeFileSync(target, archive.subarray(at + 512, at + 512 + size), { mode: mode & 0o755 });
    } else throw new Error(`tar entry ${name} has type ${type}: only files and folders are expected`);
    at += 512 + Math.ceil(size / 512) * 512;
  }
}

const FONTS_CONF = (fontDir: string, cacheDir: string) => `<?xml version="1.0"?>
<!DOCTYPE fontconfig SYSTEM "fonts.dtd">
<fontconfig>
  <dir>${fontDir}</dir>
  <cachedir>${cacheDir}</cachedir>
  <match target="pattern">
    <edit name="family" mode="append_last"><string>sans-serif</string></edit>
  </match>
  <alias><family>sans-serif</family><prefer><family>DejaVu Sans</family></prefer></alias>
  <alias><family>system-ui</family><prefer><family>DejaVu Sans</family></prefer></alias>
  <alias><family>serif</family><prefer><family>DejaVu Serif</family></prefer></alias>
  <alias><family>monospace</family><prefer><family>DejaVu Sans Mono</family></prefer></alias>
</fontconfig>
`;

/**
 * The Chromium the browser tests drive (see the top of this file). Unpacking takes a few seconds
 * once after each `npm ci`; it writes a private folder first and renames it into place, so
 * concurrent callers never see a half-written browser.
 */
export async function ensureChromium(): Promise<ChromiumSetup> {
  const override = process.env[CHROMIUM_ENV];
  if (override) {
    if (!existsSync(override)) throw new Error(`${CHROMIUM_ENV}=${override}: no such file`);
    return { executablePath: override, env: undefined, source: `${override} (from ${CHROMIUM_ENV})` };
  }
  const require = createRequire(import.meta.url);
  const pkg = join(dirname(require.resolve('@sparticuz/chromium')), '..');
  const version: string = JSON.parse(readFileSync(join(pkg, 'package.json'), 'utf8')).version;
  const fonts = join(dirname(require.resolve('dejavu-fonts-ttf/package.json')), 'ttf');
  // Bump LAYOUT when what is written here changes (fonts.conf, files), so old unpackings are not reused.
  const dir = join(CACHE, `${version}-layout${LAYOUT}`);
  const executablePath = join(dir, 'chromium');
  if (!existsSync(executablePath)) {
    if (process.platform !== 'linux' || process.arch !== 'x64') {
      throw new Error(
        `@sparticuz/chromium ships a browser for x64 Linux only (this is ${process.platform}-${process.arch}): set ${CHROMIUM_ENV} to a Chromium binary`,
      );
    }
    mkdirSync(CACHE, { recursive: true });
    const work = mkdtempSync(join(CACHE, `.unpacking-${version}-`));
    try {
      const bin = join(pkg, 'bin');
      await pipeline(
        createReadStream(join(bin, 'chromium.br')),
        createBrotliDecompress(),
        createWriteStream(join(work, 'chromium'), { mode: 0o755 }),
      );
      // NSS and expat (the binary's only libraries besides glibc), and SwiftShader beside the binary.
      for (const archive of ['al2023.tar.br', 'swiftshader.tar.br']) {
        untar(new Uint8Array(brotliDecompressSync(new Uint8Array(readFileSync(join(bin, archive))))), work);
      }
      writeFileSync(join(work, 'fonts.conf'), FONTS_CONF(fonts, join(dir, 'fontconfig-cache')));
      try {
        renameSync(work, dir);
      } catch (e) {
        if (!existsSync(executablePath)) throw e; // else another process got there first
      }
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  }
  const libs = join(dir, 'lib');
  const inherited = process.env.LD_LIBRARY_PATH;
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined) env[k] = v;
  env.LD_LIBRARY_PATH = inherited ? `${libs}:${inherited}` : libs;
  env.FONTCONFIG_FILE = join(dir, 'fonts.conf');
  return { executablePath, env, source: `@sparticuz/chromium ${version}` };
}

export interface Browser {
  context: BrowserContext;
  page: Page;
  /** Console errors and uncaught exceptions seen so far. */
  errors: string[];
  close(): Promise<void>;
}

/** A fresh profile (no stored token, no cookies): each call is a different person's browser. */
export async function launch(viewport = { width: 1280, height: 900 }): Promise<Browser> {
  const { executablePath, env } = await ensureChromium();
  const profile = mkdtempSync(join(tmpdir(), 'wann-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath,
    env,
    headless: true,
    // A fixed locale: under LANG=C.UTF-8 (common on servers and CI) the headless shell reports
    // navigator.language "en-US@posix", which is no valid language tag for Intl and toLocale*.
    locale: 'en-US',
    viewport,
    args: ARGS,
  });
  const errors: string[] = [];
  // What this browser is waiting on, for a navigation that does not load: once (issue 21 item 5) a
  // run page's `goto` in a long-used browser waited 90 s with nothing to say why.
  const open = new Map<Request, string>();
  context.on('request', (r) =>
    open.set(r, `${r.method()} ${new URL(r.url()).pathname} (${r.resourceType()})`),
  );
  context.on('requestfinished', (r) => open.delete(r));
  context.on('requestfailed', (r) => open.delete(r));
  const explainTimeouts = (p: Page) => {
    const goto = p.goto.bind(p);
    p.goto = async (url, options) => {
      try {
        return await goto(url, options);
      } catch (e) {
        const pages = context.pages().length;
        (e as Error).message +=
          `\n${open.size} requests open in this browser (${pages} pages): ${[...open.values()].join('; ') || 'none'}` +
          (await whyNotLoaded([...open.keys()]));
        throw e;
      }
    };
  };
  const first = context.pages()[0];
  if (first) explainTimeouts(first);
  context.on('page', explainTimeouts);
  const page = first ?? (await context.newPage());
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(`console: ${m.text()} (${m.location().url})`);
  });
  page.on('pageerror', (e) => errors.push(`uncaught: ${e.message}`));
  return {
    context,
    page,
    errors,
    async close() {
      try {
        await context.close();
      } finally {
        rmSync(profile, { recursive: true, force: true });
      }
    },
  };
}

/**
 * For a navigation that did not load: each request the browser still waits on, asked again from
 * here (does the platform answer it now, to another connection?), and the platform's last lines
 * (its request log, with times) from the global setup's log file.
 */
async function whyNotLoaded(open: Request[]): Promise<string> {
  const lines: string[] = [];
  for (const r of open.filter((x) => x.resourceType() !== 'eventsource').slice(0, 4)) {
    const started = Date.now();
    const answer = await fetch(r.url(), { signal: AbortSignal.timeout(15_000) }).then(
      async (res) => `${res.status}, ${(await res.arrayBuffer()).byteLength} bytes`,
      (err: Error) => `no answer (${err.message})`,
    );
    lines.push(
      `asked again from Node: ${new URL(r.url()).pathname}: ${answer} in ${Date.now() - started} ms`,
    );
  }
  // Imported here: the global setup imports this file too, outside any test.
  const { inject } = await import('vitest');
  let log = inject('wannPlatformLog');
  try {
    const text = readFileSync(log, 'utf8').split('\n');
    log = `the platform's last ${Math.min(60, text.length)} lines:\n${text.slice(-60).join('\n')}`;
  } catch (e) {
    log = `no platform log (${(e as Error).message})`;
  }
  return `\n${lines.join('\n')}\n${log}`;
}

/**
 * Screenshots are for people looking at the pages, not assertions, so a test run writes them only
 * when asked: `WANN_SCREENSHOTS=1` (into tests/browser/screenshots/), or `UPDATE_DOCS_SCREENSHOTS=1`
 * (the README's images, which some tests copy from there). Measured: a suite's ~50 of them cost
 * Chromium ~12 core-seconds.
 */
export const SCREENSHOTS_WANTED =
  process.env.WANN_SCREENSHOTS === '1' || process.env.UPDATE_DOCS_SCREENSHOTS === '1';

/** The whole page, as tests/browser/screenshots/<name>.png (when wanted). */
export async function shot(page: Page, name: string): Promise<void> {
  if (SCREENSHOTS_WANTED) await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true });
}

/** One element (a locator) or the viewport (a page), as tests/browser/screenshots/<name>.png. */
export async function shotOf(
  target: { screenshot(options: { path: string }): Promise<unknown> },
  name: string,
): Promise<void> {
  if (SCREENSHOTS_WANTED) await target.screenshot({ path: join(SCREENSHOTS, `${name}.png`) });
}

/** Draws a 7-like stroke on the digit canvas with the mouse. */
export async function drawSeven(page: Page): Promise<void> {
  const canvas = page.locator('canvas.draw');
  await canvas.scrollIntoViewIfNeeded();
  const box = (await canvas.boundingBox())!;
  const at = (x: number, y: number): [number, number] => [box.x + box.width * x, box.y + box.height * y];
  await page.mouse.move(...at(0.28, 0.25));
  await page.mouse.down();
  await page.mouse.move(...at(0.72, 0.25), { steps: 10 });
  await page.mouse.move(...at(0.45, 0.8), { steps: 12 });
  await page.mouse.up();
}

/** Percentages shown in the probability list, as fractions. */
export async function shownProbabilities(page: Page): Promise<number[]> {
  const texts = await page.locator('#digit-probs li .p').allTextContents();
  return texts.map((t) => Number.parseFloat(t) / 100);
}

/**
 * One JSON request to the platform with the API token (as the owner's scripts would), answered
 * with its status and parsed body. `base` and `token` are the global setup's `wannUrl` and
 * `wannToken`.
 */
export async function ownerApi<T>(
  base: string,
  token: string,
  path: string,
  init: { method?: string; body?: unknown } = {},
): Promise<{ status: number; body: T }> {
  const res = await fetch(`${base}${path}`, {
    method: init.method ?? 'GET',
    headers: {
      Authorization: `Bearer ${token}`,
      Accept: 'application/json',
      ...(init.body === undefined ? {} : { 'Content-Type': 'application/json' }),
    },
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
  });
  return { status: res.status, body: (await res.json()) as T };
}

/**
 * A fresh browser signed in as the owner: the session cookie that signing in on the dashboard
 * gets. `base` and `token` are the global setup's `wannUrl` and `wannToken`.
 */
export async function signedInBrowser(
  base: string,
  token: string,
  viewport?: { width: number; height: number },
): Promise<Browser> {
  const b = await launch(viewport);
  const session = await b.context.request.post(`${base}/api/session`, {
    headers: { Authorization: `Bearer ${token}` },
    timeout: 90_000, // the first request of a fresh server on a busy machine
  });
  // A thrown Error, not vitest's expect: the global setup imports this file too.
  if (!session.ok()) throw new Error(`POST /api/session: ${session.status()}`);
  // Busy machine: pages and requests may take longer than Playwright's 30 s defaults.
  b.page.setDefaultNavigationTimeout(90_000);
  b.page.setDefaultTimeout(60_000);
  return b;
}

/**
 * Signs `b` in the way a person does: the token typed into the dashboard's form, until the page
 * says so. A text selector, not a page-side function: the pages' CSP refuses string evaluation.
 */
export async function signInOnDashboard(b: Browser, base: string, token: string): Promise<void> {
  await b.page.goto(`${base}/`);
  await b.page.fill('#token', token);
  await b.page.click('#token-form button[type=submit]');
  try {
    await b.page.waitForSelector('#token-state:has-text("Signed in until")', { timeout: 30_000 });
  } catch (e) {
    (e as Error).message += `\n${b.errors.join('\n')}`;
    throw e;
  }
}
