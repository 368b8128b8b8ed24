/**
 * How the inference Worker knows that an HTTP request comes from the API Worker. Its RPC methods
 * (`handle`, `modelPublished`) can only be called through a service binding, but its `fetch`
 * would answer anyone who reaches the Worker's URL: a deploy without `--env production` keeps
 * `workers.dev` on, and the inference Worker authorises no one itself (the API Worker does, before
 * forwarding). So the API Worker adds `INFERENCE_KEY_HEADER` with the secret `INFERENCE_KEY` that
 * both Workers hold, and the inference Worker answers any `fetch` without it, with a wrong one, or
 * while it has no usable key of its own, with the same 404 as an unknown path: it fails closed.
 */

/** The header the API Worker's service-binding `fetch` carries. */
export const INFERENCE_KEY_HEADER = 'X-Wann-Inference-Key';

/** Shorter keys are refused as not configured (`npm start` creates 256 random bits). */
export const MIN_INFERENCE_KEY_LENGTH = 32;

/** Whether `configured` can be used at all. */
export function usableInferenceKey(configured: string | undefined): configured is string {
  return typeof configured === 'string' && configured.length >= MIN_INFERENCE_KEY_LENGTH;
}

const encoder = new TextEncoder();
const digest = (text: string) => crypto.subtle.digest('SHA-256', encoder.encode(text));

/** Whether `request` carries the configured key (constant-time compare of their digests). */
export async function carriesInferenceKey(
  request: Request,
  configured: string | undefined,
): Promise<boolean> {
  if (!usableInferenceKey(configured)) return false;
  // (A copy: this project's merged Node and Workers typings lose `get` on `Request.headers`.)
  const presented = new Headers(request.headers).get(INFERENCE_KEY_HEADER);
  if (presented === null) return false;
  const [a, b] = await Promise.all([digest(presented), digest(configured)]);
  return crypto.subtle.timingSafeEqual(a, b);
}
