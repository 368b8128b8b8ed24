/**
 * onnxruntime-web inside workerd. Workers refuse to compile WebAssembly from bytes, so ORT's wasm
 * is imported as a module (wrangler's CompiledWasm rule) and handed to ORT's instantiate step
 * through a wrapped `WebAssembly.instantiate` (ORT 1.30 exposes no `instantiateWasm` hook); a dummy
 * `wasmBinary` makes ORT use its embedded glue instead of fetching a script (PLATFORM-NOTES §7).
 * ORT stays in this Worker alone: 14 MB of wasm and a slow first session.
 */

import ortWasm from 'onnxruntime-web/ort-wasm-simd-threaded.wasm';
import * as ort from 'onnxruntime-web/wasm';
import { batchedWeightModel, hasSharedWeightInput } from './serving-model';

let initialised = false;

function initOrt(): void {
  if (initialised) return;
  initialised = true;
  ort.env.wasm.numThreads = 1;
  ort.env.wasm.proxy = false;
  ort.env.wasm.wasmBinary = new Uint8Array(8); // dummy: selects the embedded glue, skips fetch()
  const instantiate = WebAssembly.instantiate.bind(WebAssembly) as (
    module: WebAssembly.Module,
    imports?: WebAssembly.Imports,
  ) => Promise<WebAssembly.Instance>;
  const patched = async (source: unknown, imports?: WebAssembly.Imports) => {
    if (source instanceof WebAssembly.Module) return instantiate(source, imports);
    // ORT asks to compile bytes: use the module wrangler compiled instead.
    const instance = await instantiate(ortWasm, imports);
    return { instance, module: ortWasm };
  };
  (WebAssembly as unknown as { instantiate: typeof patched }).instantiate = patched;
}

export interface ModelAnswer {
  /** count × classes, example-major. */
  probabilities: Float32Array;
  /** Argmax per example (ties → lowest class). */
  labels: Int32Array;
}

/**
 * Rows (images × weights) per `session.run`: an ensemble of up to 166 images is one run; larger
 * batches go one weight at a time, so a run's intermediate tensors stay as large as before.
 */
export const MAX_ROWS_PER_RUN = 1000;

/** One loaded model: runs the exported graph at given shared weights. */
export class LoadedModel {
  private constructor(
    private readonly session: ort.InferenceSession,
    /** Trained per-connection weights: no `shared_weight` input, one run per request (`runTrained`). */
    readonly trained: boolean,
  ) {}

  /**
   * `bytes`: the published .onnx; a shared-weight model is served through its batched-weight
   * variant (serving-model.ts), a trained one as it is.
   */
  static async load(bytes: Uint8Array): Promise<LoadedModel> {
    initOrt();
    const trained = !hasSharedWeightInput(bytes);
    const session = await ort.InferenceSession.create(trained ? bytes : batchedWeightModel(bytes), {
      executionProviders: ['wasm'],
      graphOptimizationLevel: 'all',
    });
    return new LoadedModel(session, trained);
  }

  /** Give the session's wasm memory back to onnxruntime (ModelCache, on eviction); unusable after. */
  release(): Promise<void> {
    return this.session.release();
  }

  /** A trained model's answer: one `session.run` of the images (count × features, image-major). */
  async runTrained(images: Float32Array, count: number, features: number): Promise<ModelAnswer> {
    if (!this.trained) throw new Error('runTrained: this model has a shared_weight input');
    const out = await this.session.run({ image: new ort.Tensor('float32', images, [count, features]) });
    const raw = out.label.data as BigInt64Array;
    const labels = new Int32Array(count);
    for (let i = 0; i < count; i++) labels[i] = Number(raw[i]);
    return { probabilities: out.probabilities.data as Float32Array, labels };
  }

  /**
   * One answer per weight, in order. `images`: count × features, image-major (preprocessed, values
   * in [0, 1]). Several weights share one `session.run`: the images are tiled once per weight and
   * each row gets its weight (`shared_weight` [rows, 1]); ORT's per-run overhead (~0.1 ms) was most
   * of a 1-image ensemble's inference time when each weight had a run of its own.
   */
  async runWeights(
    images: Float32Array,
    count: number,
    features: number,
    weights: readonly number[],
  ): Promise<ModelAnswer[]> {
    const perRun = Math.max(1, Math.min(weights.length, Math.floor(MAX_ROWS_PER_RUN / count)));
    const answers: ModelAnswer[] = [];
    for (let first = 0; first < weights.length; first += perRun) {
      const group = weights.slice(first, first + perRun);
      const rows = group.length * count;
      let input = images;
      if (group.length > 1) {
        input = new Float32Array(rows * features);
        for (let g = 0; g < group.length; g++) input.set(images, g * images.length);
      }
      const rowWeights = new Float32Array(rows);
      for (let g = 0; g < group.length; g++) rowWeights.fill(group[g], g * count, (g + 1) * count);
      const out = await this.session.run({
        image: new ort.Tensor('float32', input, [rows, features]),
        shared_weight: new ort.Tensor('float32', rowWeights, [rows, 1]),
      });
      const probabilities = out.probabilities.data as Float32Array;
      const raw = out.label.data as BigInt64Array;
      const classes = probabilities.length / rows;
      for (let g = 0; g < group.length; g++) {
        const labels = new Int32Array(count);
        for (let i = 0; i < count; i++) labels[i] = Number(raw[g * count + i]);
        answers.push({
          probabilities: probabilities.subarray(g * count * classes, (g + 1) * count * classes),
          labels,
        });
      }
    }
    return answers;
  }
}
