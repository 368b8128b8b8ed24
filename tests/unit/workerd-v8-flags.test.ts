/**
 * scripts/workerd-v8-flags.cjs: the V8 flags it writes into Miniflare's binary config reach the
 * workerd runtime (seen with `--expose-gc`, which defines `gc` in a Worker), the default set is
 * `--single-threaded-gc`, and a config that already names V8 flags is left as it is.
 */
import { createRequire } from 'node:module';
import { Miniflare, serializeConfig } from 'miniflare';
import { afterEach, describe, expect, it } from 'vitest';

const { DEFAULT_FLAGS, installV8Flags, withV8Flags } = createRequire(import.meta.url)(
  '../../scripts/workerd-v8-flags.cjs',
) as {
  DEFAULT_FLAGS: string[];
  installV8Flags(flags?: string[]): void;
  withV8Flags(config: Buffer, flags: string[]): Buffer;
};

/** `typeof gc` inside a Worker in a fresh workerd process. */
async function typeofGc(): Promise<string> {
  const mf = new Miniflare({
    modules: true,
    script: 'export default { fetch() { return new Response(typeof gc) } }',
  });
  try {
    return await (await mf.dispatchFetch('http://worker/')).text();
  } finally {
    await mf.dispose();
  }
}

afterEach(() => installV8Flags());

describe('workerd V8 flags', () => {
  it('are the single-threaded GC by default', () => {
    expect(DEFAULT_FLAGS).toEqual(['--single-threaded-gc']);
  });

  it('reach the runtime through the binary config', async () => {
    installV8Flags([...DEFAULT_FLAGS, '--expose-gc']);
    expect(await typeofGc()).toBe('function');
    installV8Flags();
    expect(await typeofGc()).toBe('undefined');
  });

  it('leave a config that already sets V8 flags as it is', () => {
    const config = serializeConfig({ v8Flags: ['--expose-gc'] } as Parameters<typeof serializeConfig>[0]);
    expect(withV8Flags(config, ['--single-threaded-gc'])).toBe(config);
    const bare = serializeConfig({ services: [] } as Parameters<typeof serializeConfig>[0]);
    expect(withV8Flags(bare, ['--single-threaded-gc']).length).toBeGreaterThan(bare.length);
  });
});
