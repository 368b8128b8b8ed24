/**
 * Prediction request limits, in a module of their own so the API Worker can refuse an oversized
 * body before forwarding it without bundling the parsers.
 */

/** Images per request. */
export const MAX_IMAGES = 1000;
/**
 * JSON bodies: the largest valid request is 1,000 × 784 values; a double in [0, 1] printed as
 * JavaScript prints it takes up to ~24 characters (17 significant digits), usually 19, so 20 MiB
 * leaves room for 26 bytes per value.
 */
export const MAX_JSON_BYTES = 20 * 1024 * 1024;
