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

/**
 * Bodies up to this size are read by the API Worker and handed to the inference Worker in one RPC
 * call (`handle`); larger ones, and bodies of unknown length, are streamed over `fetch`, so the
 * API Worker never holds more than this of a request (about 100 images as JSON).
 */
export const MAX_RPC_BODY_BYTES = 1024 * 1024;
