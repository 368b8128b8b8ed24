/**
 * Storing a model version, the same for a publication and a trained version: its ONNX file and
 * genome JSON in R2 (`modelKeys`), its D1 `models` row, and the inference Worker told. Every step
 * can be repeated with the same result (R2 puts overwrite the same bytes, the row insert ignores an
 * existing (run, version)).
 */
import { drizzle } from 'drizzle-orm/d1';
import { models } from '../../schema/schema';
import { enabledCount, firstHidden, type Genome, genomeToJson } from '../../src/wann/genome';
import { modelKeys } from '../contracts/blob-keys';
import type { EvaluatorEnv } from '../evaluator/worker-configuration';

/**
 * What storing a model needs (publishing runs in the evaluator and, on demand, in the API). The
 * inference Worker may be absent: it is only told, so a missing one changes nothing stored.
 */
export type ModelStoreBindings = Pick<EvaluatorEnv, 'DB' | 'BLOBS'> &
  Partial<Pick<EvaluatorEnv, 'INFERENCE'>>;

/** The `models` columns that differ between a publication and a trained version. */
export type ModelFacts = Omit<
  typeof models.$inferInsert,
  'runId' | 'version' | 'onnxKey' | 'genomeKey' | 'connections' | 'hiddenNodes'
>;

/** Put the ONNX file and the genome JSON of `version` in R2, then insert its row (if new). */
export async function storeModel(
  env: ModelStoreBindings,
  model: { runId: string; version: number; genome: Genome; onnx: Uint8Array },
  facts: ModelFacts,
): Promise<void> {
  const keys = modelKeys(model.runId, model.version);
  await env.BLOBS.put(keys.onnx, model.onnx, { httpMetadata: { contentType: 'application/octet-stream' } });
  await env.BLOBS.put(keys.genome, JSON.stringify(genomeToJson(model.genome)), {
    httpMetadata: { contentType: 'application/json' },
  });
  await drizzle(env.DB)
    .insert(models)
    .values({
      runId: model.runId,
      version: model.version,
      onnxKey: keys.onnx,
      genomeKey: keys.genome,
      connections: enabledCount(model.genome),
      hiddenNodes: model.genome.acts.length - firstHidden(model.genome),
      ...facts,
    })
    .onConflictDoNothing();
}

/**
 * Tell the inference Worker that run `runId` has a new version. It caches each run's newest
 * version for up to 2 s (workers/inference/directory.ts); telling it makes the new version served
 * at once. Best effort: without it the version is still served within that bound, so a failed call
 * must not fail the work that stored the model (`what` names that work in the warning).
 */
export async function notifyInference(env: ModelStoreBindings, runId: string, what: string): Promise<void> {
  try {
    await env.INFERENCE?.modelPublished(runId);
  } catch (e) {
    console.warn(`${what}: could not notify the inference Worker: ${String(e)}`);
  }
}
