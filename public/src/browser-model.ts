/**
 * A published model run in this browser: the version's ONNX file in onnxruntime-web (wasm, one
 * thread), evaluated at every shared weight (once for a trained version) and combined exactly as the server combines them
 * (src/onnx/ensemble.ts). The draw panel and the tabular form both use it; it is loaded only with
 * them (the pages import them dynamically, so ORT stays out of the first bundle).
 */
import type * as Ort from 'onnxruntime-web';
import { combineEnsemble, type EnsembleResult } from '../../src/onnx/ensemble';
import { type ModelVersion, request } from './api';

let ortModule: Promise<typeof Ort> | null = null;

function loadOrt(): Promise<typeof Ort> {
  ortModule ??= import('onnxruntime-web/wasm').then((ort) => {
    ort.env.wasm.wasmPaths = '/build/ort/';
    ort.env.wasm.numThreads = 1;
    ort.env.wasm.proxy = false;
    return ort;
  });
  return ortModule;
}

/** The ensemble's answer for one row, and how many weights voted for its class. */
export interface BrowserPrediction extends EnsembleResult {
  /** The weights whose own argmax is the ensemble's label. */
  agree: number;
  /** Shared weights evaluated. */
  weights: number;
}

export class BrowserModel {
  private constructor(
    private readonly ort: typeof Ort,
    private readonly session: Ort.InferenceSession,
    private readonly model: ModelVersion,
  ) {}

  /** Downloads the version's ONNX file and starts a session on it. */
  static async load(model: ModelVersion): Promise<BrowserModel> {
    const ort = await loadOrt();
    const bytes = new Uint8Array(await (await request(model.urls.onnx, { accept: '*/*' })).arrayBuffer());
    const session = await ort.InferenceSession.create(bytes, { executionProviders: ['wasm'] });
    return new BrowserModel(ort, session, model);
  }

  /** One row (as the model's `image` input takes it) at every shared weight, combined. */
  async predict(x: Float32Array, classes: number): Promise<BrowserPrediction> {
    const probs: Float32Array[] = [];
    const labels: ArrayLike<number | bigint>[] = [];
    // A trained version has one weight per connection baked in: one run, no shared weight input.
    const trained = this.model.variant === 'trained' || this.model.weights.length === 0;
    for (const w of trained ? [null] : this.model.weights) {
      const out = await this.session.run({
        image: new this.ort.Tensor('float32', x, [1, x.length]),
        ...(w === null ? {} : { shared_weight: new this.ort.Tensor('float32', new Float32Array([w]), [1]) }),
      });
      probs.push(out.probabilities.data as Float32Array);
      labels.push(out.label.data as BigInt64Array);
    }
    const result = combineEnsemble(probs, labels, 1, classes);
    const winner = result.labels[0];
    const agree = labels.filter((l) => Number(l[0]) === winner).length;
    return { ...result, agree, weights: labels.length };
  }
}
