/**
 * onnxruntime-web inside workerd. Workers refuse to compile WebAssembly from bytes, so ORT's wasm
 * is imported as a module (wrangler's CompiledWasm rule) and handed to ORT's instantiate step
 * through a wrapped `WebAssembly.instantiate` (ORT 1.30 exposes no `instantiateWasm` hook); a dummy
 * `wasmBinary` makes ORT use its embedded glue instead of fetching a script (PLATFORM-NOTES §7).
 * ORT stays in this Worker alone: 14 MB of wasm and a slow first session.
 */

import ortWasm from 'onnxruntime-web/ort-wasm-simd-threaded.wasm';
import * as ort from 'onnxruntime-web/wasm';

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

/** One loaded model: runs the exported graph at given shared weights. */
export class LoadedModel {
  /**
   * `shared_weight` tensors by value, made once: the 6 published weights recur on every ensemble
   * request. A Tensor is only read by `session.run` (copied into the wasm heap), so reuse is safe.
   */
  private readonly weightTensors = new Map<number, ort.Tensor>();

  private constructor(private readonly session: ort.InferenceSession) {}

  static async load(bytes: Uint8Array): Promise<LoadedModel> {
    initOrt();
    const session = await ort.InferenceSession.create(bytes, {
      executionProviders: ['wasm'],
      graphOptimizationLevel: 'all',
    });
    return new LoadedModel(session);
  }

  private weightTensor(weight: number): ort.Tensor {
    let t = this.weightTensors.get(weight);
    if (!t) {
      t = new ort.Tensor('float32', new Float32Array([weight]), [1]);
      // Arbitrary numeric weights may be asked for: keep the map small.
      if (this.weightTensors.size >= 64) this.weightTensors.clear();
      this.weightTensors.set(weight, t);
    }
    return t;
  }

  /**
   * One answer per weight, in order. `images`: count × features, image-major (preprocessed, values
   * in [0, 1]); wrapped in one input tensor shared by every run. The exported graph takes
   * `shared_weight` as shape [1] (not [N]), so the weights cannot be batched into a single
   * `session.run` over a tiled image without changing the published model format; each run costs
   * ~0.1 ms for one image, so 6 sequential runs are not where request time goes.
   */
  async runWeights(
    images: Float32Array,
    count: number,
    features: number,
    weights: readonly number[],
  ): Promise<ModelAnswer[]> {
    const image = new ort.Tensor('float32', images, [count, features]);
    const answers: ModelAnswer[] = [];
    for (const w of weights) {
      const out = await this.session.run({ image, shared_weight: this.weightTensor(w) });
      const probabilities = out.probabilities.data as Float32Array;
      const raw = out.label.data as BigInt64Array;
      const labels = new Int32Array(count);
      for (let i = 0; i < count; i++) labels[i] = Number(raw[i]);
      answers.push({ probabilities, labels });
    }
    return answers;
  }
}

/** Sessions per model version, kept in the isolate (least recently used dropped beyond `limit`). */
export class ModelCache {
  private readonly entries = new Map<string, Promise<LoadedModel>>();
  constructor(private readonly limit = 8) {}

  get(key: string, load: () => Promise<Uint8Array>): Promise<LoadedModel> {
    let entry = this.entries.get(key);
    if (entry) {
      this.entries.delete(key); // re-insert: most recently used last
    } else {
      entry = load().then((bytes) => LoadedModel.load(bytes));
      // A failed load is not cached: the next request tries again.
      entry.catch(() => this.entries.delete(key));
    }
    this.entries.set(key, entry);
    while (this.entries.size > this.limit) {
      const oldest = this.entries.keys().next().value as string;
      this.entries.delete(oldest);
    }
    return entry;
  }

  has(key: string): boolean {
    return this.entries.has(key);
  }
}
