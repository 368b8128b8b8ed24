/**
 * A search on an uploaded CSV dataset, end to end inside workerd: upload → build → start (the run
 * records the upload's id, its shard counts fitted to the dataset) → search with re-checks →
 * publish → `/v2` infer with RAW feature values. The served model (onnxruntime-web running the
 * published ONNX file in the inference Worker) must answer what the champion genome answers here
 * on the standardised values, which holds only if the file standardises with the manifest's
 * statistics itself.
 */
import { describe, expect, it } from 'vitest';
import type { DatasetList, ModelList, RunList, RunResource } from '../../src/api/types';
import { ensemblePredict } from '../../src/wann/accuracy';
import { parseGenome } from '../../src/wann/genome';
import { compile, forwardProbabilities, predictLabels } from '../../src/wann/network';
import { type ErrorBody, post, request, waitFor } from './helpers';
import { rawRows, scaledTable, standardisedRows, TABLE_CLASSES, uploadTable } from './tables';

const CLASSES = TABLE_CLASSES;
const FEATURES = 12;
const ROWS = 300;

interface InferAnswer {
  outputs: { name: string; shape: number[]; data: number[]; parameters?: { class_names: string[] } }[];
}

describe('a search on an uploaded CSV dataset', () => {
  it('runs, publishes, and serves a model that takes raw feature values', async () => {
    // Class bands shifted by 3 (scaledTable defaults to 2), as this test has always used.
    const { text, raw } = scaledTable(ROWS, FEATURES, 3);
    const uploaded = await uploadTable('levels', text);
    expect(uploaded.status, uploaded.error ?? '').toBe('ready');
    const manifest = uploaded.dataset!;
    expect(manifest).toMatchObject({ kind: 'tabular', features: FEATURES, classes: CLASSES });
    expect(manifest.shards.train).toBe(1);

    // Searchable: listed among the datasets a run can use.
    const list = (await (await request('/api/datasets')).json()) as DatasetList;
    expect(list.datasets.map((d) => d.name)).toContain('levels');

    // Shard counts beyond the dataset's are a 400 naming the limit.
    for (const field of ['trainShards', 'recheckBatches']) {
      const res = await post('/api/runs', { dataset: 'levels', [field]: 2 });
      expect(res.status).toBe(400);
      expect(((await res.json()) as ErrorBody).error.message).toContain(`${field}: at most 1`);
    }

    const started = await post('/api/runs', {
      dataset: 'levels',
      population: 32,
      generations: 4,
      sliceSize: 16,
      tournamentSize: 8,
      recheckEvery: 2,
      seed: 11,
      // Connected genomes from the start, ranked on accuracy alone: an empty champion would answer
      // the same whatever its input, and prove nothing about standardisation.
      initEnableProb: 0.5,
      probConnectionObjective: 0,
    });
    expect(started.status).toBe(202);
    const run = (await started.json()) as RunResource;
    // Recorded by id (a name can be reused after a delete); the defaults fitted to one shard.
    expect(run.config).toMatchObject({ dataset: uploaded.id, trainShards: 1, recheckBatches: 1 });
    const done = await waitFor(run.id, undefined, 90_000);
    expect(done.status, JSON.stringify(done)).toBe('completed');
    expect(((await (await request(`/api/runs/${run.id}/dataset`)).json()) as { name: string }).name).toBe(
      'levels',
    );
    // The runs list filters by dataset: by its name or the id the run records; not among MNIST's.
    const listed = async (dataset: string) =>
      ((await (await request(`/api/runs?dataset=${dataset}`)).json()) as RunList).runs.map((r) => r.id);
    expect(await listed('levels')).toEqual([run.id]);
    expect(await listed(uploaded.id)).toEqual([run.id]);
    expect(await listed('mnist')).not.toContain(run.id);
    expect((await request('/api/runs?dataset=Not%20a%20name')).status).toBe(400);
    // In use: not deletable.
    expect((await request('/api/datasets/levels', { method: 'DELETE' })).status).toBe(409);

    const published = await post(`/api/runs/${run.id}/publish`);
    expect([200, 201]).toContain(published.status);
    const model = ((await (await request(`/api/runs/${run.id}/models`)).json()) as ModelList).models[0];
    const genome = parseGenome(
      await (await request(`/api/runs/${run.id}/models/${model.version}/genome.json`)).json(),
    );
    expect([genome.inputs, genome.outputs]).toEqual([FEATURES, CLASSES.length]);
    expect(model.connections).toBeGreaterThan(0);

    const meta = (await (await request(`/v2/models/${run.id}`)).json()) as {
      inputs: { shape: number[] }[];
      outputs: { shape: number[] }[];
      parameters: Record<string, unknown>;
    };
    expect(meta.inputs[0].shape).toEqual([-1, FEATURES]);
    expect(meta.outputs[0].shape).toEqual([-1, CLASSES.length]);
    expect(meta.parameters).toMatchObject({
      dataset: 'levels',
      raw_input_shape: [-1, FEATURES],
      classes: CLASSES,
    });

    // Raw rows in; the champion evaluated here on standardised rows must agree.
    const rows = raw.slice(0, 60);
    const batch = standardisedRows(rows, manifest);
    const plan = compile(genome);
    const infer = async (parameters: Record<string, unknown>) => {
      const res = await post(`/v2/models/${run.id}/infer`, {
        inputs: [{ name: 'image', shape: [rows.length, FEATURES], datatype: 'FP32', data: rows }],
        parameters,
      });
      expect(res.status).toBe(200);
      return (await res.json()) as InferAnswer;
    };
    const output = (a: InferAnswer, name: string) => a.outputs.find((o) => o.name === name)!;

    const single = await infer({ shared_weight: 1 });
    expect(output(single, 'label').data).toEqual(Array.from(predictLabels(plan, batch, 1)));
    const reference = forwardProbabilities(plan, batch, 1);
    const served = output(single, 'probabilities').data;
    for (const [i, p] of served.entries()) expect(p).toBeCloseTo(reference[i], 5);
    // Fed unstandardised, the champion would answer otherwise: the test tells the two apart.
    const unstandardised = forwardProbabilities(plan, rawRows(rows), 1);
    expect(Math.max(...served.map((p, i) => Math.abs(p - unstandardised[i])))).toBeGreaterThan(1e-3);

    const ensemble = await infer({});
    const labels = Array.from(ensemblePredict(plan, batch, model.weights));
    expect(output(ensemble, 'label').data).toEqual(labels);
    expect(output(ensemble, 'label').parameters?.class_names).toEqual(labels.map((l) => CLASSES[l]));

    // The same rows standardised by the client are not what the model takes: it standardises itself.
    const wrongWidth = await post(`/v2/models/${run.id}/infer`, {
      inputs: [{ name: 'image', shape: [1, 256], datatype: 'FP32', data: Array(256).fill(0) }],
    });
    expect(wrongWidth.status).toBe(400);
    expect(((await wrongWidth.json()) as { error: string }).error).toContain(`[N, ${FEATURES}]`);

    // Image routes are refused for a table, with the reason (weight training is not: dataset-training.test.ts).
    const png = await request(`/api/runs/${run.id}/predict`, {
      method: 'POST',
      headers: { 'Content-Type': 'image/png', 'Content-Length': '4' },
      body: new Uint8Array([137, 80, 78, 71]),
    });
    expect(png.status).toBe(400);
    expect(((await png.json()) as ErrorBody).error.message).toContain(`/v2/models/${run.id}/infer`);
  });
});
