/**
 * The limits of an uploaded dataset, one place for every parser (and the README's table). A file
 * beyond them is refused with a message naming the limit (the API answers 413/400).
 */
export const UPLOAD_LIMITS = {
  /** Rows per file: CSV data rows (header excluded) or idx images / labels. */
  maxRows: 1_000_000,
  /** Network inputs: CSV feature columns, or the preprocessed image's W × H. */
  maxFeatures: 4096,
  /** Distinct labels; also the most classes a shard's uint8 label can hold. */
  maxClasses: 256,
  /** Pixels of one raw (uploaded) image, 512 × 512; it is resized before it becomes inputs. */
  maxImagePixels: 512 * 512,
} as const;

/** 1234567 → "1,234,567" without locale data (ICU differs between workerd and Node builds). */
export function formatCount(n: number): string {
  return String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}
