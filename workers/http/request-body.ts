/**
 * Request bodies with a size limit, answered so that the client hears the answer.
 *
 * A Worker that answers before it has read the request body (a 413 on the declared length, a 401
 * before a prediction, …) leaves the client still sending; the connection is then reset under the
 * client's feet, and it gets ECONNRESET instead of the answer (and under `wrangler dev` the proxy
 * may answer 503 and stall the next request). So every early answer first reads what is left of
 * the body and throws it away, up to DRAIN_LIMIT_BYTES: reading costs no memory, and Cloudflare
 * refuses larger bodies at its edge anyway.
 */

/** Cloudflare's own request body limit (Free and Pro plans); a body is never drained past it. */
export const DRAIN_LIMIT_BYTES = 100 * 1024 * 1024;

export class BodyTooLargeError extends Error {
  constructor(readonly limit: number) {
    super(`request bodies are limited to ${limit} bytes`);
  }
}

/** Read and discard the rest of a stream, at most `limit` bytes more; then cancel it. */
async function discard(reader: ReadableStreamDefaultReader<Uint8Array>, limit = DRAIN_LIMIT_BYTES) {
  let read = 0;
  try {
    while (read <= limit) {
      const { done, value } = await reader.read();
      if (done) return;
      read += value.byteLength;
    }
    await reader.cancel();
  } catch {
    // The client went away: nothing left to drain.
  }
}

/** Drain a request body nobody read (no-op when it was read, forwarded or never sent). */
export async function drainBody(request: Request): Promise<void> {
  const body = request.body;
  if (!body || request.bodyUsed || body.locked) return;
  await discard(body.getReader());
}

/**
 * Read a body of at most `max` bytes: the declared Content-Length is checked first, then the
 * stream is counted as it arrives (a chunked body cannot slip past the limit). The buffer grows
 * with the bytes that arrived (doubling from 64 KiB), so a client that declares 20 MB and sends
 * nothing holds 64 KiB, not 20 MB; while the body keeps to its declared length, the last step lands
 * on it, so an honest body ends in a buffer of its size. Over the limit: the rest is drained, then
 * BodyTooLargeError.
 */
export async function readBody(
  body: ReadableStream<Uint8Array> | null,
  contentLength: string | undefined,
  max: number,
): Promise<Uint8Array> {
  const declared = contentLength === undefined ? Number.NaN : Number(contentLength);
  if (!body) return new Uint8Array(0);
  const reader = body.getReader();
  if (declared > max) {
    await discard(reader);
    throw new BodyTooLargeError(max);
  }
  const expected = Number.isInteger(declared) && declared >= 0 ? declared : max;
  let out = new Uint8Array(Math.min(expected, 64 * 1024));
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (size + value.byteLength > max) {
      await discard(reader);
      throw new BodyTooLargeError(max);
    }
    if (size + value.byteLength > out.length) {
      const needed = size + value.byteLength;
      let length = Math.max(out.length * 2, needed);
      // Within a doubling of half the declared length: straight to it (one copy fewer, and never
      // more than 4 bytes held per byte received).
      if (needed <= expected && length * 2 >= expected) length = expected;
      const grown = new Uint8Array(Math.min(max, length));
      grown.set(out.subarray(0, size));
      out = grown;
    }
    out.set(value, size);
    size += value.byteLength;
  }
  return size === out.length ? out : out.subarray(0, size);
}
