/**
 * Request parsing and validation for predictions: the Open Inference Protocol (KServe v2) `infer`
 * body and the convenience `predict` body (JSON pixels or a PNG). Every problem is an
 * `InputError` (a 4xx with a message naming what is wrong), never an exception from deep inside.
 *
 * Memory is bounded by the body limits: JSON bodies are read by json-body.ts (the pixels go
 * straight into one Float64Array, refused as soon as they exceed 1,000 images), PNGs are checked by
 * src/data/png.ts before anything is inflated.
 */
import { z } from 'zod';
import { preprocessUnitImage } from '../../src/data/image';
import { MAX_PNG_FILE_BYTES, PngImageError, pngToGrayImage, pngToImage28 } from '../../src/data/png';
import { PREPROCESSED_FEATURES, preprocessImage, resize28to16 } from '../../src/data/preprocess';
import { InputError } from './input-error';
import { parseJsonBody, TensorData, type TensorSpec } from './json-body';
import { MAX_IMAGES, MAX_JSON_BYTES } from './limits';

export { InputError, MAX_IMAGES, MAX_JSON_BYTES };

export const RAW_FEATURES = 784;
/** PNG bodies: the largest image png.ts accepts, stored uncompressed (src/data/png.ts). */
export const MAX_PNG_BYTES = MAX_PNG_FILE_BYTES;
/** `shared_weight` as a number must lie in this range. */
export const WEIGHT_LIMIT = 10;

/** A number, or 'ensemble' for the majority vote over the published weights. */
export type WeightChoice = number | 'ensemble';

export interface ImageBatch {
  count: number;
  /** count × 256, image-major, preprocessed. */
  images: Float32Array;
  /** Values per image the client sent: 784 (raw, preprocessed here) or 256. */
  sentFeatures: number;
  /**
   * The raw 28×28 values as sent (count × 784), kept so a model of a dataset preprocessed without
   * deskew gets its own preprocessing (`withoutDeskew`); absent when the client sent 256 values.
   */
  raw?: Float64Array;
}

/**
 * The batch as a dataset without deskew preprocesses it (resize only, e.g. fashion-mnist): raw
 * images are resized again from what the client sent; preprocessed ones are taken as they are.
 */
export function withoutDeskew(batch: ImageBatch): ImageBatch {
  const raw = batch.raw;
  if (!raw) return batch;
  const images = new Float32Array(batch.count * PREPROCESSED_FEATURES);
  for (let i = 0; i < batch.count; i++) {
    resize28to16(
      raw.subarray(i * RAW_FEATURES, (i + 1) * RAW_FEATURES),
      images.subarray(i * PREPROCESSED_FEATURES, (i + 1) * PREPROCESSED_FEATURES),
    );
  }
  return { ...batch, images };
}

/**
 * An image dataset whose sizes are not MNIST's (raw 28×28 → 16×16), e.g. an idx upload: a raw row
 * is rawWidth × rawHeight values in [0, 1], preprocessed here as its shards were (src/data/image.ts).
 */
export interface ImageGeometry {
  readonly rawWidth: number;
  readonly rawHeight: number;
  readonly width: number;
  readonly height: number;
  readonly deskew: boolean;
}

const describeImages = (g: ImageGeometry) =>
  `[N, ${g.rawWidth * g.rawHeight}] (raw ${g.rawWidth}×${g.rawHeight}) or [N, ${g.width * g.height}] (preprocessed ${g.width}×${g.height})`;

/** `toImageBatch` for an ImageGeometry: raw rows are preprocessed, preprocessed ones taken as they are. */
export function toGeometryBatch(
  values: Float64Array,
  count: number,
  features: number,
  g: ImageGeometry,
): ImageBatch {
  if (!(count >= 1 && count <= MAX_IMAGES)) {
    throw new InputError(400, `a request holds 1 to ${MAX_IMAGES} images, got ${count}`);
  }
  const raw = g.rawWidth * g.rawHeight;
  const preprocessed = g.width * g.height;
  if (features !== raw && features !== preprocessed) {
    throw new InputError(400, `each image must be ${describeImages(g)} values, got ${features}`);
  }
  for (let i = 0; i < count * features; i++) {
    const v = values[i];
    if (!(Number.isFinite(v) && v >= 0 && v <= 1)) {
      throw new InputError(
        400,
        `value ${i} (image ${Math.floor(i / features)}) is ${String(v)}; pixels must be in [0, 1]`,
      );
    }
  }
  if (features === preprocessed) {
    return { count, images: new Float32Array(values.subarray(0, count * features)), sentFeatures: features };
  }
  const images = new Float32Array(count * preprocessed);
  for (let i = 0; i < count; i++) {
    preprocessUnitImage(
      values.slice(i * raw, (i + 1) * raw),
      g.rawWidth,
      g.rawHeight,
      g,
      images.subarray(i * preprocessed, (i + 1) * preprocessed),
    );
  }
  return { count, images, sentFeatures: features };
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
export function toImageBatch(values: Float64Array, count: number, features: number): ImageBatch {
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
    if (!Number.isFinite(v)) {
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
    return { count, images: new Float32Array(values.subarray(0, count * features)), sentFeatures: features };
  }
  // Raw 28×28: exactly the training pipeline's preprocessing (doubles in, float32 out).
  const images = new Float32Array(count * PREPROCESSED_FEATURES);
  const raw = new Float64Array(RAW_FEATURES);
  const one = new Float32Array(PREPROCESSED_FEATURES);
  for (let i = 0; i < count; i++) {
    raw.set(values.subarray(i * RAW_FEATURES, (i + 1) * RAW_FEATURES));
    preprocessImage(raw, one);
    images.set(one, i * PREPROCESSED_FEATURES);
  }
  return { count, images, sentFeatures: features, raw: values.subarray(0, count * RAW_FEATURES) };
}

const INFER_TENSOR: TensorSpec = {
  path: ['inputs', 0, 'data'],
  name: 'inputs[0].data',
  layout: 'nested',
  maxValues: MAX_IMAGES * RAW_FEATURES,
  maxRows: 0,
  maxRowLength: 0,
};

const oipRequestSchema = z.looseObject({
  id: z.string().max(256).optional(),
  parameters: z.record(z.string(), z.unknown()).optional(),
  inputs: z
    .array(
      z.looseObject({
        name: z.string().max(256),
        shape: z.array(z.number().int().min(0)).max(8),
        datatype: z.string().max(16),
        data: z.instanceof(TensorData, { message: 'must be an array of numbers' }),
        parameters: z.record(z.string(), z.unknown()).optional(),
      }),
    )
    .min(1, 'exactly one input tensor is expected')
    .max(1, 'exactly one input tensor is expected'),
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

function firstIssue(error: z.ZodError): string {
  const issue = error.issues[0];
  const path = issue.path.length ? issue.path.join('.') : '(body)';
  return `${path}: ${issue.message}`;
}

/**
 * Raw feature rows of a tabular model (count × features, row-major): any finite values, taken as
 * they are (the model standardises them itself: its graph begins with the dataset's statistics).
 */
export function toFeatureBatch(values: Float64Array, count: number, features: number): ImageBatch {
  for (let i = 0; i < count * features; i++) {
    if (!Number.isFinite(values[i])) {
      throw new InputError(
        400,
        `value ${i} (row ${Math.floor(i / features)}) is not a finite number: ${String(values[i])}`,
      );
    }
  }
  return { count, images: new Float32Array(values.subarray(0, count * features)), sentFeatures: features };
}

/**
 * An Open Inference Protocol `infer` body (JSON bytes). `tabularFeatures` given, the model is a
 * tabular dataset's: rows are that many raw feature values; otherwise images, [N, 784] or [N, 256].
 */
export function parseInferRequest(
  bytes: Uint8Array,
  tabularFeatures?: number,
  image?: ImageGeometry,
): InferRequest {
  const rowWidth = image ? Math.max(image.rawWidth * image.rawHeight, image.width * image.height) : 0;
  const spec =
    tabularFeatures === undefined && image === undefined
      ? INFER_TENSOR
      : {
          ...INFER_TENSOR,
          maxValues: MAX_IMAGES * Math.max(RAW_FEATURES, tabularFeatures ?? 0, rowWidth),
        };
  const parsed = oipRequestSchema.safeParse(parseJsonBody(bytes, spec).value);
  if (!parsed.success) throw new InputError(400, firstIssue(parsed.error));
  const req = parsed.data;
  const input = req.inputs[0];
  if (input.datatype !== 'FP32') {
    throw new InputError(400, `inputs[0].datatype must be "FP32", got ${JSON.stringify(input.datatype)}`);
  }
  const shapes = image
    ? describeImages(image)
    : tabularFeatures === undefined
      ? '[N, 784] or [N, 256]'
      : `[N, ${tabularFeatures}]`;
  if (input.shape.length !== 2) {
    throw new InputError(400, `inputs[0].shape must be ${shapes}, got ${JSON.stringify(input.shape)}`);
  }
  const [count, features] = input.shape;
  const fits = image
    ? features === image.rawWidth * image.rawHeight || features === image.width * image.height
    : tabularFeatures === undefined
      ? features === RAW_FEATURES || features === PREPROCESSED_FEATURES
      : features === tabularFeatures;
  if (!fits) {
    throw new InputError(400, `inputs[0].shape must be ${shapes}, got ${JSON.stringify(input.shape)}`);
  }
  if (count < 1 || count > MAX_IMAGES) {
    throw new InputError(400, `inputs[0].shape: N must be 1 to ${MAX_IMAGES}, got ${count}`);
  }
  const { values } = input.data;
  if (values.length !== count * features) {
    throw new InputError(
      400,
      `inputs[0].data holds ${values.length} values; shape ${JSON.stringify(input.shape)} needs ${count * features}`,
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
    batch: image
      ? toGeometryBatch(values, count, features, image)
      : tabularFeatures === undefined
        ? toImageBatch(values, count, features)
        : toFeatureBatch(values, count, features),
    inputName: input.name,
    outputs: outputs.length ? outputs : OUTPUT_NAMES,
  };
}

const PREDICT_TENSOR: TensorSpec = {
  path: ['pixels'],
  name: 'pixels',
  layout: 'rows',
  maxValues: 0,
  maxRows: MAX_IMAGES,
  maxRowLength: RAW_FEATURES,
};

const predictSchema = z.strictObject({
  pixels: z.instanceof(TensorData, {
    message: 'must be an array of images, each an array of 784 or 256 numbers',
  }),
  shared_weight: z.unknown().optional(),
  top_k: z.number().int().min(1).max(10).optional(),
});

export interface PredictRequest {
  weight: WeightChoice;
  topK: number;
  batch: ImageBatch;
}

/** `{pixels: [[784 or 256 values], …], shared_weight?, top_k?}` (JSON bytes). */
export function parsePredictJson(bytes: Uint8Array, image?: ImageGeometry): PredictRequest {
  const spec = image
    ? {
        ...PREDICT_TENSOR,
        maxRowLength: Math.max(RAW_FEATURES, image.rawWidth * image.rawHeight, image.width * image.height),
      }
    : PREDICT_TENSOR;
  const parsed = predictSchema.safeParse(parseJsonBody(bytes, spec).value);
  if (!parsed.success) throw new InputError(400, firstIssue(parsed.error));
  const { pixels } = parsed.data;
  if (pixels.rows.length === 0) throw new InputError(400, 'pixels: at least one image is needed');
  return {
    weight: parseWeight(parsed.data.shared_weight),
    topK: parsed.data.top_k ?? 3,
    batch: image
      ? toGeometryBatch(pixels.values, pixels.rows.length, pixels.rows[0], image)
      : toImageBatch(pixels.values, pixels.rows.length, pixels.rows[0]),
  };
}

/**
 * A PNG body (converted to 28×28 grey, or to the raw size of `image`'s dataset, then preprocessed).
 * Query: shared_weight, top_k.
 */
export async function parsePredictPng(
  bytes: Uint8Array,
  query: URLSearchParams,
  image?: ImageGeometry,
): Promise<PredictRequest> {
  const w = query.get('shared_weight');
  const k = query.get('top_k');
  const topK = k === null ? 3 : Number(k);
  if (!(Number.isInteger(topK) && topK >= 1 && topK <= 10)) {
    throw new InputError(400, `top_k must be an integer from 1 to 10, got ${k}`);
  }
  const weight = parseWeight(w === null || w === 'ensemble' ? w : Number(w));
  let grey: Float64Array;
  try {
    grey = image ? await pngToGrayImage(bytes, image.rawWidth, image.rawHeight) : await pngToImage28(bytes);
  } catch (e) {
    if (e instanceof PngImageError) throw new InputError(e.status, e.message);
    throw e;
  }
  return {
    weight,
    topK,
    batch: image
      ? toGeometryBatch(grey, 1, image.rawWidth * image.rawHeight, image)
      : toImageBatch(grey, 1, RAW_FEATURES),
  };
}
