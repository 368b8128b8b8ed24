/**
 * Request parsing and validation for predictions: the Open Inference Protocol (KServe v2) `infer`
 * body and the convenience `predict` body (JSON pixels or a PNG). Every problem is an
 * `InputError` (a 4xx with a message naming what is wrong), never an exception from deep inside.
 */
import { z } from 'zod';
import { PngImageError, pngToImage28 } from '../../src/data/png';
import { PREPROCESSED_FEATURES, preprocessImage } from '../../src/data/preprocess';

export const RAW_FEATURES = 784;
/** Images per request. */
export const MAX_IMAGES = 1000;
/** JSON bodies: 1,000 × 784 values with ~20 characters each, and some room. */
export const MAX_JSON_BYTES = 20 * 1024 * 1024;
export const MAX_PNG_BYTES = 5 * 1024 * 1024;
/** `shared_weight` as a number must lie in this range. */
export const WEIGHT_LIMIT = 10;

export class InputError extends Error {
  constructor(
    readonly status: 400 | 404 | 409 | 413 | 415 | 503,
    message: string,
  ) {
    super(message);
  }
}

/** A number, or 'ensemble' for the majority vote over the published weights. */
export type WeightChoice = number | 'ensemble';

export interface ImageBatch {
  count: number;
  /** count × 256, image-major, preprocessed. */
  images: Float32Array;
  /** Values per image the client sent: 784 (raw, preprocessed here) or 256. */
  sentFeatures: number;
}

/**
 * Read a body of at most `max` bytes: the declared Content-Length is checked first, then the stream
 * is counted as it arrives (a chunked body cannot slip past the limit).
 */
export async function readBody(
  body: ReadableStream<Uint8Array> | null,
  contentLength: string | undefined,
  max: number,
): Promise<Uint8Array> {
  if (Number(contentLength ?? Number.NaN) > max) {
    throw new InputError(413, `request bodies are limited to ${max} bytes`);
  }
  if (!body) return new Uint8Array(0);
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > max) {
      await reader.cancel();
      throw new InputError(413, `request bodies are limited to ${max} bytes`);
    }
    chunks.push(value);
  }
  const out = new Uint8Array(size);
  let o = 0;
  for (const c of chunks) {
    out.set(c, o);
    o += c.byteLength;
  }
  return out;
}

export function parseJson(bytes: Uint8Array): unknown {
  if (bytes.length === 0) throw new InputError(400, 'the request body is empty; expected JSON');
  try {
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch (e) {
    throw new InputError(400, `the body is not valid JSON: ${(e as Error).message}`);
  }
}

const weightSchema = z.union([z.literal('ensemble'), z.number()]);

export function parseWeight(value: unknown, field = 'shared_weight'): WeightChoice {
  if (value === undefined || value === null) return 'ensemble';
  const parsed = weightSchema.safeParse(value);
  if (!parsed.success) {
    throw new InputError(400, `${field} must be a number or "ensemble", got ${JSON.stringify(value)}`);
  }
  const w = parsed.data;
  if (w !== 'ensemble' && !(Number.isFinite(w) && Math.abs(w) <= WEIGHT_LIMIT)) {
    throw new InputError(
      400,
      `${field} must be a finite number in [-${WEIGHT_LIMIT}, ${WEIGHT_LIMIT}], got ${w}`,
    );
  }
  return w;
}

/**
 * Check `count` images of `features` values (784 raw or 256 preprocessed) in [0, 1] and turn them
 * into preprocessed 256-value images. `values` is flat, image-major.
 */
export function toImageBatch(values: ArrayLike<number>, count: number, features: number): ImageBatch {
  if (!(count >= 1 && count <= MAX_IMAGES)) {
    throw new InputError(400, `a request holds 1 to ${MAX_IMAGES} images, got ${count}`);
  }
  if (features !== RAW_FEATURES && features !== PREPROCESSED_FEATURES) {
    throw new InputError(
      400,
      `each image must have ${RAW_FEATURES} values (raw 28×28) or ${PREPROCESSED_FEATURES} (preprocessed 16×16), got ${features}`,
    );
  }
  for (let i = 0; i < count * features; i++) {
    const v = values[i];
    if (typeof v !== 'number' || !Number.isFinite(v)) {
      throw new InputError(
        400,
        `value ${i} (image ${Math.floor(i / features)}) is not a finite number: ${String(v)}`,
      );
    }
    if (v < 0 || v > 1) {
      throw new InputError(
        400,
        `value ${i} (image ${Math.floor(i / features)}) is ${v}; pixels must be in [0, 1]`,
      );
    }
  }
  if (features === PREPROCESSED_FEATURES) {
    return { count, images: Float32Array.from(values), sentFeatures: features };
  }
  // Raw 28×28: exactly the training pipeline's preprocessing (doubles in, float32 out).
  const images = new Float32Array(count * PREPROCESSED_FEATURES);
  const raw = new Float64Array(RAW_FEATURES);
  const one = new Float32Array(PREPROCESSED_FEATURES);
  for (let i = 0; i < count; i++) {
    for (let p = 0; p < RAW_FEATURES; p++) raw[p] = values[i * RAW_FEATURES + p];
    preprocessImage(raw, one);
    images.set(one, i * PREPROCESSED_FEATURES);
  }
  return { count, images, sentFeatures: features };
}

/** Flatten OIP `data` (flat or nested arrays), stopping as soon as it holds more than `limit` values. */
function flatten(data: unknown, limit: number): unknown[] {
  const out: unknown[] = [];
  const stack: { a: unknown[]; i: number }[] = [];
  if (!Array.isArray(data)) throw new InputError(400, 'inputs[0].data must be an array of numbers');
  stack.push({ a: data, i: 0 });
  while (stack.length) {
    const top = stack[stack.length - 1];
    if (top.i >= top.a.length) {
      stack.pop();
      continue;
    }
    const v = top.a[top.i++];
    if (Array.isArray(v)) {
      if (stack.length > 8) throw new InputError(400, 'inputs[0].data is nested too deeply');
      stack.push({ a: v, i: 0 });
    } else {
      out.push(v);
      if (out.length > limit) break;
    }
  }
  return out;
}

const oipRequestSchema = z.looseObject({
  id: z.string().max(256).optional(),
  parameters: z.record(z.string(), z.unknown()).optional(),
  inputs: z
    .array(
      z.looseObject({
        name: z.string().max(256),
        shape: z.array(z.number().int().min(0)).max(8),
        datatype: z.string().max(16),
        data: z.unknown(),
        parameters: z.record(z.string(), z.unknown()).optional(),
      }),
    )
    .min(1, 'inputs: exactly one input tensor is expected')
    .max(1, 'inputs: exactly one input tensor is expected'),
  outputs: z.array(z.looseObject({ name: z.string().max(256) })).optional(),
});

export const OUTPUT_NAMES = ['probabilities', 'label'] as const;

export interface InferRequest {
  id?: string;
  weight: WeightChoice;
  batch: ImageBatch;
  inputName: string;
  outputs: readonly (typeof OUTPUT_NAMES)[number][];
}

export function parseInferRequest(body: unknown): InferRequest {
  const parsed = oipRequestSchema.safeParse(body);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const path = issue.path.length ? issue.path.join('.') : '(body)';
    throw new InputError(400, `${path}: ${issue.message}`);
  }
  const req = parsed.data;
  const input = req.inputs[0];
  if (input.datatype !== 'FP32') {
    throw new InputError(400, `inputs[0].datatype must be "FP32", got ${JSON.stringify(input.datatype)}`);
  }
  if (input.shape.length !== 2) {
    throw new InputError(
      400,
      `inputs[0].shape must be [N, 784] or [N, 256], got ${JSON.stringify(input.shape)}`,
    );
  }
  const [count, features] = input.shape;
  if (features !== RAW_FEATURES && features !== PREPROCESSED_FEATURES) {
    throw new InputError(
      400,
      `inputs[0].shape must be [N, 784] or [N, 256], got ${JSON.stringify(input.shape)}`,
    );
  }
  if (count < 1 || count > MAX_IMAGES) {
    throw new InputError(400, `inputs[0].shape: N must be 1 to ${MAX_IMAGES}, got ${count}`);
  }
  const values = flatten(input.data, count * features);
  if (values.length !== count * features) {
    throw new InputError(
      400,
      `inputs[0].data holds ${values.length > count * features ? 'more than ' : ''}${values.length} values; shape ${JSON.stringify(input.shape)} needs ${count * features}`,
    );
  }
  const weight = parseWeight(
    req.parameters?.shared_weight ?? input.parameters?.shared_weight,
    'parameters.shared_weight',
  );
  const outputs = (req.outputs ?? []).map((o) => {
    if (!(OUTPUT_NAMES as readonly string[]).includes(o.name)) {
      throw new InputError(
        400,
        `outputs: unknown output ${JSON.stringify(o.name)} (this model has ${OUTPUT_NAMES.join(', ')})`,
      );
    }
    return o.name as (typeof OUTPUT_NAMES)[number];
  });
  return {
    id: req.id,
    weight,
    batch: toImageBatch(values as number[], count, features),
    inputName: input.name,
    outputs: outputs.length ? outputs : OUTPUT_NAMES,
  };
}

const predictSchema = z.strictObject({
  pixels: z.array(z.array(z.unknown())).min(1, 'pixels: at least one image is needed'),
  shared_weight: z.unknown().optional(),
  top_k: z.number().int().min(1).max(10).optional(),
});

export interface PredictRequest {
  weight: WeightChoice;
  topK: number;
  batch: ImageBatch;
}

/** `{pixels: [[784 or 256 values], …], shared_weight?, top_k?}`. */
export function parsePredictJson(body: unknown): PredictRequest {
  const parsed = predictSchema.safeParse(body);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const path = issue.path.length ? issue.path.join('.') : '(body)';
    throw new InputError(400, `${path}: ${issue.message}`);
  }
  const { pixels } = parsed.data;
  if (pixels.length > MAX_IMAGES) {
    throw new InputError(400, `a request holds 1 to ${MAX_IMAGES} images, got ${pixels.length}`);
  }
  const features = pixels[0].length;
  const flat: unknown[] = [];
  pixels.forEach((row, i) => {
    if (row.length !== features) {
      throw new InputError(
        400,
        `pixels[${i}] has ${row.length} values, pixels[0] has ${features}: all images must match`,
      );
    }
    for (const v of row) flat.push(v);
  });
  return {
    weight: parseWeight(parsed.data.shared_weight),
    topK: parsed.data.top_k ?? 3,
    batch: toImageBatch(flat as number[], pixels.length, features),
  };
}

/** A PNG body (any size; converted to 28×28 grey, then preprocessed). Query: shared_weight, top_k. */
export function parsePredictPng(bytes: Uint8Array, query: URLSearchParams): PredictRequest {
  let image: Float64Array;
  try {
    image = pngToImage28(bytes);
  } catch (e) {
    if (e instanceof PngImageError) throw new InputError(400, e.message);
    throw e;
  }
  const w = query.get('shared_weight');
  const k = query.get('top_k');
  const topK = k === null ? 3 : Number(k);
  if (!(Number.isInteger(topK) && topK >= 1 && topK <= 10)) {
    throw new InputError(400, `top_k must be an integer from 1 to 10, got ${k}`);
  }
  const weight = parseWeight(w === null || w === 'ensemble' ? w : Number(w));
  return { weight, topK, batch: toImageBatch(image, 1, RAW_FEATURES) };
}
