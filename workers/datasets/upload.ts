/**
 * Storing an uploaded file in R2 as it arrives: the request body streams through a check (byte
 * count, SHA-256, and the file's parser: the CSV table reader, or the idx reader behind a gunzip)
 * into R2, so nothing holds the whole file (a deployed Worker has 128 MB) and a bad file is refused
 * before anything is built. R2's `put` needs a stream of known length: the request's
 * Content-Length, through a FixedLengthStream.
 */
import { CsvFormatError, CsvTableReader } from '../../src/data/csv';
import { type IdxFileSummary, summariseIdxFile } from '../../src/data/idx-dataset';

/** The largest uploaded file, in bytes (the README's limits table names it). */
export const MAX_UPLOAD_BYTES = 256 * 1024 * 1024;

export interface StoredUpload {
  /** `sha256:` and the hex digest of the bytes as sent. */
  readonly sourceHash: string;
  readonly rows: number;
  readonly classes: readonly string[];
  readonly features: number;
}

export interface StoredIdxFile {
  readonly sourceHash: string;
  readonly summary: IdxFileSummary;
}

function hex(bytes: ArrayBuffer): string {
  return Array.from(new Uint8Array(bytes), (b) => b.toString(16).padStart(2, '0')).join('');
}

/** What a file is checked by as it passes: `push` each chunk (in order), then `end`. */
interface StreamCheck {
  push(chunk: Uint8Array): void | Promise<void>;
  end(): void | Promise<void>;
}

/**
 * Streams `body` (exactly `length` bytes) to `key` through `check` and a SHA-256. Throws the
 * check's error for a bad file (the object may be partly stored: the caller deletes `key` on any
 * error); returns the digest.
 */
async function storeChecked(
  bucket: R2Bucket,
  key: string,
  body: ReadableStream<Uint8Array>,
  length: number,
  check: StreamCheck,
): Promise<string> {
  const digest = new crypto.DigestStream('SHA-256');
  const digestWriter = digest.getWriter();
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
      await check.push(value);
      await writer.write(value);
    } catch (e) {
      fail(e);
    }
  }
  if (failure === null) {
    try {
      await check.end();
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
  return `sha256:${hex(await digest.digest)}`;
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
  const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });
  const table = new CsvTableReader({ label });
  const text = (chunk?: Uint8Array) => {
    try {
      return chunk === undefined ? decoder.decode() : decoder.decode(chunk, { stream: true });
    } catch {
      throw new CsvFormatError('the file is not UTF-8 text');
    }
  };
  const sourceHash = await storeChecked(bucket, key, body, length, {
    push: (chunk) => {
      table.push(text(chunk));
    },
    end: () => {
      table.push(text());
      table.end();
    },
  });
  const summary = table.summary();
  return {
    sourceHash,
    rows: summary.rows,
    classes: summary.classes,
    features: summary.features.length,
  };
}

/**
 * Streams one idx file (gzipped or plain) to `key`, read by the idx reader on the way (header,
 * exact length, label counts). The reader runs beside the copy, fed through a one-chunk pipe, so
 * a slow gunzip holds back the upload rather than piling chunks up; a bad file throws its
 * IdxFormatError (the caller deletes `key`).
 */
export async function storeIdxUpload(
  bucket: R2Bucket,
  key: string,
  body: ReadableStream<Uint8Array>,
  length: number,
  kind: 'images' | 'labels',
  what: string,
): Promise<StoredIdxFile> {
  const pipe = new TransformStream<Uint8Array, Uint8Array>();
  const pipeWriter = pipe.writable.getWriter();
  const pipeReader = pipe.readable.getReader();
  async function* chunks(): AsyncGenerator<Uint8Array> {
    try {
      for (;;) {
        const { done, value } = await pipeReader.read();
        if (done) return;
        yield value;
      }
    } finally {
      // The reader stopped (a bad header): later writes into the pipe fail instead of waiting.
      await pipeReader.cancel().catch(() => {});
    }
  }
  const reading = summariseIdxFile(chunks(), kind, what);
  // Settles (rejects) as soon as the reader fails, so a write waiting on it is not left hanging.
  const readFailed = reading.then(
    () => new Promise<never>(() => {}),
    (e: unknown) => Promise.reject(e),
  );
  readFailed.catch(() => {});
  const sourceHash = await storeChecked(bucket, key, body, length, {
    push: async (chunk) => {
      await Promise.race([pipeWriter.write(chunk), readFailed]);
    },
    end: async () => {
      await Promise.race([pipeWriter.close(), readFailed]);
      await reading;
    },
  }).catch(async (e: unknown) => {
    // The reader's own error names the problem; a failed pipe write is only its echo.
    await pipeWriter.abort(e).catch(() => {});
    const own = await reading.then(
      () => null,
      (r: unknown) => r,
    );
    throw own ?? e;
  });
  return { sourceHash, summary: await reading };
}
