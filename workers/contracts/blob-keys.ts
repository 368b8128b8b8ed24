/**
 * Every R2 key of this project, in one place: the writer and the readers of an object derive its
 * key from the same function (population slices, dataset shards, published models, training states).
 */

/** Members [sliceStart, …) of generation `gen`, written by the slice that bred them. */
export function populationSliceKey(runId: string, gen: number, sliceStart: number): string {
  return `${populationSlicePrefix(runId)}${gen}/${sliceStart}`;
}

/** Every population slice object of a run lies under this prefix. */
export function populationSlicePrefix(runId: string): string {
  return `runs/${runId}/gen/`;
}

/**
 * The R2 folder of a dataset's shards: MNIST's stay where they always were (`shards/`), every other
 * dataset has its own (`datasets/fashion-mnist/`). Absent = MNIST.
 */
export function shardPrefix(dataset?: string): string {
  return dataset === undefined || dataset === 'mnist' ? 'shards/' : `datasets/${dataset}/`;
}

/** Training shard `index` (0-based) of `dataset` (absent: MNIST): `shards/train-07.bin`. */
export function trainShardKey(index: number, dataset?: string): string {
  return `${shardPrefix(dataset)}train-${String(index).padStart(2, '0')}.bin`;
}

/** Test shard `index` (0-based) of `dataset` (absent: MNIST): `shards/test-3.bin`. */
export function testShardKey(index: number, dataset?: string): string {
  return `${shardPrefix(dataset)}test-${index}.bin`;
}

/**
 * A dataset's class counts per split (the datasets page's balance chart), computed once from its
 * shards and kept beside them, so deleting an upload's shards deletes them too.
 */
export function classCountsKey(dataset?: string): string {
  return `${shardPrefix(dataset)}class-counts.json`;
}

/** An uploaded dataset's file as it was sent (`part`: 'train' now; a separate 'test' file later). */
export function datasetUploadKey(datasetId: string, part: 'train' | 'test'): string {
  return `${datasetUploadPrefix(datasetId)}${part}.csv`;
}

/**
 * A file of a multi-file upload as it was sent, by its role: an idx file at `uploads/{id}/images.idx`
 * and so on; a CSV table where a one-request upload keeps it (`train.csv`), its test table at `test.csv`.
 */
export function datasetFileKey(datasetId: string, role: string): string {
  if (role === 'table') return datasetUploadKey(datasetId, 'train');
  if (role === 'test-table') return datasetUploadKey(datasetId, 'test');
  return `${datasetUploadPrefix(datasetId)}${role}.idx`;
}

/** Every stored file of one upload (R2 list prefix, for deleting the dataset). */
export function datasetUploadPrefix(datasetId: string): string {
  return `uploads/${datasetId}/`;
}

/** The blobs of model version `version`: its ONNX file and its genome JSON. */
export function modelKeys(runId: string, version: number): { onnx: string; genome: string } {
  const base = `models/${runId}/${version}`;
  return { onnx: `${base}/model.onnx`, genome: `${base}/genome.json` };
}

/** Saved training state (weights + Adam moments) of version `version`'s training after `step` steps. */
export function trainingStateKey(runId: string, version: number, step: number): string {
  return `${trainingStatePrefix(runId, version)}${step}.state`;
}

/** Every saved state of one training (R2 list prefix, for cleanup when it is done). */
export function trainingStatePrefix(runId: string, version: number): string {
  return `models/${runId}/${version}/training/`;
}

/**
 * Every stored object of dataset `dataset`'s baseline (a built-in's name or an upload's id; R2 list
 * prefix, for deleting the dataset).
 */
export function datasetBaselinePrefix(dataset: string): string {
  return `baselines/${dataset}/`;
}

/** The baseline's record (status, then the figure) of procedure version `version`. */
export function datasetBaselineKey(dataset: string, version: number): string {
  return `${datasetBaselinePrefix(dataset)}v${version}.json`;
}

/** The baseline's saved progress after `epoch` epochs (between two queued chunks). */
export function datasetBaselineProgressKey(dataset: string, version: number, epoch: number): string {
  return `${datasetBaselinePrefix(dataset)}v${version}/${epoch}.progress`;
}
