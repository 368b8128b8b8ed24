/**
 * Storing an uploaded CSV file in R2 as it arrives: the request body streams through a check
 * (byte count, SHA-256 and the CSV table reader) into R2, so nothing holds the whole file (a
 * deployed Worker has 128 MB) and a bad table is refused before anything is built. R2's `put`
 * needs a stream of known length: the request's Content-Length, through a FixedLengthStream.
 */
import { CsvFormatError, CsvTableReader } from '../../src/data/csv';

/** The largest upload, in bytes (the README's limits table names it). */
export const MAX_UPLOAD_BYTES = 256 * 1024 * 1024;

export interface StoredUpload {
  /** `sha256:` and the hex digest of the bytes as sent. */
  readonly sourceHash: string;
  readonly rows: number;
  readonly classes: readonly string[];
  readonly features: number;
}

function hex(bytes: ArrayBuffer): string {
  return Array.from(new Uint8Array(bytes), (b) => b.toString(16).padStart(2, '0')).join('');
}

/**
 * Streams `body` (exactly `length` bytes) to `key`, validating it as a labelled CSV table on the
 * way. Throws CsvFormatError for a bad table (the object may be partly stored: the caller deletes
 * `key` on any error).
 */
export async function storeCsvUpload(
  bucket: R2Bucket,
  key: string,
  body: ReadableStream<Uint8Array>,
  length: number,
  label: string | undefined,
): Promise<StoredUpload> {
  const digest = new crypto.DigestStream('SHA-256');
  const digestWriter = digest.getWriter();
  const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });
  const table = new CsvTableReader({ label });
  const text = (chunk?: Uint8Array) => {
    try {
      return chunk === undefined ? decoder.decode() : decoder.decode(chunk, { stream: true });
    } catch {
      throw new CsvFormatError('the file is not UTF-8 text');
    }
  };
  const fixed = new FixedLengthStream(length);
  const writer = fixed.writable.getWriter();
  const putting = bucket.put(key, fixed.readable);
  const reader = body.getReader();
  let failure: { error: unknown } | null = null;
  const fail = (error: unknown) => {
    failure ??= { error };
    void writer.abort(error).catch(() => {});
  };
  // Read to the end even after a failure: the rest of a refused body is drained, not cut off, so
  // the client reads the 400 (as workers/api/body-limit.ts does for every early answer).
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (failure !== null) continue;
    try {
      await digestWriter.write(value);
      table.push(text(value));
      await writer.write(value);
    } catch (e) {
      fail(e);
    }
  }
  if (failure === null) {
    try {
      table.push(text());
      table.end();
      await digestWriter.close();
      await writer.close();
    } catch (e) {
      fail(e);
    }
  }
  const put = await Promise.allSettled([putting]);
  // The check's error is the one to report: the put fails only because the stream did.
  if (failure !== null) throw (failure as { error: unknown }).error;
  if (put[0].status === 'rejected') throw put[0].reason;
  const summary = table.summary();
  return {
    sourceHash: `sha256:${hex(await digest.digest)}`,
    rows: summary.rows,
    classes: summary.classes,
    features: summary.features.length,
  };
}
