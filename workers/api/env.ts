/** Bindings of the main Worker (the API and the SearchCoordinator objects it hosts). */
import type { SearchCoordinator } from '../coordinator/search-coordinator';
import type { SettingsVars } from '../coordinator/settings';
import type InferenceWorker from '../inference/index';
import type { QueueTask } from '../shared/contracts';

export interface Env extends SettingsVars {
  COORD: DurableObjectNamespace<SearchCoordinator>;
  DB: D1Database;
  BLOBS: R2Bucket;
  EVAL_QUEUE: Queue<QueueTask>;
  /** Static assets (`public/`): dashboard, run page, scripts. */
  ASSETS: Fetcher;
  /**
   * The inference Worker (onnxruntime-web): `/v2/*` and predictions are forwarded to it (fetch);
   * publishing tells it about new versions (RPC `modelPublished`).
   */
  INFERENCE: Fetcher<InferenceWorker>;
  /** Bearer token for writes: a secret deployed, `.dev.vars` locally. */
  API_TOKEN?: string;
}
