/**
 * V8 flags for every workerd process Miniflare starts from this Node process: `npm start`'s
 * `wrangler dev` (loaded there with NODE_OPTIONS=--require), its evaluator peers, and the Workers
 * tests' runtimes (vitest.config.ts). Plain CommonJS so that `wrangler`'s own Node can preload it.
 *
 * Why `--single-threaded-gc`: on 2 cores V8 runs one background thread, and workerd wedged for
 * good twice in one afternoon here (the API Worker's process once, a Workers test runtime once):
 * 100 % of a core, nothing answered. Both stacks showed the same cycle. That background thread,
 * compiling with Maglev, waited for the main thread to collect garbage
 * (`CollectionBarrier::AwaitCollectionBackground`); the main thread spun in `PumpMessageLoop`
 * re-running cppgc's incremental sweep task, which waits for the concurrent sweep, and only that
 * background thread could run it. With `--single-threaded-gc` cppgc sweeps on the main thread
 * alone (V8's cpp-heap.cc: `SweepingType::kIncremental` instead of `kIncrementalAndConcurrent`),
 * so the main thread never waits for the background thread and the cycle cannot form. Compilation
 * stays concurrent. Miniflare has no option for V8 flags, but workerd's config does (`v8Flags`,
 * pointer 2 of the root `Config` struct): `withV8Flags` writes them into the binary config that
 * Miniflare hands the runtime.
 */
'use strict';

const { join } = require('node:path');

/** `WANN_WORKERD_V8_FLAGS` replaces the default (space-separated; empty: none), e.g. to compare. */
const DEFAULT_FLAGS =
  process.env.WANN_WORKERD_V8_FLAGS === undefined
    ? ['--single-threaded-gc']
    : process.env.WANN_WORKERD_V8_FLAGS.split(/\s+/).filter(Boolean);
let current = DEFAULT_FLAGS;

/** Words (8 bytes) a Cap'n Proto text takes: its UTF-8 `bytes` and a NUL, padded. */
function textWords(bytes) {
  return Math.ceil((bytes.length + 1) / 8);
}

/**
 * `config` (a single-segment Cap'n Proto message whose root is workerd's `Config`) with
 * `v8Flags` set to `flags`; unchanged where the message has several segments or already sets
 * `v8Flags` (neither happens with Miniflare's configs, which are written into one growing segment).
 */
function withV8Flags(config, flags) {
  const bytes = new Uint8Array(config.buffer, config.byteOffset, config.byteLength);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (flags.length === 0 || view.getUint32(0, true) !== 0) return config;
  const segmentWords = view.getUint32(4, true);
  const word = (i) => 8 + i * 8; // byte offset of segment word i (after the 8-byte header)
  const root = view.getBigUint64(word(0), true);
  if ((root & 3n) !== 0n) return config;
  const offset = Number(BigInt.asIntN(30, (root >> 2n) & 0x3fffffffn));
  const dataWords = Number((root >> 32n) & 0xffffn);
  const pointerCount = Number((root >> 48n) & 0xffffn);
  if (pointerCount <= 2) return config;
  const v8FlagsPointer = 1 + offset + dataWords + 2;
  if (view.getBigUint64(word(v8FlagsPointer), true) !== 0n) return config;

  const utf8 = new TextEncoder();
  const encoded = flags.map((f) => utf8.encode(f));
  const listAt = segmentWords;
  let textAt = listAt + flags.length;
  const added = flags.length + encoded.reduce((n, b) => n + textWords(b), 0);
  const out = new Uint8Array(8 + (segmentWords + added) * 8);
  out.set(bytes.subarray(0, 8 + segmentWords * 8));
  const o = new DataView(out.buffer);
  o.setUint32(4, segmentWords + added, true);
  /** A list pointer at word `at` to `count` elements of size code `size` starting at word `to`. */
  const listPointer = (at, to, size, count) =>
    o.setBigUint64(
      word(at),
      1n | (BigInt(to - (at + 1)) << 2n) | (BigInt(size) << 32n) | (BigInt(count) << 35n),
      true,
    );
  listPointer(v8FlagsPointer, listAt, 6, flags.length); // List(Text): a list of pointers
  encoded.forEach((text, i) => {
    listPointer(listAt + i, textAt, 2, text.length + 1); // Text: bytes and a NUL
    out.set(text, word(textAt));
    textAt += textWords(text);
  });
  return Buffer.from(out.buffer);
}

/**
 * Make every Miniflare of this process start workerd with `flags` (default: DEFAULT_FLAGS);
 * calling it again replaces the flags for runtimes started from then on.
 */
function installV8Flags(flags = DEFAULT_FLAGS) {
  current = flags;
  const { Runtime } = require(require.resolve('miniflare', { paths: [join(__dirname, '..')] }));
  const proto = Runtime.prototype;
  if (proto.updateConfig.wannV8Flags) return;
  const original = proto.updateConfig;
  const patched = function updateConfig(configBuffer, ...rest) {
    return original.call(this, withV8Flags(configBuffer, current), ...rest);
  };
  patched.wannV8Flags = true;
  proto.updateConfig = patched;
}

installV8Flags();

module.exports = { DEFAULT_FLAGS, installV8Flags, withV8Flags };
