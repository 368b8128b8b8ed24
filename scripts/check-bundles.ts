/**
 * `npm run check:bundles`: what `wrangler deploy` would upload, checked offline against Cloudflare's
 * Worker size limits. For every Worker config (wrangler.toml, workers/*\/wrangler.toml) it runs
 * `wrangler deploy --dry-run --env production --outdir <tmp>` (in parallel), records the upload
 * size (raw and gzip, as wrangler reports it, plus per module) in bench/results/bundles.json, and
 * exits 1 if any Worker is over the failure threshold.
 *
 * Thresholds (compressed size of the upload): more than 10 MiB fails (the Workers Paid plan's
 * documented limit), more than 3 MiB warns (the Free plan's). Cloudflare's limits page has since
 * listed larger limits; these are the conservative, long-documented ones. Not checkable offline:
 * the startup-time limit (global scope must evaluate within ~1 s on deploy), which is measured
 * by Cloudflare at upload.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)));
const WRANGLER = join(ROOT, 'node_modules', '.bin', 'wrangler');
const KiB = 1024;
const MiB = 1024 * KiB;
export const FAIL_GZIP_BYTES = 10 * MiB;
export const WARN_GZIP_BYTES = 3 * MiB;

interface ModuleSize {
  file: string;
  bytes: number;
  gzipBytes: number;
}

interface BundleReport {
  config: string;
  name: string | null;
  env: string;
  /** As wrangler reports "Total Upload: … KiB / gzip: … KiB" (bytes). */
  uploadBytes: number;
  uploadGzipBytes: number;
  modules: ModuleSize[];
  status: 'ok' | 'warn' | 'fail';
  message: string;
  seconds: number;
}

function configs(): string[] {
  const found = ['wrangler.toml'];
  for (const dir of readdirSync(join(ROOT, 'workers')).sort()) {
    try {
      if (statSync(join(ROOT, 'workers', dir, 'wrangler.toml')).isFile())
        found.push(`workers/${dir}/wrangler.toml`);
    } catch {
      // no config in this folder
    }
  }
  return found;
}

function listFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? listFiles(join(dir, e.name)) : [join(dir, e.name)],
  );
}

function run(args: string[]): Promise<{ code: number; out: string }> {
  return new Promise((done) => {
    execFile(
      WRANGLER,
      args,
      {
        cwd: ROOT,
        maxBuffer: 64 * MiB,
        env: {
          ...process.env,
          CLOUDFLARE_CF_FETCH_ENABLED: 'false',
          WRANGLER_SEND_METRICS: 'false',
          NO_COLOR: '1',
        },
      },
      (error, stdout, stderr) =>
        done({ code: error ? ((error.code as number) ?? 1) : 0, out: `${stdout}${stderr}` }),
    );
  });
}

const fmt = (bytes: number) =>
  bytes >= MiB ? `${(bytes / MiB).toFixed(2)} MiB` : `${(bytes / KiB).toFixed(1)} KiB`;

async function check(config: string): Promise<BundleReport> {
  const t0 = performance.now();
  const outdir = mkdtempSync(join(tmpdir(), 'wann-bundle-'));
  const env = 'production';
  try {
    const { code, out } = await run(['deploy', '--dry-run', '-c', config, '--env', env, '--outdir', outdir]);
    const name = /^name\s*=\s*"([^"]+)"/m.exec(readFileSync(join(ROOT, config), 'utf8'))?.[1] ?? null;
    const base = { config, name, env, seconds: +((performance.now() - t0) / 1000).toFixed(1) };
    if (code !== 0) {
      const tail = out.trim().split('\n').slice(-8).join('\n');
      return {
        ...base,
        uploadBytes: 0,
        uploadGzipBytes: 0,
        modules: [],
        status: 'fail',
        message: `dry run failed:\n${tail}`,
      };
    }
    const modules = listFiles(outdir)
      .filter((f) => !f.endsWith('.map') && !f.endsWith('README.md'))
      .map((f) => {
        const bytes = new Uint8Array(readFileSync(f));
        return {
          file: relative(outdir, f),
          bytes: bytes.length,
          gzipBytes: gzipSync(bytes, { level: 9 }).length,
        };
      })
      .sort((a, b) => b.bytes - a.bytes);
    const m = /Total Upload:\s*([\d.]+)\s*KiB\s*\/\s*gzip:\s*([\d.]+)\s*KiB/.exec(out);
    const uploadBytes = m ? Math.round(Number(m[1]) * KiB) : modules.reduce((a, x) => a + x.bytes, 0);
    const uploadGzipBytes = m ? Math.round(Number(m[2]) * KiB) : modules.reduce((a, x) => a + x.gzipBytes, 0);
    const status =
      uploadGzipBytes > FAIL_GZIP_BYTES ? 'fail' : uploadGzipBytes > WARN_GZIP_BYTES ? 'warn' : 'ok';
    const message =
      status === 'fail'
        ? `${fmt(uploadGzipBytes)} gzip is over the ${fmt(FAIL_GZIP_BYTES)} limit (Workers Paid)`
        : status === 'warn'
          ? `${fmt(uploadGzipBytes)} gzip is over ${fmt(WARN_GZIP_BYTES)} (the Workers Free limit); within Paid's ${fmt(FAIL_GZIP_BYTES)}`
          : `within ${fmt(WARN_GZIP_BYTES)} gzip (Workers Free)`;
    return { ...base, uploadBytes, uploadGzipBytes, modules, status, message };
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }
}

async function main(): Promise<number> {
  const t0 = performance.now();
  const reports = await Promise.all(configs().map(check));
  for (const r of reports) {
    const mark = r.status === 'ok' ? 'ok  ' : r.status === 'warn' ? 'WARN' : 'FAIL';
    console.log(
      `${mark} ${r.config.padEnd(32)} ${(r.name ?? '?').padEnd(16)} ${fmt(r.uploadBytes).padStart(11)} raw, ${fmt(r.uploadGzipBytes).padStart(10)} gzip  ${r.message}`,
    );
  }
  console.log(
    'note: the startup-time limit (the Worker’s global scope must evaluate quickly at deploy) cannot be checked offline; Cloudflare measures it at upload.',
  );
  const seconds = +((performance.now() - t0) / 1000).toFixed(1);
  writeFileSync(
    join(ROOT, 'bench', 'results', 'bundles.json'),
    `${JSON.stringify(
      {
        env: 'production',
        thresholds: { failGzipBytes: FAIL_GZIP_BYTES, warnGzipBytes: WARN_GZIP_BYTES },
        startupTimeChecked: false,
        // Sizes only (no timestamps or timings), so the file changes when a bundle does.
        workers: reports.map(({ seconds: _, ...r }) => r),
      },
      null,
      2,
    )}\n`,
  );
  console.log(`bench/results/bundles.json written (${seconds} s)`);
  return reports.some((r) => r.status === 'fail') ? 1 : 0;
}

process.exitCode = await main();
