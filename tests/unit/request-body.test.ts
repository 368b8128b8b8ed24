import { describe, expect, it } from 'vitest';
import { BodyTooLargeError, readBody } from '../../workers/http/request-body';

const KiB = 1024;
const MiB = 1024 * KiB;

/** A body that sends `chunks` (each `size` bytes of its index, mod 256), then ends or stalls. */
function stream(chunks: number, size: number, end = true) {
  let sent = 0;
  let pulls = 0;
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      pulls++;
      if (sent < chunks) {
        controller.enqueue(new Uint8Array(size).fill(sent % 256));
        sent++;
      } else if (end) {
        controller.close();
      } else {
        return new Promise(() => {}); // a client that stops sending
      }
    },
  });
  return { body, sent: () => sent, pulls: () => pulls };
}

describe('readBody', () => {
  it('grows with the bytes that arrive: a declared 10 MiB that sends 100 bytes holds no 10 MiB', async () => {
    const { body } = stream(1, 100);
    const bytes = await readBody(body, String(10 * MiB), 20 * MiB);
    expect(bytes.length).toBe(100);
    expect(bytes.buffer.byteLength).toBeLessThanOrEqual(64 * KiB);
  });

  it('an honest body ends in a buffer of its declared size, bytes in order', async () => {
    const chunk = 1000;
    const chunks = 3 * 1024;
    const { body } = stream(chunks, chunk);
    const bytes = await readBody(body, String(chunks * chunk), 20 * MiB);
    expect(bytes.length).toBe(chunks * chunk);
    expect(bytes.buffer.byteLength).toBe(chunks * chunk);
    for (const i of [0, 1, 255, 256, chunks - 1]) {
      expect(bytes[i * chunk]).toBe(i % 256);
      expect(bytes[i * chunk + chunk - 1]).toBe(i % 256);
    }
  });

  it.each([
    ['no Content-Length (chunked)', undefined],
    ['a declared length it exceeds', '10'],
  ])('%s: read up to the limit, refused past it', async (_name, length) => {
    const ok = await readBody(stream(10, 10 * KiB).body, length, 100 * KiB);
    expect(ok.length).toBe(100 * KiB);
    await expect(readBody(stream(11, 10 * KiB).body, length, 100 * KiB)).rejects.toBeInstanceOf(
      BodyTooLargeError,
    );
  });

  it('a declared length over the limit is refused, the body drained first', async () => {
    const s = stream(5, KiB);
    await expect(readBody(s.body, String(MiB + 1), MiB)).rejects.toThrow(/limited to 1048576 bytes/);
    expect(s.sent()).toBe(5);
  });

  it('a bodiless request is empty', async () => {
    expect((await readBody(null, undefined, MiB)).length).toBe(0);
  });
});
